/*
 * throttle.h — failed authentication per client address (serve
 * --auth-failures N).
 *
 * Policy: an address may fail authentication N times in a minute (a fixed
 * window: the minutes of the monotonic clock). Past N, every request from it
 * is answered 1008028 without any key being checked, until the minute ends;
 * the next minute it has N tries again. So a guesser gets at most N tries a
 * minute per address, and a right key from another address is never slowed.
 *
 * Memory is fixed: PB_THROTTLE_SETS sets of PB_THROTTLE_WAYS entries, one
 * 64-bit word each (a 32-bit tag of the address's keyed hash, the minute,
 * the count), shared by every thread with no lock: a check is a few atomic
 * loads of one cache line, a failure one compare-and-swap. An address that
 * fails takes an entry of its set, the one of an older minute first, else
 * the one with the fewest failures (so a flood of addresses may evict a slow
 * guesser: the bound on memory is the price). Two addresses with the same
 * set and tag (one chance in 2^32 per pair; the hash is keyed per process)
 * share a count.
 *
 * Thread rules: every function but new and free may run on any thread.
 */
#ifndef PB_THROTTLE_H
#define PB_THROTTLE_H

#include <stdbool.h>
#include <stdint.h>

#include "http/client.h"

#define PB_THROTTLE_SETS 4096
#define PB_THROTTLE_WAYS 4

typedef struct pb_throttle pb_throttle;

/* A throttle allowing `limit` (> 0) failures a minute per address; NULL when out of memory. */
pb_throttle *pb_throttle_new(uint32_t limit);
void pb_throttle_free(pb_throttle *throttle);

/* Whether `address` is over its failures this minute (`now_ns`: pb_clock_ns()). */
bool pb_throttle_blocked(pb_throttle *throttle, const pb_client_address *address, uint64_t now_ns);

/* Counts one failed authentication of `address`. */
void pb_throttle_failed(pb_throttle *throttle, const pb_client_address *address, uint64_t now_ns);

#endif
