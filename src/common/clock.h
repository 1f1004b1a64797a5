/*
 * clock.h — the one monotonic clock pushbind measures durations with
 * (latencies, rates, back-off), the wall clock it stamps times with, and
 * the deadlines of POSIX timed waits.
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

/* The same clock in milliseconds: back-off and cache deadlines. */
static inline uint64_t pb_clock_ms(void)
{
    return pb_clock_ns() / 1000000;
}

/*
 * Unix seconds, for every time pushbind stores or compares with a client's
 * (bind times, tag times, expiry, signatures). Read from CLOCK_REALTIME
 * itself: time() reads the kernel's coarse copy, which lags by up to a tick,
 * so a bind made just after a second turned could be stamped with the
 * second before, one a client may already have read as passed (an
 * invalidation's invalid_since taken then would remove the bind it must keep).
 */
static inline int64_t pb_clock_unix_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec;
}

/*
 * The time `ms` milliseconds from now on CLOCK_REALTIME, the clock that
 * pthread_cond_timedwait() (default attributes) and
 * pthread_rwlock_timedwrlock() take their deadline on.
 */
static inline struct timespec pb_clock_deadline_ms(unsigned ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

#endif
