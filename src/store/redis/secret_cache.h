/*
 * store/redis/secret_cache.h — the apps' secrets a session bound to a loop
 * read lately, kept for a moment: it removes a round trip from nearly every
 * request. Private to store/redis/.
 *
 * The cache is one thread's (its session's, no lock). An entry is trusted for
 * PB_REDIS_SECRET_TTL_MS, and not at all once the process's apps epoch has
 * moved (apps_watch.h: `app add`, `app remove`, `key add` and `key revoke`
 * publish a message; a lost
 * listening connection moves it too). So a removed app or a replaced secret
 * is refused at once when the message arrives, and at the latest after the
 * TTL when it does not. Without a loop, a session caches nothing.
 */
#ifndef PB_STORE_REDIS_SECRET_CACHE_H
#define PB_STORE_REDIS_SECRET_CACHE_H

#include "store/redis/handles.h"

#define PB_REDIS_SECRET_TTL_MS 1000

/* An empty cache (malloc'ed), or NULL when out of memory; freed with pb_redis_secret_cache_free() (NULL is fine). */
pb_redis_secret_cache *pb_redis_secret_cache_new(void);
void pb_redis_secret_cache_free(pb_redis_secret_cache *cache);

/* Whether app `access_id`'s secret was read lately (true: *rc and, when 0, *secret and its packed *keys in `pool`). */
bool pb_redis_secret_cached(pb_redis_session *session, uint64_t access_id, pb_pool *pool, int *rc, pb_str *secret,
                            pb_str *keys);

/*
 * Remembers one read (rc 0 or PB_STORE_ENOTFOUND; failures are asked again)
 * made when the apps epoch was `epoch`: the secret and the named keys.
 */
void pb_redis_secret_remember(pb_redis_session *session, uint64_t access_id, uint64_t epoch, int rc, pb_str secret,
                              pb_str keys);

#endif
