#include "acexy/sysinfo.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int read_small_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	return 0;
}

int acexy_cgroup_cpu_max_parse(const char *text)
{
	char quota[32];
	unsigned long long period;
	if (sscanf(text, "%31s %llu", quota, &period) != 2 || period == 0)
		return 0;
	if (strcmp(quota, "max") == 0)
		return 0;
	char *end;
	unsigned long long q = strtoull(quota, &end, 10);
	if (*end || q == 0)
		return 0;
	unsigned long long cpus = (q + period - 1) / period;
	return cpus > 4096 ? 4096 : (int)cpus;
}

int acexy_usable_cpus(void)
{
	int n = 1;
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = (int)sysconf(_SC_NPROCESSORS_ONLN);
	char buf[128];
	int quota = 0;
	if (read_small_file("/sys/fs/cgroup/cpu.max", buf, sizeof(buf)) == 0) {
		quota = acexy_cgroup_cpu_max_parse(buf);
	} else {
		char p[64];
		long long q = -1, per = 0;
		if (read_small_file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", buf, sizeof(buf)) == 0)
			q = atoll(buf);
		if (read_small_file("/sys/fs/cgroup/cpu/cpu.cfs_period_us", p, sizeof(p)) == 0)
			per = atoll(p);
		if (q > 0 && per > 0)
			quota = (int)((q + per - 1) / per);
	}
	if (quota > 0 && quota < n)
		n = quota;
	return n < 1 ? 1 : n;
}

static void hostname_clean(char *buf, size_t cap)
{
	if (gethostname(buf, cap) != 0 || !*buf)
		snprintf(buf, cap, "host");
	buf[cap - 1] = '\0';
	for (char *c = buf; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_')
			*c = '-';
}

void acexy_instance_name(char *buf, size_t cap)
{
	char host[40];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	unsigned r = (unsigned)ts.tv_nsec ^ ((unsigned)getpid() << 16);
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &r, sizeof(r)) != (ssize_t)sizeof(r))
			r ^= (unsigned)ts.tv_sec;
		close(fd);
	}
	hostname_clean(host, sizeof(host));
	snprintf(buf, cap, "%s-%d-%06x", host, (int)getpid(), r & 0xffffff);
}

void acexy_container_id(char *buf, size_t cap)
{
	char cg[4096];
	if (read_small_file("/proc/self/cgroup", cg, sizeof(cg)) == 0) {
		/* look for a 64-hex run: docker-<id>.scope, /docker/<id>, cri-containerd-<id> */
		for (char *p = cg; *p; p++) {
			size_t n = 0;
			while (isxdigit((unsigned char)p[n]) && !isupper((unsigned char)p[n]))
				n++;
			if (n == 64) {
				snprintf(buf, cap, "%.64s", p);
				return;
			}
			if (n > 0)
				p += n - 1;
		}
	}
	hostname_clean(buf, cap);
}

long acexy_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (long)rl.rlim_cur;
}
