/*
 * store/redis/handles.h — what the Redis backend's handles (redis.h) hold:
 * the store, shared by its sessions, and a session, one thread's. Private to
 * store/redis/. The key layout is in keyspace.h; docs/design.md explains the
 * write protocol and each failure case.
 *
 * Who owns what: the store owns its two background threads, started by the
 * first session bound to a loop (the apps watch, apps_watch.h; the sweeper,
 * sweeper.h); a session owns its blocking connections and, while bound to an
 * event loop (redis.c), that loop's two sets of connections
 * (net/async_cluster.h) and its secret cache (store/secret_cache.h).
 */
#ifndef PB_STORE_REDIS_HANDLES_H
#define PB_STORE_REDIS_HANDLES_H

#include <pthread.h>

#include "store/redis/net/cluster.h"
#include "store/redis/redis.h"
#include "store/redis/scripts.h"
#include "store/secret_cache.h"

#define PB_REDIS_DEFAULT_NAMESPACE "pushbind"
#define PB_REDIS_DEFAULT_TIMEOUT_MS 2000

typedef struct pb_redis_apps_watch pb_redis_apps_watch;     /* apps_watch.h: the store's */
typedef struct pb_redis_sweeper pb_redis_sweeper;           /* sweeper.h: the store's */
typedef struct pb_redis_aconn pb_redis_aconn;               /* net/async_cluster.h: a bound session's */

struct pb_redis_store {
    pb_redis_target target;
    char *prefix; /* the namespace, malloc'ed */
    pb_store_limits limits;
    int64_t binding_ttl;    /* seconds; 0: bindings never expire */
    unsigned wait_replicas; /* WAIT for this many replicas after each batch (0: don't) */
    bool wait_all;          /* ?wait=all: WAIT for every replica the slot map lists for the node written */
    pb_redis_scripts scripts;
    pb_metrics *metrics;
    pthread_mutex_t lazy_lock;  /* guards starting the two below */
    pb_redis_apps_watch *watch; /* started by the first session bound to a loop */
    pb_redis_sweeper *sweeper;  /* likewise: expiry (with a binding TTL), deleted tags' pairs */
};

/* Whether batches wait for replicas before they are acknowledged (?wait=N with N > 0, or ?wait=all). */
static inline bool pb_redis_waits(const struct pb_redis_store *store)
{
    return store->wait_replicas != 0 || store->wait_all;
}

struct pb_redis_view {
    pb_redis_session *session;
};

struct pb_redis_session {
    pb_redis_store *store;
    pb_redis_conn conn;
    pb_pool pool; /* scratch for one call, and the strings of the open view */
    bool view_open;
    pb_redis_view view;
    /* Bound to an event loop (pb_redis_session_attach_loop()): */
    pb_redis_aconn *aconn;          /* the loop's connections for lookups; NULL when not bound */
    pb_redis_aconn *wconn;          /* and for writes (apply_carriers.c): WAIT holds them up */
    pb_secret_cache *secrets;       /* apps' secrets read lately by this thread */
};

#endif
