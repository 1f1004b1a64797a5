/*
 * clock.h — the one monotonic clock pushbind measures durations with
 * (latencies, rates, back-off). Never for wall-clock time.
 */
#ifndef PB_CLOCK_H
#define PB_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Monotonic nanoseconds since an unspecified start. */
static inline uint64_t pb_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif
