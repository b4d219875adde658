/* Facts about the process's environment. */
#ifndef ACEXY_SYSINFO_H
#define ACEXY_SYSINFO_H

#include <stddef.h>

/* Usable CPUs: the affinity mask, bounded by a cgroup v2 (cpu.max) or v1
 * (cpu.cfs_quota_us / cpu.cfs_period_us) quota, rounded up; at least 1. */
int acexy_usable_cpus(void);
/* Parses the content of cgroup v2 cpu.max ("max 100000" or "150000 100000").
 * Returns CPUs (rounded up) or 0 when unlimited or malformed. Pure. */
int acexy_cgroup_cpu_max_parse(const char *text);
/* Writes "<hostname>-<pid>-<random>" (a fresh dataplane instance name). */
void acexy_instance_name(char *buf, size_t cap);
/* This container's id from /proc/self/cgroup (docker/containerd/cri-o ids),
 * else the hostname. */
void acexy_container_id(char *buf, size_t cap);
/* Raises RLIMIT_NOFILE's soft limit to its hard limit. Returns the new soft
 * limit. */
long acexy_raise_nofile(void);

#endif
