/* store/redis/secret_cache.c — the apps' secrets a loop's session read lately (see secret_cache.h). */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "store/redis/apps_watch.h"
#include "store/redis/secret_cache.h"

#define PB_REDIS_SECRET_SLOTS 256 /* direct-mapped: a collision only costs a read */

typedef struct cached_secret {
    uint64_t access_id;
    uint64_t expires_ms; /* 0: empty */
    uint64_t epoch;
    int rc; /* PB_STORE_OK or PB_STORE_ENOTFOUND */
    char *secret; /* malloc'ed, when rc is PB_STORE_OK: the secret, then the packed keys */
    size_t len, keys_len;
} cached_secret;

struct pb_redis_secret_cache {
    cached_secret slots[PB_REDIS_SECRET_SLOTS];
};

pb_redis_secret_cache *pb_redis_secret_cache_new(void)
{
    return calloc(1, sizeof(pb_redis_secret_cache));
}

void pb_redis_secret_cache_free(pb_redis_secret_cache *cache)
{
    if (cache == NULL)
        return;
    for (size_t i = 0; i < PB_REDIS_SECRET_SLOTS; i++)
        free(cache->slots[i].secret);
    free(cache);
}

static cached_secret *slot_of(pb_redis_secret_cache *cache, uint64_t access_id)
{
    return &cache->slots[(access_id * 0x9E3779B97F4A7C15ull) >> 56 & (PB_REDIS_SECRET_SLOTS - 1)];
}

bool pb_redis_secret_cached(pb_redis_session *session, uint64_t access_id, pb_pool *pool, int *rc, pb_str *secret,
                            pb_str *keys)
{
    if (session->secrets == NULL)
        return false;
    cached_secret *entry = slot_of(session->secrets, access_id);
    if (entry->expires_ms == 0 || entry->access_id != access_id || entry->expires_ms <= pb_clock_ms() ||
        entry->epoch != pb_redis_apps_epoch(session->store->watch))
        return false;
    *rc = entry->rc;
    if (entry->rc == PB_STORE_OK) {
        *secret = pb_pool_strdup(pool, (pb_str){entry->secret, entry->len});
        *keys = entry->keys_len == 0 ? (pb_str){NULL, 0}
                                     : pb_pool_strdup(pool, (pb_str){entry->secret + entry->len, entry->keys_len});
    }
    return true;
}

void pb_redis_secret_remember(pb_redis_session *session, uint64_t access_id, uint64_t epoch, int rc, pb_str secret,
                              pb_str keys)
{
    if (session->secrets == NULL || (rc != PB_STORE_OK && rc != PB_STORE_ENOTFOUND))
        return; /* a failure is asked again */
    cached_secret *entry = slot_of(session->secrets, access_id);
    char *copy = NULL;
    if (rc == PB_STORE_OK && (copy = malloc(secret.len + keys.len + 1)) == NULL)
        return;
    if (copy != NULL) {
        memcpy(copy, secret.base, secret.len);
        if (keys.len != 0)
            memcpy(copy + secret.len, keys.base, keys.len);
        copy[secret.len + keys.len] = '\0';
    }
    free(entry->secret);
    *entry = (cached_secret){.access_id = access_id, .expires_ms = pb_clock_ms() + PB_REDIS_SECRET_TTL_MS,
                             .epoch = epoch, .rc = rc, .secret = copy, .len = secret.len, .keys_len = keys.len};
}
