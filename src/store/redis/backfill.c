/*
 * store/redis/backfill.c — expiry index entries for tokens written while no TTL was set.
 *
 * The sweeper (sweeper.c) finds expired bindings through the expiry index,
 * which only writers with --binding-ttl fill. So that turning a TTL on for a
 * store written without one (by serve, import or pull) expires the old
 * bindings too, every batch written without a TTL counts itself in its app's
 * record (`untracked`, by the begin_batch script, in the round it already
 * makes), and the sweeper, for an app whose `untracked` differs from its
 * `indexed` mark, walks the app's token records once: SCAN on every primary,
 * a page at a time; each page's tokens are expired like swept ones (their
 * expired bindings deleted, the earliest last_bind_time left returned) and
 * given an entry with ZADD NX, which never moves an entry a writer wrote.
 * At the end, the mark_indexed script sets `indexed` to the `untracked` read
 * before the walk, only if it has not moved since: a batch written without a
 * TTL during the walk (perhaps on a token the walk had passed) makes the next
 * step walk again. Several processes may walk at once; it is only repeated
 * work. A stop between pages leaves the mark as it was: the walk starts over.
 *
 * A walk is a SCAN of the whole namespace on each primary (its MATCH keeps
 * only the app's token records), so it costs about what reading every key
 * name once does; it happens once per app after untracked writes, not in the
 * steady state, where the expiry index alone is read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/redis/keyspace.h"
#include "store/redis/sweeper.h"

#define PB_REDIS_BACKFILL_PAGE 512 /* keys a SCAN page looks at */

/* One app's walk over the primaries. */
struct walk {
    pb_redis_session *session; /* expires and indexes; the scanner session SCANs */
    uint64_t access_id;
    int64_t now;
    pb_str match;  /* "P:t:{A:*" */
    size_t head;   /* the part of a token record's key before the token */
    bool (*stop)(void *arg);
    void *stop_arg;
    size_t indexed;
};

/*
 * Which of `n` apps need a walk, in one pipelined round of their records:
 * untracked[i] gets app i's `untracked` count in `pool` ("0" when absent)
 * and the result says whether it differs from its `indexed` mark. An app
 * gone or unreadable needs none this step.
 */
static bool *marks_read(pb_redis_session *session, const uint64_t *apps, size_t n, pb_pool *pool, pb_str *untracked)
{
    pb_redis_cmd *cmds = pb_pool_alloc(pool, n * sizeof(*cmds));
    bool *walk = pb_pool_alloc(pool, n * sizeof(*walk));
    for (size_t i = 0; i < n; i++) {
        pb_str app = pb_redis_app_key(pool, session->store, "app", apps[i]);
        pb_redis_cmd_init(&cmds[i], pool, pb_redis_slot_of(app), false, 5);
        const char *args[] = {"HMGET", app.base, "created", "untracked", "indexed"};
        size_t lens[] = {5, app.len, 7, 9, 7};
        for (int k = 0; k < 5; k++)
            pb_redis_cmd_arg(&cmds[i], k, args[k], lens[k]);
    }
    pb_redis_run(&session->conn, cmds, n);
    for (size_t i = 0; i < n; i++) {
        const redisReply *reply = cmds[i].reply;
        walk[i] = false;
        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
            reply->element[0]->type != REDIS_REPLY_STRING)
            continue;
        const redisReply *u = reply->element[1], *mark = reply->element[2];
        untracked[i] = u->type == REDIS_REPLY_STRING ? pb_pool_strdup(pool, (pb_str){u->str, u->len}) : PB_STR_LIT("0");
        walk[i] = mark->type != REDIS_REPLY_STRING || !pb_str_eq((pb_str){mark->str, mark->len}, untracked[i]);
    }
    pb_redis_release(cmds, n);
    return walk;
}

/* Expires one page's tokens and gives each one left an entry, in `pool`. */
static void index_page(struct walk *w, const redisReply *keys, pb_pool *pool)
{
    const pb_redis_store *store = w->session->store;
    pb_str *tokens = pb_pool_alloc(pool, (keys->elements + 1) * sizeof(*tokens));
    size_t n = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *key = keys->element[i];
        if (key->type == REDIS_REPLY_STRING && key->len > w->head + 1 && key->str[key->len - 1] == '}' &&
            memcmp(key->str, w->match.base, w->head) == 0)
            tokens[n++] = pb_pool_strdup(pool, (pb_str){key->str + w->head, key->len - w->head - 1});
    }
    if (n == 0)
        return;
    int64_t *earliest = pb_pool_alloc(pool, n * sizeof(*earliest));
    pb_redis_expire_tokens(w->session, w->access_id, tokens, n, w->now, pool, earliest);
    pb_redis_cmd *adds = pb_pool_alloc(pool, n * sizeof(*adds));
    size_t n_adds = 0;
    for (size_t i = 0; i < n; i++) {
        if (earliest[i] <= 0) /* no binding left, or its script failed: nothing to index */
            continue;
        pb_str key = pb_redis_expiry_key(pool, store, w->access_id,
                                         pb_redis_expiry_shard(pb_redis_token_key(pool, store, w->access_id, tokens[i])));
        pb_str score = pb_redis_decimal(pool, (uint64_t)earliest[i]);
        pb_redis_cmd *cmd = &adds[n_adds++];
        pb_redis_cmd_key(cmd, pool, true, 5, "ZADD", key);
        pb_redis_cmd_arg(cmd, 2, "NX", 2);
        pb_redis_cmd_arg(cmd, 3, score.base, score.len);
        pb_redis_cmd_arg(cmd, 4, tokens[i].base, tokens[i].len);
    }
    if (n_adds == 0)
        return;
    pb_redis_run(&w->session->conn, adds, n_adds);
    for (size_t i = 0; i < n_adds; i++)
        if (adds[i].reply != NULL && adds[i].reply->type == REDIS_REPLY_INTEGER)
            w->indexed += (size_t)adds[i].reply->integer;
    pb_redis_release(adds, n_adds);
}

/* pb_redis_each_primary()'s visitor: every page of this primary's token records of the app. */
static int walk_primary(void *arg, redisContext *ctx)
{
    struct walk *w = arg;
    char cursor[PB_REDIS_SCAN_CURSOR] = "0";
    pb_pool pool;
    pb_pool_init(&pool);
    int rc = 0;
    do {
        if (w->stop(w->stop_arg)) {
            rc = 1;
            break;
        }
        redisReply *reply = pb_redis_scan_page(ctx, cursor, w->match.base, w->match.len, PB_REDIS_BACKFILL_PAGE);
        if (reply == NULL) {
            rc = -1;
            break;
        }
        index_page(w, reply->element[1], &pool);
        freeReplyObject(reply);
        pb_pool_clear(&pool);
    } while (strcmp(cursor, "0") != 0);
    pb_pool_clear(&pool);
    return rc;
}

/* SCAN's MATCH pattern for keys starting with `prefix` (a namespace may hold glob characters), in `pool`. */
static pb_str glob_prefix(pb_pool *pool, pb_str prefix)
{
    char *match = pb_pool_alloc(pool, 2 * prefix.len + 2);
    size_t len = 0;
    for (size_t i = 0; i < prefix.len; i++) {
        if (strchr("*?[]\\", prefix.base[i]) != NULL)
            match[len++] = '\\';
        match[len++] = prefix.base[i];
    }
    match[len++] = '*';
    match[len] = '\0';
    return (pb_str){match, len};
}

/* mark_indexed (scripts.c): `indexed` becomes `untracked` unless that moved. */
static void mark_indexed(pb_redis_session *session, uint64_t access_id, pb_str untracked, pb_pool *pool)
{
    pb_str app = pb_redis_app_key(pool, session->store, "app", access_id);
    const pb_redis_script *script = &session->store->scripts.mark_indexed;
    pb_redis_cmd cmd;
    pb_redis_cmd_script(&cmd, pool, script, 5, app);
    pb_redis_cmd_arg(&cmd, 4, untracked.base, untracked.len);
    pb_redis_run(&session->conn, &cmd, 1);
    pb_redis_release(&cmd, 1);
}

size_t pb_redis_backfill(pb_redis_session *session, pb_redis_session *scanner, const uint64_t *apps, size_t n,
                         int64_t now, bool (*stop)(void *arg), void *stop_arg)
{
    if (n == 0)
        return 0;
    size_t indexed = 0;
    pb_pool pool;
    pb_pool_init(&pool);
    pb_str *untracked = pb_pool_alloc(&pool, n * sizeof(*untracked));
    bool *walk = marks_read(session, apps, n, &pool, untracked);
    for (size_t i = 0; i < n && !stop(stop_arg); i++) {
        if (!walk[i])
            continue;
        pb_str token_key = pb_redis_token_key(&pool, session->store, apps[i], PB_STR_LIT(""));
        struct walk w = {.session = session, .access_id = apps[i], .now = now, .stop = stop,
                         .stop_arg = stop_arg, .head = token_key.len - 1};
        w.match = glob_prefix(&pool, (pb_str){token_key.base, w.head});
        if (pb_redis_each_primary(&scanner->conn, walk_primary, &w) == 0)
            mark_indexed(session, apps[i], untracked[i], &pool);
        indexed += w.indexed;
    }
    pb_pool_clear(&pool);
    return indexed;
}
