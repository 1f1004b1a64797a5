/*
 * store/secret_cache.h — the apps' secrets a session bound to a loop read
 * lately, kept for a moment: it removes a round trip from nearly every
 * request. Private to store/; the Redis and PostgreSQL backends each give a
 * bound session one.
 *
 * A cache is one thread's (its session's, no lock). An entry is trusted for
 * PB_SECRET_TTL_MS, and not at all once the process's apps epoch has moved
 * (the backend's watch counts the changes it is told of: Redis,
 * redis/apps_watch.h: `app add`, `app remove`, `key add` and `key revoke`
 * publish a message; PostgreSQL, postgres/watch.c: app_put() and
 * app_remove() NOTIFY; a lost listening connection moves it too). So a
 * removed app or a replaced secret is refused at once when the message
 * arrives, and at the latest after the TTL when it does not. A secret
 * lookup answered from the cache says so (pb_store_lookup.cached), and one
 * asked `fresh` does not read it. Without a loop a session has no cache
 * (NULL), and caches nothing.
 */
#ifndef PB_STORE_SECRET_CACHE_H
#define PB_STORE_SECRET_CACHE_H

#include "store/store.h"

#define PB_SECRET_TTL_MS 1000

typedef struct pb_secret_cache pb_secret_cache;

/* An empty cache (malloc'ed), or NULL when out of memory; freed with pb_secret_cache_free() (NULL is fine). */
pb_secret_cache *pb_secret_cache_new(void);
void pb_secret_cache_free(pb_secret_cache *cache);

/*
 * Whether app `access_id`'s secret was read lately, at the apps epoch that is
 * `epoch` now (true: *rc and, when 0, *secret and its packed *keys in `pool`).
 * A NULL cache holds nothing.
 */
bool pb_secret_cached(pb_secret_cache *cache, uint64_t access_id, uint64_t epoch, pb_pool *pool, int *rc,
                      pb_str *secret, pb_str *keys);

/*
 * Remembers one read (rc 0 or PB_STORE_ENOTFOUND; failures are asked again)
 * made when the apps epoch was `epoch`: the secret and the named keys
 * (copied; read only when rc is 0). A NULL cache remembers nothing.
 */
void pb_secret_remember(pb_secret_cache *cache, uint64_t access_id, uint64_t epoch, int rc, pb_str secret,
                        pb_str keys);

#endif
