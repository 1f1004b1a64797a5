/*
 * store/redis/lookup_loop.c — the lookups of a session bound to an event
 * loop (an app's secret or record, the lists, a PING of every primary, the
 * app list): sent on the loop's connections (net/async_cluster.h) and
 * answered from their replies' callbacks. The commands and the reading of
 * replies are lookup.h's, shared with the blocking lookups; a secret found
 * in the session's cache (store/secret_cache.h) costs no round trip. The
 * session's writes go on a second set of connections (apply_carriers.c).
 */
#include <stdio.h>
#include <string.h>

#include "store/redis/account_types.h"
#include "store/redis/app_records.h"
#include "store/redis/apps_watch.h"
#include "store/redis/lookup.h"
#include "store/redis/net/async_cluster.h"
#include "store/redis/net/slot.h"

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
                                   &lookup->secret, &lookup->keys);
    else
        rc = PB_STORE_EIO;
    pb_secret_remember(read->session->secrets, lookup->access_id, read->epoch, rc, lookup->secret, lookup->keys);
    finish(read, rc);
}

static void on_types(void *arg, int rc)
{
    aread *read = arg;
    pb_store_lookup *lookup = read->lookup;
    if (rc == 0)
        rc = pb_redis_types_parse(pb_redis_aconn_map(read->session->aconn), &read->cmds[0], lookup->n, read->pool,
                                  &lookup->types, &lookup->n_types);
    finish(read, rc == 0 ? 0 : PB_STORE_EIO);
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
        read->epoch = pb_redis_apps_epoch(store->watch);
        if (!lookup->fresh && pb_secret_cached(session->secrets, lookup->access_id, read->epoch, pool,
                                               &lookup->result, &lookup->secret, &lookup->keys)) {
            lookup->cached = true;
            done(arg, lookup);
            return;
        }
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
    case PB_LOOKUP_TYPES:
        read->n_cmds = 1;
        read->cmds = pb_pool_alloc(pool, sizeof(*read->cmds));
        pb_redis_types_cmd(read->cmds, pool, store, lookup->access_id);
        pb_redis_arun(session->aconn, &read->batch, read->cmds, 1, on_types, read);
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
