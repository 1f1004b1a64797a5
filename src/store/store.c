/*
 * store.c — pb_store_* over the backend the configuration names: the
 * embedded LMDB store (config->data_dir), or by config->url's scheme Redis
 * (redis://, redis-cluster://) or PostgreSQL (postgresql://, postgres://). Each call is
 * handed to the backend's function of the same contract; a switch rather
 * than a table of function pointers keeps every call type-checked against
 * the backend's own handle types.
 */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/lmdb/backend.h"
#include "store/postgres/postgres.h"
#include "store/redis/redis.h"

typedef enum backend_kind { BACKEND_LMDB, BACKEND_REDIS, BACKEND_POSTGRES } backend_kind;

struct pb_store {
    backend_kind kind;
    pb_store_limits limits;
    union {
        pb_lmdb_store *lmdb;
        pb_redis_store *redis;
        pb_pg_store *postgres;
    } impl;
};

struct pb_store_view {
    pb_store_session *session;
    union {
        pb_lmdb_view *lmdb;
        pb_redis_view *redis;
        pb_pg_session *postgres;
    } impl;
};

struct pb_store_session {
    backend_kind kind;
    const pb_store *store;
    union {
        pb_lmdb_session *lmdb;
        pb_redis_session *redis;
        pb_pg_session *postgres;
    } impl;
    pb_store_view view; /* the session's one view */
};

pb_store *pb_store_open(const pb_store_config *config, char **err)
{
    /* Every backend takes the same limits: a limit of 0 would refuse every bind. */
    if (config->limits.max_accounts_per_token == 0 || config->limits.max_tokens_per_account == 0) {
        if (err != NULL)
            *err = strdup("invalid limits: accounts per token and tokens per account are at least 1");
        return NULL;
    }
    pb_store *store = calloc(1, sizeof(*store));
    if (store == NULL) {
        if (err != NULL)
            *err = strdup("out of memory");
        return NULL;
    }
    store->limits = config->limits;
    if (config->url != NULL && pb_pg_url_is(config->url)) {
        store->kind = BACKEND_POSTGRES;
        store->impl.postgres = pb_pg_open(config, err);
    } else if (config->url != NULL) {
        store->kind = BACKEND_REDIS;
        store->impl.redis = pb_redis_open(config, err);
    } else {
        store->kind = BACKEND_LMDB;
        store->impl.lmdb = pb_lmdb_open(config, err);
    }
    if (store->impl.lmdb == NULL) { /* the union's members are one pointer */
        free(store);
        return NULL;
    }
    return store;
}

void pb_store_close(pb_store *store)
{
    if (store == NULL)
        return;
    if (store->kind == BACKEND_POSTGRES)
        pb_pg_close(store->impl.postgres);
    else if (store->kind == BACKEND_REDIS)
        pb_redis_close(store->impl.redis);
    else
        pb_lmdb_close(store->impl.lmdb);
    free(store);
}

pb_store_session *pb_store_session_open(pb_store *store)
{
    pb_store_session *session = calloc(1, sizeof(*session));
    if (session == NULL)
        return NULL;
    session->kind = store->kind;
    session->store = store;
    session->view.session = session;
    if (store->kind == BACKEND_POSTGRES)
        session->impl.postgres = pb_pg_session_open(store->impl.postgres);
    else if (store->kind == BACKEND_REDIS)
        session->impl.redis = pb_redis_session_open(store->impl.redis);
    else
        session->impl.lmdb = pb_lmdb_session_open(store->impl.lmdb);
    if (session->impl.lmdb == NULL) {
        free(session);
        return NULL;
    }
    return session;
}

void pb_store_session_close(pb_store_session *session)
{
    if (session == NULL)
        return;
    if (session->kind == BACKEND_POSTGRES)
        pb_pg_session_close(session->impl.postgres);
    else if (session->kind == BACKEND_REDIS)
        pb_redis_session_close(session->impl.redis);
    else
        pb_lmdb_session_close(session->impl.lmdb);
    free(session);
}

const char *pb_store_session_error(const pb_store_session *session)
{
    if (session->kind == BACKEND_POSTGRES)
        return pb_pg_session_error(session->impl.postgres);
    if (session->kind == BACKEND_REDIS)
        return pb_redis_session_error(session->impl.redis);
    return pb_lmdb_session_error(session->impl.lmdb);
}

const pb_store_limits *pb_store_limits_of(const pb_store_session *session)
{
    return &session->store->limits;
}

/* A session not bound to a loop (or the embedded store) pings, waiting. */
static int ping_waiting(pb_store_session *session)
{
    if (session->kind == BACKEND_POSTGRES)
        return pb_pg_ping(session->impl.postgres);
    if (session->kind == BACKEND_REDIS)
        return pb_redis_ping(session->impl.redis);
    return pb_lmdb_ping(session->impl.lmdb);
}

int pb_store_space_of(pb_store_session *session, pb_store_space *space)
{
    if (session->kind != BACKEND_LMDB)
        return PB_STORE_EINVAL;
    return pb_lmdb_space_of(session->impl.lmdb, space);
}

pb_store_view *pb_store_view_begin(pb_store_session *session)
{
    pb_store_view *view = &session->view;
    if (session->kind == BACKEND_POSTGRES) {
        view->impl.postgres = pb_pg_view_begin(session->impl.postgres);
        return view->impl.postgres != NULL ? view : NULL;
    }
    if (session->kind == BACKEND_REDIS) {
        view->impl.redis = pb_redis_view_begin(session->impl.redis);
        return view->impl.redis != NULL ? view : NULL;
    }
    view->impl.lmdb = pb_lmdb_view_begin(session->impl.lmdb);
    return view->impl.lmdb != NULL ? view : NULL;
}

void pb_store_view_end(pb_store_view *view)
{
    if (view->session->kind == BACKEND_POSTGRES)
        pb_pg_view_end(view->impl.postgres);
    else if (view->session->kind == BACKEND_REDIS)
        pb_redis_view_end(view->impl.redis);
    else
        pb_lmdb_view_end(view->impl.lmdb);
}

int pb_store_app_secret(pb_store_view *view, uint64_t access_id, pb_str *secret)
{
    pb_str keys;
    if (view->session->kind == BACKEND_POSTGRES)
        return pb_pg_app_secret(view->impl.postgres, access_id, secret, NULL);
    if (view->session->kind == BACKEND_REDIS)
        return pb_redis_app_secret(view->impl.redis, access_id, NULL, secret, &keys);
    return pb_lmdb_app_secret(view->impl.lmdb, access_id, secret);
}

/* A SECRET lookup: the secret and, in the same view, the packed named keys in `pool`. */
static int app_secret_and_keys(pb_store_view *view, uint64_t access_id, pb_pool *pool, pb_str *secret, pb_str *keys)
{
    *keys = (pb_str){NULL, 0};
    if (view->session->kind == BACKEND_POSTGRES)
        return pb_pg_app_secret(view->impl.postgres, access_id, secret, keys);
    if (view->session->kind == BACKEND_REDIS)
        return pb_redis_app_secret(view->impl.redis, access_id, pool, secret, keys);
    int rc = pb_lmdb_app_secret(view->impl.lmdb, access_id, secret);
    return rc == 0 ? pb_lmdb_app_keys(view->impl.lmdb, access_id, pool, keys) : rc;
}

int pb_store_app_of(pb_store_view *view, uint64_t access_id, pb_app_info *app)
{
    if (view->session->kind == BACKEND_POSTGRES)
        return pb_pg_app_of(view->impl.postgres, access_id, app);
    if (view->session->kind == BACKEND_REDIS)
        return pb_redis_app_of(view->impl.redis, access_id, app);
    return pb_lmdb_app_of(view->impl.lmdb, access_id, app);
}

int pb_store_tokens_of(pb_store_view *view, uint64_t access_id, const pb_account *accounts, size_t n,
                       bool with_info, pb_pool *pool, pb_token_list *out)
{
    if (view->session->kind == BACKEND_POSTGRES)
        return pb_pg_tokens_of(view->impl.postgres, access_id, accounts, n, with_info, pool, out);
    if (view->session->kind == BACKEND_REDIS)
        return pb_redis_tokens_of(view->impl.redis, access_id, accounts, n, with_info, pool, out);
    return pb_lmdb_tokens_of(view->impl.lmdb, access_id, accounts, n, with_info, pool, out);
}

int pb_store_accounts_of(pb_store_view *view, uint64_t access_id, const pb_str *tokens, size_t n,
                         bool with_info, pb_pool *pool, pb_account_list *out)
{
    if (view->session->kind == BACKEND_POSTGRES)
        return pb_pg_accounts_of(view->impl.postgres, access_id, tokens, n, with_info, pool, out);
    if (view->session->kind == BACKEND_REDIS)
        return pb_redis_accounts_of(view->impl.redis, access_id, tokens, n, with_info, pool, out);
    return pb_lmdb_accounts_of(view->impl.lmdb, access_id, tokens, n, with_info, pool, out);
}

int pb_store_account_types(pb_store_view *view, uint64_t access_id, size_t max, pb_pool *pool, uint32_t **types,
                           size_t *n)
{
    *types = NULL;
    *n = 0;
    if (view->session->kind == BACKEND_POSTGRES)
        return pb_pg_account_types(view->impl.postgres, access_id, max, pool, types, n);
    if (view->session->kind == BACKEND_REDIS)
        return pb_redis_account_types(view->impl.redis, access_id, max, pool, types, n);
    return pb_lmdb_account_types(view->impl.lmdb, access_id, max, pool, types, n);
}

/* An APPS lookup's records, gathered into its pool by pb_store_app_list()'s visitor. */
typedef struct apps_gather {
    pb_store_lookup *lookup;
    pb_pool *pool;
} apps_gather;

static void gather_app(void *arg, const pb_app_info *app)
{
    apps_gather *g = arg;
    pb_store_lookup *lookup = g->lookup;
    lookup->apps = pb_pool_grow(g->pool, lookup->apps, lookup->n_apps, sizeof(*lookup->apps));
    lookup->apps[lookup->n_apps++] = *app;
}

/* APPS in a session that waits (or the embedded store, which answers at once). */
static void apps_waiting(pb_store_session *session, pb_store_lookup *lookup, pb_pool *pool)
{
    apps_gather g = {.lookup = lookup, .pool = pool};
    lookup->apps = NULL;
    lookup->n_apps = 0;
    lookup->result = pb_store_app_list(session, gather_app, &g);
    if (lookup->result != PB_STORE_OK) {
        lookup->apps = NULL;
        lookup->n_apps = 0;
    }
}

/* The synchronous reads in one view; what every backend does today. */
static void lookup_in_view(pb_store_view *view, pb_store_lookup *lookup, pb_pool *pool)
{
    switch (lookup->kind) {
    case PB_LOOKUP_SECRET:
        lookup->result = app_secret_and_keys(view, lookup->access_id, pool, &lookup->secret, &lookup->keys);
        return;
    case PB_LOOKUP_APP:
        lookup->result = pb_store_app_of(view, lookup->access_id, &lookup->app);
        return;
    case PB_LOOKUP_PING:
    case PB_LOOKUP_APPS:
        break; /* answered without a view, in pb_store_lookup_start() */
    case PB_LOOKUP_TOKENS_OF:
        lookup->token_lists = pb_pool_alloc(pool, lookup->n * sizeof(*lookup->token_lists));
        lookup->result = pb_store_tokens_of(view, lookup->access_id, lookup->accounts, lookup->n, lookup->with_info,
                                            pool, lookup->token_lists);
        return;
    case PB_LOOKUP_TYPES:
        lookup->result = pb_store_account_types(view, lookup->access_id, lookup->n, pool, &lookup->types,
                                                &lookup->n_types);
        return;
    case PB_LOOKUP_ACCOUNTS_OF:
        lookup->account_lists = pb_pool_alloc(pool, lookup->n * sizeof(*lookup->account_lists));
        lookup->result = pb_store_accounts_of(view, lookup->access_id, lookup->tokens, lookup->n, lookup->with_info,
                                              pool, lookup->account_lists);
        return;
    }
    lookup->result = PB_STORE_EINVAL;
}

int pb_store_session_attach_loop(pb_store_session *session, void *loop)
{
    if (session->kind == BACKEND_POSTGRES)
        return pb_pg_session_attach_loop(session->impl.postgres, loop);
    if (session->kind == BACKEND_REDIS)
        return pb_redis_session_attach_loop(session->impl.redis, loop);
    pb_lmdb_keep_snapshot(session->impl.lmdb, true);
    return PB_STORE_OK;
}

void pb_store_session_detach_loop(pb_store_session *session)
{
    if (session->kind == BACKEND_POSTGRES)
        pb_pg_session_detach_loop(session->impl.postgres);
    else if (session->kind == BACKEND_REDIS)
        pb_redis_session_detach_loop(session->impl.redis);
    else
        pb_lmdb_keep_snapshot(session->impl.lmdb, false);
}

void pb_store_session_turn_done(pb_store_session *session)
{
    if (session->kind == BACKEND_LMDB)
        pb_lmdb_turn_done(session->impl.lmdb);
}

void pb_store_lookup_start(pb_store_session *session, pb_store_lookup *lookup, pb_pool *pool,
                           pb_store_lookup_done *done, void *arg)
{
    if (session->kind == BACKEND_REDIS && pb_redis_session_bound(session->impl.redis)) {
        pb_redis_lookup_start(session->impl.redis, lookup, pool, done, arg);
        return;
    }
    if (session->kind == BACKEND_POSTGRES && pb_pg_session_bound(session->impl.postgres)) {
        pb_pg_lookup_start(session->impl.postgres, lookup, pool, done, arg);
        return;
    }
    if (lookup->kind == PB_LOOKUP_PING) {
        lookup->result = ping_waiting(session);
        done(arg, lookup);
        return;
    }
    if (lookup->kind == PB_LOOKUP_APPS) {
        apps_waiting(session, lookup, pool);
        done(arg, lookup);
        return;
    }
    pb_store_view *view = pb_store_view_begin(session);
    if (view == NULL) {
        lookup->result = PB_STORE_EIO;
        done(arg, lookup);
        return;
    }
    lookup_in_view(view, lookup, pool);
    if (lookup->kind == PB_LOOKUP_SECRET || lookup->kind == PB_LOOKUP_APP || lookup->kind == PB_LOOKUP_TYPES) {
        /* copied, so that done() may start the request's next lookup */
        if (lookup->kind == PB_LOOKUP_SECRET && lookup->result == PB_STORE_OK) {
            lookup->secret = pb_pool_strdup(pool, lookup->secret);
            if (lookup->keys.len != 0) /* PostgreSQL's are in the view's pool */
                lookup->keys = pb_pool_strdup(pool, lookup->keys);
        }
        pb_store_view_end(view);
        done(arg, lookup);
        return;
    }
    done(arg, lookup); /* the lists' strings may point into the view: it ends after done() */
    pb_store_view_end(view);
}

/*
 * A Redis or PostgreSQL write is its own "commit": observed here, as the
 * embedded backend's writer thread observes its group commits.
 */
static int apply_observed(pb_store_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                          pb_change_outcome *outcomes)
{
    uint64_t started = pb_clock_ns();
    int rc = session->kind == BACKEND_POSTGRES
                 ? pb_pg_apply(session->impl.postgres, access_id, changes, n, outcomes)
                 : pb_redis_apply(session->impl.redis, access_id, changes, n, outcomes);
    pb_metrics_observe_store_commit(pb_clock_ns() - started);
    pb_metrics_observe_commit_batch(1);
    return rc;
}

int pb_store_apply(pb_store_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                   pb_change_outcome *outcomes)
{
    if (session->kind != BACKEND_LMDB)
        return apply_observed(session, access_id, changes, n, outcomes);
    return pb_lmdb_apply(session->impl.lmdb, access_id, changes, n, outcomes);
}

void pb_store_apply_start(pb_store_session *session, uint64_t access_id, const pb_change *changes, size_t n,
                          pb_change_outcome *outcomes, pb_pool *pool, pb_store_apply_done *done, void *arg)
{
    if (session->kind == BACKEND_REDIS && pb_redis_session_bound(session->impl.redis)) {
        pb_redis_apply_start(session->impl.redis, access_id, changes, n, outcomes, pool, done, arg);
        return;
    }
    if (session->kind == BACKEND_POSTGRES && pb_pg_session_bound(session->impl.postgres)) {
        pb_pg_apply_start(session->impl.postgres, access_id, changes, n, outcomes, pool, done, arg);
        return;
    }
    if (session->kind != BACKEND_LMDB) {
        done(arg, apply_observed(session, access_id, changes, n, outcomes));
        return;
    }
    pb_lmdb_apply_start(session->impl.lmdb, access_id, changes, n, outcomes, pool, done, arg);
}

int pb_store_tag_apply(pb_store_session *session, uint64_t access_id, pb_tag_write *write)
{
    if (session->kind == BACKEND_REDIS)
        return pb_redis_tag_apply(session->impl.redis, access_id, write);
    if (session->kind == BACKEND_POSTGRES)
        return pb_pg_tag_apply(session->impl.postgres, access_id, write);
    return pb_lmdb_tag_apply(session->impl.lmdb, access_id, write);
}

/*
 * As pb_store_apply_start(): a Redis or PostgreSQL session without a loop is
 * a server thread whose pb_store_session_attach_loop() failed, and it keeps
 * serving by waiting, through pb_store_tag_apply().
 */
void pb_store_tag_apply_start(pb_store_session *session, uint64_t access_id, pb_tag_write *write, pb_pool *pool,
                              pb_store_apply_done *done, void *arg)
{
    if (session->kind == BACKEND_REDIS && pb_redis_session_bound(session->impl.redis)) {
        pb_redis_tag_apply_start(session->impl.redis, access_id, write, pool, done, arg);
        return;
    }
    if (session->kind == BACKEND_POSTGRES && pb_pg_session_bound(session->impl.postgres)) {
        pb_pg_tag_apply_start(session->impl.postgres, access_id, write, pool, done, arg);
        return;
    }
    if (session->kind != BACKEND_LMDB) {
        done(arg, pb_store_tag_apply(session, access_id, write));
        return;
    }
    pb_lmdb_tag_apply_start(session->impl.lmdb, access_id, write, pool, done, arg);
}

void pb_store_tag_lookup_start(pb_store_session *session, pb_tag_lookup *lookup, pb_pool *pool,
                               pb_tag_lookup_done *done, void *arg)
{
    if (session->kind == BACKEND_REDIS) {
        pb_redis_tag_lookup_start(session->impl.redis, lookup, pool, done, arg);
        return;
    }
    if (session->kind == BACKEND_POSTGRES) {
        if (pb_pg_session_bound(session->impl.postgres)) {
            pb_pg_tag_lookup_start(session->impl.postgres, lookup, pool, done, arg);
            return;
        }
        pb_pg_tag_lookup(session->impl.postgres, lookup, pool);
        done(arg, lookup);
        return;
    }
    pb_store_view *view = pb_store_view_begin(session);
    if (view == NULL) {
        lookup->result = PB_STORE_EIO;
        done(arg, lookup);
        return;
    }
    lookup->result = pb_lmdb_tag_lookup(view->impl.lmdb, lookup, pool);
    done(arg, lookup); /* the strings point into the view: it ends after done() */
    pb_store_view_end(view);
}

int pb_store_app_put(pb_store_session *session, uint64_t access_id, pb_str secret, bool *created)
{
    if (session->kind == BACKEND_POSTGRES)
        return pb_pg_app_put(session->impl.postgres, access_id, secret, created);
    if (session->kind == BACKEND_REDIS)
        return pb_redis_app_put(session->impl.redis, access_id, secret, created);
    return pb_lmdb_app_put(session->impl.lmdb, access_id, secret, created);
}

int pb_store_app_remove(pb_store_session *session, uint64_t access_id, uint64_t *bindings_removed)
{
    if (session->kind == BACKEND_POSTGRES)
        return pb_pg_app_remove(session->impl.postgres, access_id, bindings_removed);
    if (session->kind == BACKEND_REDIS)
        return pb_redis_app_remove(session->impl.redis, access_id, bindings_removed);
    return pb_lmdb_app_remove(session->impl.lmdb, access_id, bindings_removed);
}

int pb_store_app_list(pb_store_session *session, void (*visit)(void *arg, const pb_app_info *app), void *arg)
{
    if (session->kind == BACKEND_POSTGRES)
        return pb_pg_app_list(session->impl.postgres, visit, arg);
    if (session->kind == BACKEND_REDIS)
        return pb_redis_app_list(session->impl.redis, visit, arg);
    return pb_lmdb_app_list(session->impl.lmdb, visit, arg);
}

int pb_store_key_put(pb_store_session *session, uint64_t access_id, const pb_app_key *key)
{
    if (session->kind == BACKEND_POSTGRES)
        return pb_pg_key_put(session->impl.postgres, access_id, key);
    if (session->kind == BACKEND_REDIS)
        return pb_redis_key_put(session->impl.redis, access_id, key);
    return pb_lmdb_key_put(session->impl.lmdb, access_id, key);
}

int pb_store_key_revoke(pb_store_session *session, uint64_t access_id, pb_str name)
{
    if (session->kind == BACKEND_POSTGRES)
        return pb_pg_key_revoke(session->impl.postgres, access_id, name);
    if (session->kind == BACKEND_REDIS)
        return pb_redis_key_revoke(session->impl.redis, access_id, name);
    return pb_lmdb_key_revoke(session->impl.lmdb, access_id, name);
}

int pb_store_key_list(pb_store_session *session, uint64_t access_id,
                      void (*visit)(void *arg, const pb_app_key *key), void *arg)
{
    if (session->kind == BACKEND_POSTGRES)
        return pb_pg_key_list(session->impl.postgres, access_id, visit, arg);
    if (session->kind == BACKEND_REDIS)
        return pb_redis_key_list(session->impl.redis, access_id, visit, arg);
    return pb_lmdb_key_list(session->impl.lmdb, access_id, visit, arg);
}

pb_lmdb_session *pb_store_session_lmdb(pb_store_session *session)
{
    return session->kind == BACKEND_LMDB ? session->impl.lmdb : NULL;
}
