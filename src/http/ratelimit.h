/*
 * ratelimit.h — per-app request rate limiting (docs/API.md: 1008028, request too
 * fast; off unless configured).
 *
 * Each app has one budget shared by every event-loop thread, so the rate
 * holds however the kernel spreads its connections. The budget is a
 * generic-cell-rate (token bucket) check: an app that has been quiet may send
 * `burst` requests at once, then one per 1/rate seconds. Apps are hashed onto
 * PB_RATE_STRIPES locks, so threads serving different apps rarely meet and
 * there is no global lock on the request path.
 *
 * An app's state is created on its first authenticated request and lives as
 * long as the limiter (one small record per app that ever called).
 *
 * Thread rules: pb_rate_limiter_allow() may be called from any thread.
 */
#ifndef PB_RATELIMIT_H
#define PB_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define PB_RATE_STRIPES 64

typedef struct pb_rate_limiter pb_rate_limiter;

/* A limiter for `rate` requests per second with bursts of `burst` (both > 0); NULL when out of memory. */
pb_rate_limiter *pb_rate_limiter_new(uint32_t rate, uint32_t burst);

void pb_rate_limiter_free(pb_rate_limiter *limiter);

/*
 * Spends one request of app `access_id` at `now_ns` (a monotonic clock, in
 * nanoseconds). Returns true when the app is within its rate, false when the
 * request must be refused (nothing is spent then). When memory for a new app
 * cannot be had, the request is allowed.
 */
bool pb_rate_limiter_allow(pb_rate_limiter *limiter, uint64_t access_id, uint64_t now_ns);

#endif
