/* throttle.c — failed authentication per client address (see throttle.h). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "http/throttle.h"

#define NS_PER_MINUTE 60000000000ull

/* An entry: tag (32) | minute (16) | failures (16); 0 is empty. */
#define ENTRY(tag, minute, count) ((uint64_t)(tag) << 32 | (uint64_t)((minute) & 0xffff) << 16 | (count))
#define ENTRY_TAG(e) ((uint32_t)((e) >> 32))
#define ENTRY_MINUTE(e) ((uint16_t)((e) >> 16))
#define ENTRY_COUNT(e) ((uint16_t)(e))

struct pb_throttle {
    uint32_t limit;
    uint64_t seed[2]; /* keys the hash, so that no one can aim addresses at one set */
    _Alignas(64) _Atomic uint64_t entries[PB_THROTTLE_SETS][PB_THROTTLE_WAYS];
};

pb_throttle *pb_throttle_new(uint32_t limit)
{
    pb_throttle *throttle = aligned_alloc(64, sizeof(*throttle));
    if (throttle == NULL)
        return NULL;
    memset(throttle, 0, sizeof(*throttle));
    throttle->limit = limit > 0xfffe ? 0xfffe : limit;
    if (getrandom(throttle->seed, sizeof(throttle->seed), 0) != sizeof(throttle->seed))
        throttle->seed[0] = (uint64_t)(uintptr_t)throttle, throttle->seed[1] = 0x9E3779B97F4A7C15ull;
    return throttle;
}

void pb_throttle_free(pb_throttle *throttle)
{
    free(throttle);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ x >> 31;
}

/* The address's set and its tag (never 0: 0 is an empty entry). */
static _Atomic uint64_t *set_of(pb_throttle *throttle, const pb_client_address *address, uint32_t *tag)
{
    uint64_t hi, lo;
    memcpy(&hi, address->bytes, 8);
    memcpy(&lo, address->bytes + 8, 8);
    uint64_t h = mix(mix(hi ^ throttle->seed[0]) ^ lo ^ throttle->seed[1]);
    *tag = (uint32_t)(h >> 32) | 1;
    return throttle->entries[h % PB_THROTTLE_SETS];
}

bool pb_throttle_blocked(pb_throttle *throttle, const pb_client_address *address, uint64_t now_ns)
{
    uint32_t tag;
    _Atomic uint64_t *set = set_of(throttle, address, &tag);
    uint16_t minute = (uint16_t)(now_ns / NS_PER_MINUTE);
    for (int i = 0; i < PB_THROTTLE_WAYS; i++) {
        uint64_t e = atomic_load_explicit(&set[i], memory_order_relaxed);
        if (ENTRY_TAG(e) == tag)
            return ENTRY_MINUTE(e) == minute && ENTRY_COUNT(e) >= throttle->limit;
    }
    return false;
}

/* The way to take for a new address: one of an older minute (or empty) first, else the fewest failures. */
static int victim(_Atomic uint64_t *set, uint16_t minute)
{
    int best = 0;
    uint16_t fewest = 0xffff;
    for (int i = 0; i < PB_THROTTLE_WAYS; i++) {
        uint64_t e = atomic_load_explicit(&set[i], memory_order_relaxed);
        if (e == 0 || ENTRY_MINUTE(e) != minute)
            return i;
        if (ENTRY_COUNT(e) < fewest) {
            fewest = ENTRY_COUNT(e);
            best = i;
        }
    }
    return best;
}

void pb_throttle_failed(pb_throttle *throttle, const pb_client_address *address, uint64_t now_ns)
{
    uint32_t tag;
    _Atomic uint64_t *set = set_of(throttle, address, &tag);
    uint16_t minute = (uint16_t)(now_ns / NS_PER_MINUTE);
    for (int i = 0; i < PB_THROTTLE_WAYS; i++) {
        uint64_t e = atomic_load_explicit(&set[i], memory_order_relaxed);
        while (ENTRY_TAG(e) == tag) {
            uint64_t next = ENTRY_MINUTE(e) != minute ? ENTRY(tag, minute, 1)
                            : ENTRY_COUNT(e) == 0xffff ? e
                                                       : e + 1;
            if (atomic_compare_exchange_weak_explicit(&set[i], &e, next, memory_order_relaxed,
                                                      memory_order_relaxed))
                return;
        }
    }
    /* A lost race here costs one count, or one evicted entry: no lock for that. */
    int way = victim(set, minute);
    atomic_store_explicit(&set[way], ENTRY(tag, minute, 1), memory_order_relaxed);
}
