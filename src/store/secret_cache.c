/* store/secret_cache.c — the apps' secrets a loop's session read lately (see secret_cache.h). */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "store/secret_cache.h"

#define PB_SECRET_SLOTS 256 /* direct-mapped: a collision only costs a read */

typedef struct cached_secret {
    uint64_t access_id;
    uint64_t expires_ms; /* 0: empty */
    uint64_t epoch;
    int rc;       /* PB_STORE_OK or PB_STORE_ENOTFOUND */
    char *secret; /* malloc'ed, when rc is PB_STORE_OK: the secret, then the packed named keys */
    size_t len, keys_len;
} cached_secret;

struct pb_secret_cache {
    cached_secret slots[PB_SECRET_SLOTS];
};

pb_secret_cache *pb_secret_cache_new(void)
{
    return calloc(1, sizeof(pb_secret_cache));
}

void pb_secret_cache_free(pb_secret_cache *cache)
{
    if (cache == NULL)
        return;
    for (size_t i = 0; i < PB_SECRET_SLOTS; i++)
        free(cache->slots[i].secret);
    free(cache);
}

static cached_secret *slot_of(pb_secret_cache *cache, uint64_t access_id)
{
    return &cache->slots[(access_id * 0x9E3779B97F4A7C15ull) >> 56 & (PB_SECRET_SLOTS - 1)];
}

bool pb_secret_cached(pb_secret_cache *cache, uint64_t access_id, uint64_t epoch, pb_pool *pool, int *rc,
                      pb_str *secret, pb_str *keys)
{
    if (cache == NULL)
        return false;
    const cached_secret *entry = slot_of(cache, access_id);
    if (entry->expires_ms == 0 || entry->access_id != access_id || entry->expires_ms <= pb_clock_ms() ||
        entry->epoch != epoch)
        return false;
    *rc = entry->rc;
    if (entry->rc == PB_STORE_OK) {
        *secret = pb_pool_strdup(pool, (pb_str){entry->secret, entry->len});
        *keys = entry->keys_len == 0 ? (pb_str){NULL, 0}
                                     : pb_pool_strdup(pool, (pb_str){entry->secret + entry->len, entry->keys_len});
    }
    return true;
}

void pb_secret_remember(pb_secret_cache *cache, uint64_t access_id, uint64_t epoch, int rc, pb_str secret,
                        pb_str keys)
{
    if (cache == NULL || (rc != PB_STORE_OK && rc != PB_STORE_ENOTFOUND))
        return; /* a failure is asked again */
    cached_secret *entry = slot_of(cache, access_id);
    char *copy = NULL;
    size_t len = 0, keys_len = 0;
    if (rc == PB_STORE_OK) {
        len = secret.len;
        keys_len = keys.len;
        if ((copy = malloc(len + keys_len + 1)) == NULL)
            return;
        memcpy(copy, secret.base, len);
        if (keys_len != 0)
            memcpy(copy + len, keys.base, keys_len);
        copy[len + keys_len] = '\0';
    }
    free(entry->secret);
    *entry = (cached_secret){.access_id = access_id, .expires_ms = pb_clock_ms() + PB_SECRET_TTL_MS, .epoch = epoch,
                             .rc = rc, .secret = copy, .len = len, .keys_len = keys_len};
}
