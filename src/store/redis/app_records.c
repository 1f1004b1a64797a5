/*
 * store/redis/app_records.c — apps in the Redis backend (the command line's
 * side): create or update, list, remove with every binding. The list's two
 * rounds are built and read by the functions of app_records.h, shared with
 * the loop's APPS lookup (lookup_loop.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "store/redis/app_records.h"
#include "store/redis/apps_watch.h"
#include "store/redis/keyspace.h"
#include "store/redis/lookup.h"

/* Runs one command; returns its reply (the caller frees it) or NULL after setting the error. */
static redisReply *run_one(pb_redis_session *session, pb_redis_cmd *cmd, const char *what)
{
    if (pb_redis_run(&session->conn, cmd, 1) != 0 || pb_redis_reply_failed(&session->conn, cmd->reply, what)) {
        pb_redis_release(cmd, 1);
        return NULL;
    }
    redisReply *reply = cmd->reply;
    cmd->reply = NULL;
    return reply;
}

/* SADD/SREM the app's id in the apps set. Returns 0 or -1. */
static int apps_set(pb_redis_session *session, const char *verb, uint64_t access_id)
{
    pb_pool *pool = &session->pool;
    pb_str key = pb_redis_apps_key(pool, session->store), id = pb_redis_decimal(pool, access_id);
    pb_redis_cmd cmd;
    pb_redis_cmd_init(&cmd, pool, pb_redis_slot_of(key), true, 3);
    pb_redis_cmd_arg(&cmd, 0, verb, strlen(verb));
    pb_redis_cmd_arg(&cmd, 1, key.base, key.len);
    pb_redis_cmd_arg(&cmd, 2, id.base, id.len);
    redisReply *reply = run_one(session, &cmd, verb);
    if (reply == NULL)
        return -1;
    freeReplyObject(reply);
    return 0;
}

/* The set entry goes first: `app list` skips an id whose record is missing. */
int pb_redis_app_put(pb_redis_session *session, uint64_t access_id, pb_str secret, bool *created)
{
    pb_pool *pool = &session->pool;
    int rc = PB_STORE_EIO;
    if (apps_set(session, "SADD", access_id) != 0)
        goto done;
    pb_str key = pb_redis_app_key(pool, session->store, "app", access_id);
    pb_str now = pb_redis_decimal(pool, (uint64_t)pb_clock_unix_s());
    pb_redis_cmd cmd;
    pb_redis_cmd_script(&cmd, pool, &session->store->scripts.app_put, 6, key);
    pb_redis_cmd_arg(&cmd, 4, secret.base, secret.len);
    pb_redis_cmd_arg(&cmd, 5, now.base, now.len);
    redisReply *reply = run_one(session, &cmd, "app put");
    if (reply == NULL)
        goto done;
    if (reply->type == REDIS_REPLY_INTEGER) {
        *created = reply->integer == 1;
        rc = 0;
        pb_redis_apps_publish(session, access_id);
    }
    freeReplyObject(reply);
done:
    pb_pool_clear(pool);
    return rc;
}

/* The kinds of keys app_remove() looks for on each primary: "P:kind:{A:…". */
#define APP_SWEEP_KINDS 7

/* What app_remove() deletes on each primary. */
struct app_sweep {
    const char *patterns[APP_SWEEP_KINDS]; /* token records, account indexes, token details, expiry index,
                                              a token's tags, a tag's index and marks */
    uint64_t bindings;       /* members of the token records deleted */
};

/* SCANs one primary for the app's keys and deletes them, counting the token records' members. */
static int sweep_node(void *arg, redisContext *ctx)
{
    struct app_sweep *sweep = arg;
    for (int p = 0; p < APP_SWEEP_KINDS; p++) {
        char cursor[PB_REDIS_SCAN_CURSOR] = "0";
        do {
            redisReply *page = pb_redis_scan_page(ctx, cursor, sweep->patterns[p], strlen(sweep->patterns[p]), 1000);
            if (page == NULL)
                return -1;
            const redisReply *keys = page->element[1];
            for (size_t i = 0; i < keys->elements; i++) {
                if (p == 0)
                    redisAppendCommand(ctx, "ZCARD %b", keys->element[i]->str, keys->element[i]->len);
                redisAppendCommand(ctx, "UNLINK %b", keys->element[i]->str, keys->element[i]->len);
            }
            size_t replies = keys->elements * (p == 0 ? 2 : 1);
            int rc = 0;
            for (size_t i = 0; i < replies; i++) {
                redisReply *reply = NULL;
                if (redisGetReply(ctx, (void **)&reply) != REDIS_OK) {
                    rc = -1;
                    break;
                }
                if (p == 0 && i % 2 == 0 && reply->type == REDIS_REPLY_INTEGER)
                    sweep->bindings += (uint64_t)reply->integer;
                freeReplyObject(reply);
            }
            freeReplyObject(page);
            if (rc != 0)
                return rc;
        } while (strcmp(cursor, "0") != 0);
    }
    return 0;
}

/*
 * The app's record goes first, so requests stop authenticating at once; then
 * its bindings on every primary; the set entry last. An interruption leaves
 * keys no request can reach (the app no longer authenticates); running the
 * remove again finishes it.
 */
int pb_redis_app_remove(pb_redis_session *session, uint64_t access_id, uint64_t *bindings_removed)
{
    pb_pool *pool = &session->pool;
    const pb_redis_store *store = session->store;
    int rc = PB_STORE_EIO;
    /* The app's keys, one hash tag: its record, its counter, its account types, its tags (tags.h) */
    static const char *const app_kinds[] = {"app", "seq", "types", "tags", "tagnames", "tgrave"};
    pb_str app = pb_redis_app_key(pool, store, "app", access_id);
    pb_redis_cmd cmd;
    pb_redis_cmd_init(&cmd, pool, pb_redis_slot_of(app), true, 7);
    pb_redis_cmd_arg(&cmd, 0, "DEL", 3);
    for (int k = 0; k < 6; k++) {
        pb_str key = pb_redis_app_key(pool, store, app_kinds[k], access_id);
        pb_redis_cmd_arg(&cmd, 1 + k, key.base, key.len);
    }
    redisReply *reply = run_one(session, &cmd, "app remove");
    if (reply == NULL)
        goto done;
    bool existed = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    freeReplyObject(reply);
    pb_redis_apps_publish(session, access_id);

    struct app_sweep sweep = {.bindings = 0};
    static const char *const kinds[APP_SWEEP_KINDS] = {"t", "a", "ti", "exp", "tt", "tx", "tm"};
    char *patterns[APP_SWEEP_KINDS] = {NULL};
    bool made = true;
    for (int p = 0; p < APP_SWEEP_KINDS; p++) {
        if (asprintf(&patterns[p], "%s:%s:{%llu:*", store->prefix, kinds[p], (unsigned long long)access_id) < 0) {
            patterns[p] = NULL;
            made = false;
        }
        sweep.patterns[p] = patterns[p];
    }
    int swept = made ? pb_redis_each_primary(&session->conn, sweep_node, &sweep) : -1;
    for (int p = 0; p < APP_SWEEP_KINDS; p++)
        free(patterns[p]);
    if (!made)
        goto done;
    if (swept != 0) {
        if (session->conn.error[0] == '\0')
            snprintf(session->conn.error, sizeof(session->conn.error), "app remove: deleting the bindings failed");
        goto done;
    }
    if (apps_set(session, "SREM", access_id) != 0)
        goto done;
    *bindings_removed = sweep.bindings;
    rc = existed ? 0 : PB_STORE_ENOTFOUND;
done:
    pb_pool_clear(pool);
    return rc;
}

void pb_redis_apps_members_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store)
{
    pb_str key = pb_redis_apps_key(pool, store);
    pb_redis_cmd_init(cmd, pool, pb_redis_slot_of(key), false, 2);
    pb_redis_cmd_arg(cmd, 0, "SMEMBERS", 8);
    pb_redis_cmd_arg(cmd, 1, key.base, key.len);
}

int pb_redis_apps_records_cmds(pb_redis_conn *conn, const pb_redis_cmd *members, pb_pool *pool,
                               const pb_redis_store *store, pb_redis_app_round *round)
{
    uint64_t *ids;
    size_t n;
    *round = (pb_redis_app_round){NULL, NULL, 0};
    if (pb_redis_set_parse(conn, members->reply, "app list", pb_redis_parse_u64, pool, &ids, &n) != 0)
        return PB_STORE_EIO;
    pb_redis_cmd *cmds = pb_pool_alloc(pool, (n == 0 ? 1 : n) * sizeof(*cmds));
    for (size_t i = 0; i < n; i++)
        pb_redis_app_cmd(&cmds[i], pool, store, ids[i]);
    *round = (pb_redis_app_round){ids, cmds, n};
    return 0;
}

int pb_redis_apps_records_parse(pb_redis_conn *conn, const pb_redis_app_round *round, pb_pool *pool,
                                pb_app_info **apps, size_t *n_apps)
{
    pb_app_info *out = pb_pool_alloc(pool, (round->n == 0 ? 1 : round->n) * sizeof(*out));
    size_t n = 0;
    for (size_t i = 0; i < round->n; i++) {
        int found = pb_redis_app_parse(conn, &round->cmds[i], round->ids[i], &out[n]);
        if (found == PB_STORE_EIO)
            return PB_STORE_EIO;
        if (found == 0) /* else listed but not (or no longer) recorded */
            n++;
    }
    *apps = out;
    *n_apps = n;
    return 0;
}

int pb_redis_app_list(pb_redis_session *session, void (*visit)(void *arg, const pb_app_info *app), void *arg)
{
    pb_pool *pool = &session->pool;
    int rc = PB_STORE_EIO;
    pb_redis_cmd members;
    pb_redis_app_round round = {NULL, NULL, 0};
    pb_app_info *apps;
    size_t n;
    pb_redis_apps_members_cmd(&members, pool, session->store);
    if (pb_redis_run(&session->conn, &members, 1) != 0 ||
        pb_redis_apps_records_cmds(&session->conn, &members, pool, session->store, &round) != 0)
        goto done;
    if (round.n != 0 && pb_redis_run(&session->conn, round.cmds, round.n) != 0)
        goto done;
    if (pb_redis_apps_records_parse(&session->conn, &round, pool, &apps, &n) != 0)
        goto done;
    for (size_t i = 0; i < n; i++)
        visit(arg, &apps[i]);
    rc = 0;
done:
    pb_redis_release(&members, 1);
    pb_redis_release(round.cmds, round.n);
    pb_pool_clear(pool);
    return rc;
}
