/* SPDX-License-Identifier: GPL-2.0-only */
/* The clocks berth reads: one place, so every part counts time alike. */
#ifndef BERTH_CLOCK_H
#define BERTH_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds of clock (CLOCK_MONOTONIC is bpf_ktime_get_ns()'s). */
static inline int64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Milliseconds of CLOCK_MONOTONIC: timeouts, backoff, expiry. */
static inline int64_t monotonic_ms(void)
{
	return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

#endif
