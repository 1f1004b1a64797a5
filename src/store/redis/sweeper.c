/*
 * store/redis/sweeper.c — the Redis backend's deletion of expired bindings
 * (--binding-ttl).
 *
 * Reads hide an expired binding at once (lookup.c), and a change deletes the
 * expired bindings of its token first, inside its script (scripts.c), and
 * those of a full account before it is judged (apply_wave.c); this file
 * deletes the rest, without a SCAN.
 *
 * The expiry index: every change that binds writes, after its script, its
 * token into P:exp:{A:N} (N by the token record's slot, so an app's index
 * spreads over the cluster like its bindings) with the token's earliest
 * last_bind_time, which the script returns. A sweeper thread per serving
 * process takes, per app and shard, the entries whose score is at least a
 * TTL old, runs the change script's 'e' mode on each token (it deletes what
 * has expired, judged by the record's own times, and returns the new
 * earliest), then moves each entry to that score or drops it when the token
 * has no binding left — by the rescore script, only when the entry still
 * has the score the sweeper read. So a writer that bound the token again
 * meanwhile (a new, later score) is never undone.
 *
 * An entry's score is normally at or before the token's earliest
 * last_bind_time, so a sweep is never late; when two writers of one token
 * race, the later-written score may be the other's, which only makes the
 * sweeper visit early (it then rescores). A writer that dies between its
 * script and the index write leaves its token without an entry: its expired
 * bindings stay hidden from reads and are deleted by the next change of the
 * token or of a full account. Bindings made while no TTL was set have no
 * entry either: for them the sweeper walks the app's token records once
 * (backfill.c) before it sweeps.
 *
 * No lock: sweeps of several processes may overlap, and each step is
 * idempotent. A binding is deleted by one script only (the others find it
 * gone), and only that script's caller counts it and deletes its index
 * member; a rescore that lost to another changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/redis/keyspace.h"
#include "store/redis/sweeper.h"
#include "store/redis/tags.h"

#define PB_REDIS_SWEEP_TOKENS 32    /* entries per shard per step: bounds a step's work */
#define PB_REDIS_SWEEP_IDLE_MS 1000 /* between steps that found nothing */
#define PB_REDIS_SWEEP_BUSY_MS 20   /* between steps that did, so that writes are not crowded out */

struct pb_redis_sweeper {
    pb_redis_store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stopping;
};

void pb_redis_expire_cmds(pb_redis_cmd *cmds, pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                          const pb_str *tokens, size_t n, int64_t now)
{
    pb_str now_text = pb_redis_decimal(pool, (uint64_t)now), ttl = pb_redis_decimal(pool, (uint64_t)store->binding_ttl);
    for (size_t i = 0; i < n; i++) {
        pb_str key = pb_redis_token_key(pool, store, access_id, tokens[i]);
        pb_str details = pb_redis_times_key(pool, store, access_id, tokens[i]);
        pb_redis_cmd *cmd = &cmds[i];
        pb_redis_cmd_script(cmd, pool, &store->scripts.change, 11, key);
        const char *args[] = {"2", key.base, details.base, "e", "0", now_text.base, ttl.base, "0", "0"};
        size_t lens[] = {1, key.len, details.len, 1, 1, now_text.len, ttl.len, 1, 1};
        for (int k = 2; k < 11; k++)
            pb_redis_cmd_arg(cmd, k, args[k - 2], lens[k - 2]);
    }
}

size_t pb_redis_expire_judge(pb_redis_conn *conn, const pb_redis_store *store, uint64_t access_id,
                             const pb_str *tokens, const pb_redis_cmd *cmds, size_t n, pb_pool *pool,
                             int64_t *earliest, pb_redis_cmd **cleanup, size_t *n_cleanup)
{
    /* {1, expired, earliest, member, score, …}: the index members of what went, and the app's count. */
    size_t n_gone = 0;
    bool *ok = pb_pool_alloc(pool, (n == 0 ? 1 : n) * sizeof(*ok));
    for (size_t i = 0; i < n; i++) {
        const redisReply *reply = cmds[i].reply;
        ok[i] = !pb_redis_reply_failed(conn, reply, "expire") && reply->type == REDIS_REPLY_ARRAY &&
                reply->elements >= 3 && reply->element[2]->type == REDIS_REPLY_INTEGER;
        if (earliest != NULL)
            earliest[i] = ok[i] ? reply->element[2]->integer : -1;
        if (ok[i])
            n_gone += (reply->elements - 3) / 2;
    }
    pb_redis_cmd *out = pb_pool_alloc(pool, (n_gone + 1) * sizeof(*out));
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *reply = cmds[i].reply;
        for (size_t j = 3; ok[i] && j + 1 < reply->elements; j += 2) {
            const redisReply *m = reply->element[j], *s = reply->element[j + 1];
            pb_account account;
            uint64_t seq;
            if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING)
                continue;
            pb_str member = pb_pool_strdup(pool, (pb_str){m->str, m->len});
            if (!pb_redis_account_parse(member, &account) || !pb_redis_parse_u64(s->str, s->len, &seq))
                continue;
            pb_str key = pb_redis_account_key(pool, store, access_id, &account);
            pb_str index_member = pb_redis_index_member(pool, seq, tokens[i]);
            pb_redis_cmd_key(&out[c], pool, true, 3, "ZREM", key);
            pb_redis_cmd_arg(&out[c++], 2, index_member.base, index_member.len);
        }
    }
    size_t gone = c;
    if (gone != 0) {
        pb_str app = pb_redis_app_key(pool, store, "app", access_id);
        char *delta = pb_pool_alloc(pool, 24);
        pb_redis_cmd_key(&out[c], pool, true, 4, "HINCRBY", app);
        pb_redis_cmd_arg(&out[c], 2, "bindings", 8);
        pb_redis_cmd_arg(&out[c++], 3, delta, (size_t)snprintf(delta, 24, "-%zu", gone));
    }
    pb_metrics_count_expired(gone);
    *cleanup = out;
    *n_cleanup = c;
    return gone;
}

uint64_t pb_redis_expire_tokens(pb_redis_session *session, uint64_t access_id, const pb_str *tokens, size_t n,
                                int64_t now, pb_pool *pool, int64_t *earliest)
{
    if (n == 0)
        return 0;
    pb_redis_cmd *cmds = pb_pool_alloc(pool, n * sizeof(*cmds)), *cleanup;
    size_t n_cleanup;
    pb_redis_expire_cmds(cmds, pool, session->store, access_id, tokens, n, now);
    pb_redis_run(&session->conn, cmds, n);
    size_t gone = pb_redis_expire_judge(&session->conn, session->store, access_id, tokens, cmds, n, pool, earliest,
                                        &cleanup, &n_cleanup);
    pb_redis_release(cmds, n);
    if (n_cleanup != 0) {
        pb_redis_run(&session->conn, cleanup, n_cleanup);
        pb_redis_release(cleanup, n_cleanup);
    }
    return gone;
}

/* ---- The sweeper ------------------------------------------------------ */

/* One entry taken from a shard of the expiry index. */
struct entry {
    unsigned shard;
    pb_str token, score;
};

/*
 * One step for one app: up to PB_REDIS_SWEEP_TOKENS due entries of each
 * shard (one round), their tokens expired (expire_tokens' rounds), their
 * entries rescored (one round). Returns the entries taken.
 */
static size_t sweep_app(pb_redis_session *session, uint64_t access_id, int64_t now, pb_pool *pool)
{
    const pb_redis_store *store = session->store;
    pb_redis_cmd shards[PB_REDIS_EXPIRY_SHARDS];
    pb_str keys[PB_REDIS_EXPIRY_SHARDS];
    pb_str due = pb_redis_decimal(pool, (uint64_t)(now - store->binding_ttl));
    char limit[16];
    int limit_len = snprintf(limit, sizeof(limit), "%d", PB_REDIS_SWEEP_TOKENS);
    for (unsigned s = 0; s < PB_REDIS_EXPIRY_SHARDS; s++) {
        keys[s] = pb_redis_expiry_key(pool, store, access_id, s);
        pb_redis_cmd_init(&shards[s], pool, pb_redis_slot_of(keys[s]), false, 8);
        const char *args[] = {"ZRANGEBYSCORE", keys[s].base, "-inf", due.base, "WITHSCORES", "LIMIT", "0", limit};
        size_t lens[] = {13, keys[s].len, 4, due.len, 10, 5, 1, (size_t)limit_len};
        for (int k = 0; k < 8; k++)
            pb_redis_cmd_arg(&shards[s], k, args[k], lens[k]);
    }
    pb_redis_run(&session->conn, shards, PB_REDIS_EXPIRY_SHARDS);
    struct entry *entries = pb_pool_alloc(pool, PB_REDIS_EXPIRY_SHARDS * PB_REDIS_SWEEP_TOKENS * sizeof(*entries));
    size_t n = 0;
    for (unsigned s = 0; s < PB_REDIS_EXPIRY_SHARDS; s++) {
        const redisReply *reply = shards[s].reply;
        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
            continue;
        for (size_t j = 0; j + 1 < reply->elements && n < PB_REDIS_EXPIRY_SHARDS * PB_REDIS_SWEEP_TOKENS; j += 2)
            if (reply->element[j]->type == REDIS_REPLY_STRING && reply->element[j + 1]->type == REDIS_REPLY_STRING)
                entries[n++] = (struct entry){
                    s, pb_pool_strdup(pool, (pb_str){reply->element[j]->str, reply->element[j]->len}),
                    pb_pool_strdup(pool, (pb_str){reply->element[j + 1]->str, reply->element[j + 1]->len})};
    }
    pb_redis_release(shards, PB_REDIS_EXPIRY_SHARDS);
    if (n == 0)
        return 0;

    pb_str *tokens = pb_pool_alloc(pool, n * sizeof(*tokens));
    int64_t *earliest = pb_pool_alloc(pool, n * sizeof(*earliest));
    for (size_t i = 0; i < n; i++)
        tokens[i] = entries[i].token;
    pb_redis_expire_tokens(session, access_id, tokens, n, now, pool, earliest);

    size_t per_shard[PB_REDIS_EXPIRY_SHARDS] = {0}, n_cmds = 0;
    for (size_t i = 0; i < n; i++)
        if (earliest[i] >= 0)
            per_shard[entries[i].shard]++;
    pb_redis_cmd rescores[PB_REDIS_EXPIRY_SHARDS];
    for (unsigned s = 0; s < PB_REDIS_EXPIRY_SHARDS; s++) {
        if (per_shard[s] == 0)
            continue;
        pb_redis_cmd *cmd = &rescores[n_cmds++];
        pb_redis_cmd_script(cmd, pool, &store->scripts.rescore, 4 + 3 * (int)per_shard[s], keys[s]);
        int arg = 4;
        for (size_t i = 0; i < n; i++) {
            if (entries[i].shard != s || earliest[i] < 0)
                continue;
            pb_str score = pb_redis_decimal(pool, (uint64_t)earliest[i]);
            pb_redis_cmd_arg(cmd, arg++, entries[i].token.base, entries[i].token.len);
            pb_redis_cmd_arg(cmd, arg++, entries[i].score.base, entries[i].score.len);
            pb_redis_cmd_arg(cmd, arg++, score.base, score.len);
        }
    }
    if (n_cmds != 0) {
        pb_redis_run(&session->conn, rescores, n_cmds);
        pb_redis_release(rescores, n_cmds);
    }
    return n;
}

static bool stopping(void *arg)
{
    pb_redis_sweeper *sweeper = arg;
    pthread_mutex_lock(&sweeper->lock);
    bool stop = sweeper->stopping;
    pthread_mutex_unlock(&sweeper->lock);
    return stop;
}

/*
 * One step over every app: with a TTL, walks of apps written without one
 * first, then the expiry indexes; then deleted tags' pairs. Returns the
 * entries taken or added and the pairs freed.
 */
static size_t sweep_step(pb_redis_sweeper *sweeper, pb_redis_session *session, pb_redis_session *scanner)
{
    pb_pool *pool = &session->pool;
    const pb_redis_store *store = session->store;
    size_t taken = 0;
    pb_redis_cmd apps;
    pb_redis_cmd_key(&apps, pool, false, 2, "SMEMBERS", pb_redis_apps_key(pool, store));
    uint64_t *ids = NULL;
    size_t n = 0;
    if (pb_redis_run(&session->conn, &apps, 1) == 0 && apps.reply != NULL && apps.reply->type == REDIS_REPLY_ARRAY) {
        ids = pb_pool_alloc(pool, apps.reply->elements * sizeof(*ids));
        for (size_t i = 0; i < apps.reply->elements; i++)
            if (apps.reply->element[i]->type == REDIS_REPLY_STRING &&
                pb_redis_parse_u64(apps.reply->element[i]->str, apps.reply->element[i]->len, &ids[n]))
                n++;
    }
    pb_redis_release(&apps, 1);
    int64_t now = pb_clock_unix_s();
    if (store->binding_ttl > 0) {
        taken += pb_redis_backfill(session, scanner, ids, n, now, stopping, sweeper);
        for (size_t i = 0; i < n; i++)
            taken += sweep_app(session, ids[i], now, pool);
    }
    taken += pb_redis_tag_graves_step(session, ids, n, now, pool);
    pb_pool_clear(pool);
    return taken;
}

/* Sleeps `ms` or until stopped; false once stopping. */
static bool nap(pb_redis_sweeper *sweeper, unsigned ms)
{
    struct timespec until = pb_clock_deadline_ms(ms);
    pthread_mutex_lock(&sweeper->lock);
    while (!sweeper->stopping && pthread_cond_timedwait(&sweeper->wake, &sweeper->lock, &until) == 0)
        ;
    bool going = !sweeper->stopping;
    pthread_mutex_unlock(&sweeper->lock);
    return going;
}

static void *sweeper_main(void *arg)
{
    pb_redis_sweeper *sweeper = arg;
    if (sweeper->store->metrics != NULL)
        pb_metrics_thread_attach(sweeper->store->metrics);
    pb_redis_session *session = pb_redis_session_open(sweeper->store);
    pb_redis_session *scanner = pb_redis_session_open(sweeper->store);
    unsigned ms = PB_REDIS_SWEEP_IDLE_MS;
    while (nap(sweeper, ms))
        ms = session != NULL && scanner != NULL && sweep_step(sweeper, session, scanner) != 0 ? PB_REDIS_SWEEP_BUSY_MS
                                                                                              : PB_REDIS_SWEEP_IDLE_MS;
    pb_redis_session_close(scanner);
    pb_redis_session_close(session);
    pb_metrics_thread_detach();
    return NULL;
}

pb_redis_sweeper *pb_redis_sweeper_start(pb_redis_store *store)
{
    pb_redis_sweeper *sweeper = calloc(1, sizeof(*sweeper));
    if (sweeper == NULL)
        return NULL;
    sweeper->store = store;
    pthread_mutex_init(&sweeper->lock, NULL);
    pthread_cond_init(&sweeper->wake, NULL);
    if (pthread_create(&sweeper->thread, NULL, sweeper_main, sweeper) != 0) {
        pthread_mutex_destroy(&sweeper->lock);
        pthread_cond_destroy(&sweeper->wake);
        free(sweeper);
        return NULL;
    }
    return sweeper;
}

void pb_redis_sweeper_stop(pb_redis_sweeper *sweeper)
{
    if (sweeper == NULL)
        return;
    pthread_mutex_lock(&sweeper->lock);
    sweeper->stopping = true;
    pthread_cond_broadcast(&sweeper->wake);
    pthread_mutex_unlock(&sweeper->lock);
    pthread_join(sweeper->thread, NULL);
    pthread_mutex_destroy(&sweeper->lock);
    pthread_cond_destroy(&sweeper->wake);
    free(sweeper);
}
