/*
 * read_async.c — a session bound to an event loop: its lookups (an app's
 * secret or record, the lists, a PING of every primary, the app list) are
 * sent on the loop's connections (async_cluster.c) and answered from their
 * replies' callbacks, and the apps' secrets it read lately are kept for a
 * moment.
 * Its writes go on a second set of connections (apply.c).
 *
 * The secret cache is the thread's own (no lock). An entry is trusted for
 * PB_REDIS_SECRET_TTL_MS, and not at all once the process's apps epoch has
 * moved (apps_watch.c: `app add` and `app remove` publish a message; a lost
 * listening connection moves it too). So a removed app or a replaced secret
 * is refused at once when the message arrives, and at the latest after the
 * TTL when it does not.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "store/redis/async_cluster.h"
#include "store/redis/internal.h"
#include "store/redis/slot.h"

#define PB_REDIS_SECRET_TTL_MS 1000
#define PB_REDIS_SECRET_SLOTS 256 /* direct-mapped: a collision only costs a read */

typedef struct cached_secret {
    uint64_t access_id;
    uint64_t expires_ms; /* 0: empty */
    uint64_t epoch;
    int rc; /* PB_STORE_OK or PB_STORE_ENOTFOUND */
    char *secret; /* malloc'ed, when rc is PB_STORE_OK */
    size_t len;
} cached_secret;

struct pb_redis_secret_cache {
    cached_secret slots[PB_REDIS_SECRET_SLOTS];
};

/* One lookup in flight; in the caller's pool, which lives until done(). */
typedef struct aread {
    pb_redis_session *session;
    pb_store_lookup *lookup;
    pb_pool *pool;
    pb_store_lookup_done *done;
    void *arg;
    uint64_t epoch; /* the apps epoch when a secret was asked for */
    pb_redis_abatch batch;
    pb_redis_cmd *cmds;
    size_t n, n_cmds; /* items; commands (more with details) */
    pb_redis_read how;
    pb_redis_candidates found;
    pb_redis_app_round apps; /* APPS: the records' round, after the apps set's */
} aread;

static uint64_t now_ms(void)
{
    return pb_clock_ns() / 1000000;
}

/* Lazily, once per store: the apps watch and the sweeper the loops' sessions share. */
static int start_shared(pb_redis_store *store)
{
    int rc = 0;
    pthread_mutex_lock(&store->lazy_lock);
    if (store->watch == NULL)
        store->watch = pb_redis_apps_watch_start(store);
    if (store->sweeper == NULL && store->binding_ttl > 0)
        store->sweeper = pb_redis_sweeper_start(store);
    if (store->watch == NULL || (store->sweeper == NULL && store->binding_ttl > 0))
        rc = -1;
    pthread_mutex_unlock(&store->lazy_lock);
    return rc;
}

int pb_redis_session_attach_loop(pb_redis_session *session, void *loop)
{
    if (start_shared(session->store) != 0)
        return PB_STORE_EIO;
    session->secrets = calloc(1, sizeof(*session->secrets));
    session->aconn = pb_redis_aconn_open(&session->store->target, loop);
    session->wconn = pb_redis_aconn_open(&session->store->target, loop);
    if (session->secrets == NULL || session->aconn == NULL || session->wconn == NULL) {
        pb_redis_session_detach_loop(session);
        return PB_STORE_EIO;
    }
    return 0;
}

void pb_redis_session_detach_loop(pb_redis_session *session)
{
    pb_redis_aconn_close(session->aconn);
    pb_redis_aconn_close(session->wconn);
    session->aconn = session->wconn = NULL;
    if (session->secrets != NULL)
        for (size_t i = 0; i < PB_REDIS_SECRET_SLOTS; i++)
            free(session->secrets->slots[i].secret);
    free(session->secrets);
    session->secrets = NULL;
}

bool pb_redis_session_bound(const pb_redis_session *session)
{
    return session->aconn != NULL;
}

/* ---- The secret cache ------------------------------------------------- */

static cached_secret *slot_of(pb_redis_secret_cache *cache, uint64_t access_id)
{
    return &cache->slots[(access_id * 0x9E3779B97F4A7C15ull) >> 56 & (PB_REDIS_SECRET_SLOTS - 1)];
}

bool pb_redis_secret_cached(pb_redis_session *session, uint64_t access_id, pb_pool *pool, int *rc, pb_str *secret)
{
    if (session->secrets == NULL)
        return false;
    cached_secret *entry = slot_of(session->secrets, access_id);
    if (entry->expires_ms == 0 || entry->access_id != access_id || entry->expires_ms <= now_ms() ||
        entry->epoch != pb_redis_apps_epoch(session->store->watch))
        return false;
    *rc = entry->rc;
    if (entry->rc == PB_STORE_OK)
        *secret = pb_pool_strdup(pool, (pb_str){entry->secret, entry->len});
    return true;
}

void pb_redis_secret_remember(pb_redis_session *session, uint64_t access_id, uint64_t epoch, int rc, pb_str secret)
{
    if (session->secrets == NULL || (rc != PB_STORE_OK && rc != PB_STORE_ENOTFOUND))
        return; /* a failure is asked again */
    cached_secret *entry = slot_of(session->secrets, access_id);
    char *copy = NULL;
    if (rc == PB_STORE_OK && (copy = malloc(secret.len + 1)) == NULL)
        return;
    if (copy != NULL) {
        memcpy(copy, secret.base, secret.len);
        copy[secret.len] = '\0';
    }
    free(entry->secret);
    *entry = (cached_secret){.access_id = access_id, .expires_ms = now_ms() + PB_REDIS_SECRET_TTL_MS,
                             .epoch = epoch, .rc = rc, .secret = copy, .len = secret.len};
}

/* ---- Lookups ---------------------------------------------------------- */

static void finish(aread *read, int rc)
{
    pb_redis_session *session = read->session;
    read->lookup->result = rc;
    if (rc == PB_STORE_EIO)
        snprintf(session->conn.error, sizeof(session->conn.error), "%s", pb_redis_aconn_error(session->aconn));
    pb_redis_release(read->cmds, read->n_cmds);
    pb_redis_release(read->apps.cmds, read->apps.n);
    if (read->found.checks != NULL)
        pb_redis_release(read->found.checks, read->found.n_checks);
    read->done(read->arg, read->lookup);
}

static void on_secret(void *arg, int rc)
{
    aread *read = arg;
    pb_store_lookup *lookup = read->lookup;
    if (rc == 0)
        rc = pb_redis_secret_parse(pb_redis_aconn_map(read->session->aconn), &read->cmds[0], read->pool,
                                   &lookup->secret);
    else
        rc = PB_STORE_EIO;
    pb_redis_secret_remember(read->session, lookup->access_id, read->epoch, rc, lookup->secret);
    finish(read, rc);
}

static void on_accounts(void *arg, int rc)
{
    aread *read = arg;
    pb_store_lookup *lookup = read->lookup;
    if (rc == 0)
        rc = pb_redis_accounts_parse(pb_redis_aconn_map(read->session->aconn), read->session->store, read->cmds,
                                     read->n, &read->how, read->pool, lookup->account_lists);
    finish(read, rc == 0 ? 0 : PB_STORE_EIO);
}

static void on_checks(void *arg, int rc)
{
    aread *read = arg;
    if (rc == 0)
        rc = pb_redis_tokens_parse(pb_redis_aconn_map(read->session->aconn), read->session->store, read->cmds,
                                   read->n, &read->found, &read->how, read->pool, read->lookup->token_lists);
    finish(read, rc == 0 ? 0 : PB_STORE_EIO);
}

static void on_indexes(void *arg, int rc)
{
    aread *read = arg;
    pb_redis_session *session = read->session;
    pb_store_lookup *lookup = read->lookup;
    pb_redis_conn *map = pb_redis_aconn_map(session->aconn);
    if (rc != 0 || pb_redis_tokens_checks(map, session->store, lookup->access_id, lookup->accounts, read->cmds,
                                          read->n, &read->how, read->pool, &read->found) != 0) {
        finish(read, PB_STORE_EIO);
        return;
    }
    if (read->found.n == 0) {
        on_checks(read, 0);
        return;
    }
    pb_redis_arun(session->aconn, &read->batch, read->found.checks, read->found.n_checks, on_checks, read);
}

static void on_app(void *arg, int rc)
{
    aread *read = arg;
    pb_store_lookup *lookup = read->lookup;
    if (rc == 0)
        rc = pb_redis_app_parse(pb_redis_aconn_map(read->session->aconn), &read->cmds[0], lookup->access_id,
                                &lookup->app);
    finish(read, rc == 0 || rc == PB_STORE_ENOTFOUND ? rc : PB_STORE_EIO);
}

static void on_app_records(void *arg, int rc)
{
    aread *read = arg;
    pb_store_lookup *lookup = read->lookup;
    if (rc == 0)
        rc = pb_redis_apps_records_parse(pb_redis_aconn_map(read->session->aconn), &read->apps, read->pool,
                                         &lookup->apps, &lookup->n_apps);
    finish(read, rc == 0 ? 0 : PB_STORE_EIO);
}

static void on_apps_set(void *arg, int rc)
{
    aread *read = arg;
    pb_redis_session *session = read->session;
    if (rc != 0 || pb_redis_apps_records_cmds(pb_redis_aconn_map(session->aconn), &read->cmds[0], read->pool,
                                              session->store, &read->apps) != 0) {
        finish(read, PB_STORE_EIO);
        return;
    }
    pb_redis_arun(session->aconn, &read->batch, read->apps.cmds, read->apps.n, on_app_records, read);
}

/* ---- Ping: every primary of the loop's slot map, as pb_redis_ping() does with its own ---- */

static void ping_cmd(pb_redis_cmd *cmd, pb_pool *pool, unsigned slot)
{
    pb_redis_cmd_init(cmd, pool, slot, false, 1);
    pb_redis_cmd_arg(cmd, 0, "PING", 4);
}

static void on_pings(void *arg, int rc)
{
    aread *read = arg;
    for (size_t i = 0; i < read->n_cmds && rc == 0; i++)
        if (read->cmds[i].reply == NULL || read->cmds[i].reply->type != REDIS_REPLY_STATUS)
            rc = -1;
    pb_redis_conn *map = pb_redis_aconn_map(read->session->aconn);
    if (rc != 0 && map->error[0] == '\0')
        snprintf(map->error, sizeof(map->error), "a node does not answer PING");
    finish(read, rc == 0 ? 0 : PB_STORE_EIO);
}

/*
 * One PING per primary, each sent to a slot it owns: the batch's rounds then
 * route it, and follow the map if a failover moves that slot meanwhile.
 */
static void ping_primaries(aread *read)
{
    const pb_redis_conn *map = pb_redis_aconn_map(read->session->aconn);
    size_t n = 0;
    unsigned *first_slot = pb_pool_alloc(read->pool, (map->n_nodes + 1) * sizeof(*first_slot));
    bool *seen = pb_pool_alloc(read->pool, (map->n_nodes + 1) * sizeof(*seen));
    memset(seen, 0, (map->n_nodes + 1) * sizeof(*seen));
    for (unsigned s = 0; s < PB_REDIS_SLOTS; s++) {
        uint16_t owner = map->slot_node[s];
        if (owner < map->n_nodes && !seen[owner]) {
            seen[owner] = true;
            first_slot[n++] = s;
        }
    }
    read->n = read->n_cmds = n;
    read->cmds = pb_pool_alloc(read->pool, (n == 0 ? 1 : n) * sizeof(*read->cmds));
    for (size_t i = 0; i < n; i++)
        ping_cmd(&read->cmds[i], read->pool, first_slot[i]);
    pb_redis_arun(read->session->aconn, &read->batch, read->cmds, n, on_pings, read);
}

/*
 * The loop's map was read to route the first PING: the primaries are known
 * now (a map marked stale since still names them; the next round reloads it).
 */
static void on_first_ping(void *arg, int rc)
{
    aread *read = arg;
    if (rc != 0) {
        on_pings(read, rc);
        return;
    }
    pb_redis_release(read->cmds, read->n_cmds);
    ping_primaries(read);
}

static void ping_start(aread *read)
{
    if (pb_redis_aconn_map(read->session->aconn)->map_ready) {
        ping_primaries(read);
        return;
    }
    read->n = read->n_cmds = 1;
    read->cmds = pb_pool_alloc(read->pool, sizeof(*read->cmds));
    ping_cmd(read->cmds, read->pool, 0);
    pb_redis_arun(read->session->aconn, &read->batch, read->cmds, 1, on_first_ping, read);
}

void pb_redis_lookup_start(pb_redis_session *session, pb_store_lookup *lookup, pb_pool *pool,
                           pb_store_lookup_done *done, void *arg)
{
    aread *read = pb_pool_alloc(pool, sizeof(*read));
    *read = (aread){.session = session, .lookup = lookup, .pool = pool, .done = done, .arg = arg};
    const pb_redis_store *store = session->store;
    switch (lookup->kind) {
    case PB_LOOKUP_SECRET:
        if (pb_redis_secret_cached(session, lookup->access_id, pool, &lookup->result, &lookup->secret)) {
            done(arg, lookup);
            return;
        }
        read->epoch = pb_redis_apps_epoch(store->watch);
        read->n = read->n_cmds = 1;
        read->cmds = pb_pool_alloc(pool, sizeof(*read->cmds));
        pb_redis_secret_cmd(read->cmds, pool, store, lookup->access_id);
        pb_redis_arun(session->aconn, &read->batch, read->cmds, 1, on_secret, read);
        return;
    case PB_LOOKUP_APP:
        read->n = read->n_cmds = 1;
        read->cmds = pb_pool_alloc(pool, sizeof(*read->cmds));
        pb_redis_app_cmd(read->cmds, pool, store, lookup->access_id);
        pb_redis_arun(session->aconn, &read->batch, read->cmds, 1, on_app, read);
        return;
    case PB_LOOKUP_PING:
        ping_start(read);
        return;
    case PB_LOOKUP_APPS:
        lookup->apps = NULL;
        lookup->n_apps = 0;
        read->n = read->n_cmds = 1;
        read->cmds = pb_pool_alloc(pool, sizeof(*read->cmds));
        pb_redis_apps_members_cmd(read->cmds, pool, store);
        pb_redis_arun(session->aconn, &read->batch, read->cmds, 1, on_apps_set, read);
        return;
    case PB_LOOKUP_ACCOUNTS_OF:
        read->how = pb_redis_read_of(store, lookup->with_info);
        read->n = lookup->n;
        read->n_cmds = lookup->n * (1 + read->how.details);
        read->cmds = pb_pool_alloc(pool, read->n_cmds * sizeof(*read->cmds));
        lookup->account_lists = pb_pool_alloc(pool, lookup->n * sizeof(*lookup->account_lists));
        pb_redis_accounts_cmds(read->cmds, pool, store, lookup->access_id, lookup->tokens, lookup->n, &read->how);
        pb_redis_arun(session->aconn, &read->batch, read->cmds, read->n_cmds, on_accounts, read);
        return;
    case PB_LOOKUP_TOKENS_OF:
        read->how = pb_redis_read_of(store, lookup->with_info);
        read->n = read->n_cmds = lookup->n;
        read->cmds = pb_pool_alloc(pool, lookup->n * sizeof(*read->cmds));
        lookup->token_lists = pb_pool_alloc(pool, lookup->n * sizeof(*lookup->token_lists));
        pb_redis_tokens_cmds(read->cmds, pool, store, lookup->access_id, lookup->accounts, lookup->n);
        pb_redis_arun(session->aconn, &read->batch, read->cmds, read->n, on_indexes, read);
        return;
    }
    lookup->result = PB_STORE_EINVAL;
    done(arg, lookup);
}
