/* Replays fuzz inputs through LLVMFuzzerTestOneInput in builds without
 * libFuzzer (gcc). Each argument is a file; directories are expanded by
 * replay.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

int main(int argc, char **argv)
{
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) {
			perror(argv[i]);
			return 1;
		}
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0;
		for (;;) {
			if (len == cap) {
				cap = cap ? cap * 2 : 4096;
				uint8_t *nb = realloc(buf, cap);
				if (!nb) {
					fclose(f);
					free(buf);
					return 1;
				}
				buf = nb;
			}
			size_t n = fread(buf + len, 1, cap - len, f);
			if (n == 0)
				break;
			len += n;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
	}
	printf("replayed %d inputs\n", argc - 1);
	return 0;
}
