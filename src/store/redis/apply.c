/*
 * apply.c — pb_store_apply() for the Redis backend.
 *
 * Every change is made of single-key atomic steps, in this order:
 *   1. read    the token's record and the count of each new account's index;
 *              refuse over a limit here, before anything is written;
 *   2. reserve an index member "seq|token" on each new account's index,
 *              refused atomically when the index is full (reserve script);
 *   3. change  the token's record in one script, which re-checks the
 *              accounts-per-token limit atomically (change script);
 *   4. clean   the index members of removed bindings and of reservations the
 *              record did not take.
 * A binding becomes visible by token at step 3, and by account only once step
 * 3 confirms the member step 2 wrote; so whatever step fails, nothing is half
 * visible. Step 2's members are undone only when step 3 certainly did not run
 * (refused, or never sent); after an unknown outcome they stay, and merely
 * count against the account's limit.
 *
 * Changes that cannot see each other (appends and removes sharing no token
 * and no account: a wave) take each step together, so a batch of such
 * changes costs four pipelined rounds, not four per change.
 * docs/design.md walks through every failure case.
 */
#include <stdio.h>
#include <time.h>

#include "metrics/metrics.h"
#include "store/redis/internal.h"

/*
 * At most this many independent changes share their round trips. It bounds
 * the quadratic check of independence (wave_end) on very large batches.
 */
#define PB_REDIS_WAVE_MAX 32

/* Index members to delete once a wave's changes are made. */
struct cleanup {
    pb_str *keys, *members;
    size_t n, cap;
};

/* One batch being applied. */
struct applier {
    pb_redis_session *session;
    const pb_redis_store *store;
    pb_pool *pool;
    uint64_t access_id;
    uint64_t next_seq;
    int64_t delta; /* bindings created minus bindings removed */
    int64_t now;   /* the batch's clock, read once */
    uint64_t expired; /* bindings the change scripts deleted by expiry */
    struct cleanup cleanup;
    struct cleanup entries; /* expiry index: keys, tokens; scores alongside */
    int64_t *entry_scores;
};

static void cmd_key(pb_redis_cmd *cmd, pb_pool *pool, bool write, int argc, const char *verb, pb_str key)
{
    pb_redis_cmd_init(cmd, pool, pb_redis_slot_of(key), write, argc);
    pb_redis_cmd_arg(cmd, 0, verb, strlen(verb));
    pb_redis_cmd_arg(cmd, 1, key.base, key.len);
}

static void cmd_script(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_script *script, int argc, pb_str key)
{
    pb_redis_cmd_init(cmd, pool, pb_redis_slot_of(key), true, argc);
    pb_redis_cmd_arg(cmd, 0, "EVALSHA", 7);
    pb_redis_cmd_arg(cmd, 1, script->sha1, 40);
    pb_redis_cmd_arg(cmd, 2, "1", 1);
    pb_redis_cmd_arg(cmd, 3, key.base, key.len);
    cmd->script = script;
}

/* The change script on a token's record and details (arguments from 5 on are ARGV). */
static void cmd_change(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                       pb_str token, int argc)
{
    pb_str key = pb_redis_token_key(pool, store, access_id, token);
    pb_str details = pb_redis_times_key(pool, store, access_id, token);
    cmd_script(cmd, pool, &store->scripts.change, argc, key);
    pb_redis_cmd_arg(cmd, 2, "2", 1);
    pb_redis_cmd_arg(cmd, 4, details.base, details.len);
}

/* The change script's head, ARGV 1-6: mode, limit, now, ttl, platform, n. */
static void change_head(pb_redis_cmd *cmd, pb_pool *pool, const struct applier *a, char mode, uint64_t limit,
                        int64_t ttl, pb_platform platform, size_t n)
{
    static const char modes[] = "aorcxe", platforms[] = "012";
    pb_str l = pb_redis_decimal(pool, limit), now = pb_redis_decimal(pool, (uint64_t)a->now);
    pb_str t = pb_redis_decimal(pool, (uint64_t)ttl), count = pb_redis_decimal(pool, n);
    pb_redis_cmd_arg(cmd, 5, strchr(modes, mode), 1);
    pb_redis_cmd_arg(cmd, 6, l.base, l.len);
    pb_redis_cmd_arg(cmd, 7, now.base, now.len);
    pb_redis_cmd_arg(cmd, 8, t.base, t.len);
    pb_redis_cmd_arg(cmd, 9, &platforms[platform <= PB_PLATFORM_IOS ? platform : 0], 1);
    pb_redis_cmd_arg(cmd, 10, count.base, count.len);
}

/* Deletes index members this batch owns, or that name removed bindings. Best effort. */
static void index_remove(struct applier *a, const pb_str *keys, const pb_str *members, size_t n)
{
    if (n == 0)
        return;
    pb_redis_cmd *cmds = pb_pool_alloc(a->pool, n * sizeof(*cmds));
    for (size_t i = 0; i < n; i++) {
        cmd_key(&cmds[i], a->pool, true, 3, "ZREM", keys[i]);
        pb_redis_cmd_arg(&cmds[i], 2, members[i].base, members[i].len);
    }
    pb_redis_run(&a->session->conn, cmds, n);
    pb_redis_release(cmds, n);
}

/* Whether `member` is among the strings of an array reply. */
static bool reply_has(const redisReply *reply, pb_str member)
{
    for (size_t i = 0; i < reply->elements; i++)
        if (pb_str_eq((pb_str){reply->element[i]->str, reply->element[i]->len}, member))
            return true;
    return false;
}

static void cleanup_grow(struct applier *a, struct cleanup *c)
{
    if (c->n == c->cap) {
        size_t cap = c->cap == 0 ? 16 : c->cap * 2;
        pb_str *keys = pb_pool_alloc(a->pool, cap * sizeof(*keys));
        pb_str *members = pb_pool_alloc(a->pool, cap * sizeof(*members));
        if (c->n != 0) {
            memcpy(keys, c->keys, c->n * sizeof(*keys));
            memcpy(members, c->members, c->n * sizeof(*members));
        }
        *c = (struct cleanup){keys, members, c->n, cap};
    }
}

/* Index members to delete at the end of a wave, in one pipelined round. */
static void cleanup_add(struct applier *a, pb_str key, pb_str member)
{
    struct cleanup *c = &a->cleanup;
    cleanup_grow(a, c);
    c->keys[c->n] = key;
    c->members[c->n++] = member;
}

/* A token's expiry index entry, written with the wave's cleanup: after its change, so a sweep never drops it. */
static void entry_add(struct applier *a, pb_str token, int64_t earliest)
{
    struct cleanup *e = &a->entries;
    size_t cap = e->cap;
    pb_str key = pb_redis_expiry_key(a->pool, a->store, a->access_id,
                                     pb_redis_expiry_shard(pb_redis_token_key(a->pool, a->store, a->access_id, token)));
    cleanup_grow(a, e);
    if (e->cap != cap) {
        int64_t *scores = pb_pool_alloc(a->pool, e->cap * sizeof(*scores));
        if (e->n != 0)
            memcpy(scores, a->entry_scores, e->n * sizeof(*scores));
        a->entry_scores = scores;
    }
    e->keys[e->n] = key;
    e->members[e->n] = token;
    a->entry_scores[e->n++] = earliest;
}

static void cleanup_flush(struct applier *a)
{
    size_t n = a->cleanup.n + a->entries.n;
    if (n == 0)
        return;
    pb_redis_cmd *cmds = pb_pool_alloc(a->pool, n * sizeof(*cmds));
    for (size_t i = 0; i < a->cleanup.n; i++) {
        cmd_key(&cmds[i], a->pool, true, 3, "ZREM", a->cleanup.keys[i]);
        pb_redis_cmd_arg(&cmds[i], 2, a->cleanup.members[i].base, a->cleanup.members[i].len);
    }
    for (size_t i = 0; i < a->entries.n; i++) {
        pb_redis_cmd *cmd = &cmds[a->cleanup.n + i];
        pb_str score = pb_redis_decimal(a->pool, (uint64_t)a->entry_scores[i]);
        cmd_key(cmd, a->pool, true, 4, "ZADD", a->entries.keys[i]);
        pb_redis_cmd_arg(cmd, 2, score.base, score.len);
        pb_redis_cmd_arg(cmd, 3, a->entries.members[i].base, a->entries.members[i].len);
    }
    pb_redis_run(&a->session->conn, cmds, n);
    pb_redis_release(cmds, n);
    a->cleanup.n = a->entries.n = 0;
}

/* A change's new bindings: the accounts to reserve and add. */
struct additions {
    size_t n;
    pb_str *keys;          /* the accounts' index keys */
    pb_str *members;       /* account members (the token's record) */
    pb_str *index_members; /* "seq|token" (the accounts' indexes) */
    pb_str *times;         /* "BIND|LAST" given, or "" for now */
    uint64_t *seqs;
};

/* One change of a wave, between steps. */
struct job {
    const pb_change *change;
    pb_change_outcome *outcome;  /* PB_CHANGE_OK while the job goes on */
    bool going;
    size_t k;      /* listed accounts */
    pb_str *members, *keys, *times; /* times: "BIND|LAST" given, or "" */
    bool purge;    /* an account is full: its expired bindings may make room */
    struct additions adds;
    size_t at;     /* where its commands start in the current step's batch */
};

/* Undoes a job's reservations: its own members, safe to delete whatever others do. */
static void job_stop(struct applier *a, struct job *job, pb_change_outcome outcome, bool undo)
{
    for (size_t i = 0; undo && i < job->adds.n; i++)
        cleanup_add(a, job->adds.keys[i], job->adds.index_members[i]);
    *job->outcome = outcome;
    job->going = false;
}

static bool binds(const struct job *job)
{
    return job->change->kind == PB_CHANGE_APPEND || job->change->kind == PB_CHANGE_OVERWRITE;
}

/* Step 1 for one job: its commands (the token's record, each account's index size). */
static void read_prepare(struct applier *a, struct job *job, pb_redis_cmd *cmds)
{
    pb_pool *pool = a->pool;
    const pb_change *change = job->change;
    cmd_key(&cmds[0], pool, false, 4, "ZRANGE", pb_redis_token_key(pool, a->store, a->access_id, change->token));
    pb_redis_cmd_arg(&cmds[0], 2, "0", 1);
    pb_redis_cmd_arg(&cmds[0], 3, "-1", 2);
    for (size_t i = 0; i < job->k; i++)
        cmd_key(&cmds[1 + i], pool, false, 2, "ZCARD", job->keys[i]);
    if (a->store->binding_ttl > 0)
        cmd_key(&cmds[1 + job->k], pool, false, 2, "HGETALL",
                pb_redis_times_key(pool, a->store, a->access_id, change->token));
}

/* Whether the token's record (and, with a TTL, its details) holds `member` bound and not expired. */
static bool bound_alive(const struct applier *a, const redisReply *record, const redisReply *details, pb_str member)
{
    if (!reply_has(record, member))
        return false;
    if (details == NULL)
        return true;
    pb_binding_times times = {0, 0};
    for (size_t i = 0; i + 1 < details->elements; i += 2)
        if (pb_str_eq((pb_str){details->element[i]->str, details->element[i]->len}, member)) {
            pb_redis_times_parse(details->element[i + 1]->str, details->element[i + 1]->len, &times);
            break;
        }
    return !pb_redis_expired(a->store, times.last_bind_time, a->now);
}

/*
 * Step 1's verdict for one job: which accounts are new (each gets the next
 * seq, so new bindings are created in list and batch order), and whether a
 * limit refuses the change before anything is written.
 */
static void read_judge(struct applier *a, struct job *job, const pb_redis_cmd *cmds, bool may_purge)
{
    const pb_store_limits *limits = &a->store->limits;
    const pb_change *change = job->change;
    bool ttl = a->store->binding_ttl > 0;
    for (size_t i = 0; i <= job->k + ttl; i++)
        if (pb_redis_reply_failed(&a->session->conn, cmds[i].reply, "read before bind") ||
            cmds[i].reply->type != (i == 0 || i > job->k ? REDIS_REPLY_ARRAY : REDIS_REPLY_INTEGER)) {
            job_stop(a, job, PB_CHANGE_FAILED, false);
            return;
        }
    const redisReply *record = cmds[0].reply, *details = ttl ? cmds[1 + job->k].reply : NULL;
    size_t live = 0;
    for (size_t i = 0; i < record->elements; i++)
        live += bound_alive(a, record, details, (pb_str){record->element[i]->str, record->element[i]->len});
    bool refused = false;
    struct additions *adds = &job->adds;
    for (size_t i = 0; i < job->k; i++) {
        if (bound_alive(a, record, details, job->members[i]))
            continue;
        /* The index counts expired bindings too until they are deleted: with a TTL, a full one is purged first. */
        if ((uint64_t)cmds[1 + i].reply->integer + 1 > limits->max_tokens_per_account) {
            if (ttl && may_purge)
                job->purge = true;
            else
                refused = true;
        }
        adds->keys[adds->n] = job->keys[i];
        adds->members[adds->n] = job->members[i];
        adds->times[adds->n] = job->times[i];
        adds->seqs[adds->n] = a->next_seq++;
        adds->index_members[adds->n] = pb_redis_index_member(a->pool, adds->seqs[adds->n], change->token);
        adds->n++;
    }
    /* A token already over a lowered limit may still be re-sent what it has. */
    if (refused || (change->kind == PB_CHANGE_APPEND && adds->n != 0 &&
                    live + adds->n > limits->max_accounts_per_token)) {
        adds->n = 0;
        job_stop(a, job, PB_CHANGE_OVER_LIMIT, false);
    }
}

/*
 * Deletes the expired bindings of the full accounts step 1 found: each
 * token their indexes name is expired (expiry.c). Rare: only an account at
 * its limit costs these rounds.
 */
static void purge_accounts(struct applier *a, struct job *jobs, size_t n)
{
    size_t total = 0, n_tokens = 0;
    for (size_t j = 0; j < n; j++)
        if (jobs[j].purge)
            total += jobs[j].adds.n;
    pb_redis_cmd *cmds = pb_pool_alloc(a->pool, total * sizeof(*cmds));
    for (size_t j = 0, at = 0; j < n; j++)
        for (size_t i = 0; jobs[j].purge && i < jobs[j].adds.n; i++) {
            cmd_key(&cmds[at], a->pool, false, 4, "ZRANGE", jobs[j].adds.keys[i]);
            pb_redis_cmd_arg(&cmds[at], 2, "0", 1);
            pb_redis_cmd_arg(&cmds[at++], 3, "-1", 2);
        }
    pb_redis_run(&a->session->conn, cmds, total);
    for (size_t i = 0; i < total; i++)
        if (cmds[i].reply != NULL && cmds[i].reply->type == REDIS_REPLY_ARRAY)
            n_tokens += cmds[i].reply->elements;
    pb_str *tokens = pb_pool_alloc(a->pool, n_tokens * sizeof(*tokens));
    n_tokens = 0;
    for (size_t i = 0; i < total; i++)
        for (size_t k = 0; cmds[i].reply != NULL && cmds[i].reply->type == REDIS_REPLY_ARRAY &&
                           k < cmds[i].reply->elements; k++) {
            const redisReply *m = cmds[i].reply->element[k];
            uint64_t seq;
            pb_str member = pb_pool_strdup(a->pool, (pb_str){m->str, m->len});
            if (m->type == REDIS_REPLY_STRING && pb_redis_index_parse(member, &seq, &tokens[n_tokens]))
                n_tokens++;
        }
    pb_redis_release(cmds, total);
    pb_redis_expire_tokens(a->session, a->access_id, tokens, n_tokens, a->now, a->pool, NULL);
}

/* Step 1 for the wave: one pipelined round (and, for a full account with a TTL, a purge and a second one). */
static void wave_read(struct applier *a, struct job *jobs, size_t n, bool may_purge)
{
    size_t total = 0;
    bool ttl = a->store->binding_ttl > 0, purge = false;
    uint64_t first_seq = a->next_seq;
    for (size_t j = 0; j < n; j++)
        if (jobs[j].going && binds(&jobs[j])) {
            jobs[j].at = total;
            total += jobs[j].k + 1 + ttl;
        }
    if (total == 0)
        return;
    pb_redis_cmd *cmds = pb_pool_alloc(a->pool, total * sizeof(*cmds));
    for (size_t j = 0; j < n; j++)
        if (jobs[j].going && binds(&jobs[j]))
            read_prepare(a, &jobs[j], cmds + jobs[j].at);
    pb_redis_run(&a->session->conn, cmds, total);
    for (size_t j = 0; j < n; j++)
        if (jobs[j].going && binds(&jobs[j])) {
            read_judge(a, &jobs[j], cmds + jobs[j].at, may_purge);
            purge |= jobs[j].purge;
        }
    pb_redis_release(cmds, total);
    if (!purge)
        return;
    purge_accounts(a, jobs, n);
    /* Judged again from the start: the seqs given out are given again, in the same order. */
    a->next_seq = first_seq;
    for (size_t j = 0; j < n; j++) {
        jobs[j].adds.n = 0;
        jobs[j].purge = false;
    }
    wave_read(a, jobs, n, false);
}

/* Step 2 for the wave: every new account's reservation, one pipelined round. */
static void wave_reserve(struct applier *a, struct job *jobs, size_t n)
{
    size_t total = 0;
    for (size_t j = 0; j < n; j++)
        if (jobs[j].going) {
            jobs[j].at = total;
            total += jobs[j].adds.n;
        }
    if (total == 0)
        return;
    pb_pool *pool = a->pool;
    pb_redis_cmd *cmds = pb_pool_alloc(pool, total * sizeof(*cmds));
    pb_str limit = pb_redis_decimal(pool, a->store->limits.max_tokens_per_account);
    for (size_t j = 0; j < n; j++) {
        const struct additions *adds = &jobs[j].adds;
        for (size_t i = 0; jobs[j].going && i < adds->n; i++) {
            pb_redis_cmd *cmd = &cmds[jobs[j].at + i];
            pb_str seq = pb_redis_decimal(pool, adds->seqs[i]);
            cmd_script(cmd, pool, &a->store->scripts.reserve, 7, adds->keys[i]);
            pb_redis_cmd_arg(cmd, 4, limit.base, limit.len);
            pb_redis_cmd_arg(cmd, 5, adds->index_members[i].base, adds->index_members[i].len);
            pb_redis_cmd_arg(cmd, 6, seq.base, seq.len);
        }
    }
    pb_redis_run(&a->session->conn, cmds, total);
    for (size_t j = 0; j < n; j++) {
        bool reserved = true, refused = false;
        for (size_t i = 0; jobs[j].going && i < jobs[j].adds.n; i++) {
            const redisReply *reply = cmds[jobs[j].at + i].reply;
            if (pb_redis_reply_failed(&a->session->conn, reply, "reserve") || reply->type != REDIS_REPLY_INTEGER)
                reserved = false;
            else if (reply->integer == 0)
                refused = true;
        }
        /* The record was not touched: every member the job wrote is its own to undo. */
        if (jobs[j].going && (!reserved || refused))
            job_stop(a, &jobs[j], reserved ? PB_CHANGE_OVER_LIMIT : PB_CHANGE_FAILED, true);
    }
    pb_redis_release(cmds, total);
}

/* Step 3 for one job: the change script with its mode and operands. */
static void change_prepare(struct applier *a, const struct job *job, pb_redis_cmd *cmd)
{
    static const char modes[] = {[PB_CHANGE_APPEND] = 'a', [PB_CHANGE_OVERWRITE] = 'o',
                                 [PB_CHANGE_REMOVE] = 'r', [PB_CHANGE_CLEAR_TOKEN] = 'c'};
    pb_pool *pool = a->pool;
    const pb_change *change = job->change;
    const struct additions *adds = &job->adds;
    /* Append and overwrite re-bind the listed accounts; remove takes them away; clear needs none. */
    size_t n_operands = change->kind == PB_CHANGE_CLEAR_TOKEN ? 0 : job->k;
    cmd_change(cmd, pool, a->store, a->access_id, change->token, 11 + 3 * (int)adds->n + 2 * (int)n_operands);
    change_head(cmd, pool, a, modes[change->kind], a->store->limits.max_accounts_per_token, a->store->binding_ttl,
                binds(job) ? change->platform : PB_PLATFORM_NONE, adds->n);
    int arg = 11;
    for (size_t i = 0; i < adds->n; i++) {
        pb_str seq = pb_redis_decimal(pool, adds->seqs[i]);
        pb_redis_cmd_arg(cmd, arg++, adds->members[i].base, adds->members[i].len);
        pb_redis_cmd_arg(cmd, arg++, seq.base, seq.len);
        pb_redis_cmd_arg(cmd, arg++, adds->times[i].base, adds->times[i].len);
    }
    for (size_t i = 0; i < n_operands; i++) {
        pb_redis_cmd_arg(cmd, arg++, job->members[i].base, job->members[i].len);
        pb_redis_cmd_arg(cmd, arg++, job->times[i].base, job->times[i].len);
    }
}

/*
 * Step 3's outcome for one job, and step 4 queued: the index members of
 * removed bindings, and of reservations the record did not take (the account
 * was already bound, under its own seq).
 */
static void change_judge(struct applier *a, struct job *job, const pb_redis_cmd *cmd)
{
    const redisReply *reply = cmd->reply;
    const struct additions *adds = &job->adds;
    bool refused = reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
                   reply->element[0]->type == REDIS_REPLY_INTEGER && reply->element[0]->integer == 0;
    if (refused) {
        job_stop(a, job, PB_CHANGE_OVER_LIMIT, true);
        return;
    }
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 + adds->n ||
        reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[1]->type != REDIS_REPLY_INTEGER ||
        reply->element[2]->type != REDIS_REPLY_INTEGER) {
        pb_redis_reply_failed(&a->session->conn, reply, "change token");
        /* Undo only what certainly did not run: after an unknown outcome the
         * reservations may be the new bindings' index. */
        job_stop(a, job, PB_CHANGE_FAILED, !cmd->sent);
        return;
    }
    a->expired += (uint64_t)reply->element[1]->integer;
    if (reply->element[2]->integer > 0 && binds(job))
        entry_add(a, job->change->token, reply->element[2]->integer);
    for (size_t i = 0; i < adds->n; i++) {
        if (reply->element[3 + i]->type == REDIS_REPLY_INTEGER && reply->element[3 + i]->integer == 1)
            a->delta++;
        else
            cleanup_add(a, adds->keys[i], adds->index_members[i]);
    }
    for (size_t j = 3 + adds->n; j + 1 < reply->elements; j += 2) {
        const redisReply *m = reply->element[j], *s = reply->element[j + 1];
        pb_account account;
        uint64_t seq;
        if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING)
            continue;
        pb_str member = pb_pool_strdup(a->pool, (pb_str){m->str, m->len});
        if (!pb_redis_account_parse(member, &account) || !pb_redis_parse_u64(s->str, s->len, &seq))
            continue;
        a->delta--;
        cleanup_add(a, pb_redis_account_key(a->pool, a->store, a->access_id, &account),
                    pb_redis_index_member(a->pool, seq, job->change->token));
    }
    job->going = false;
}

/* Step 3 for the wave: one pipelined round of change scripts. */
static void wave_change(struct applier *a, struct job *jobs, size_t n)
{
    size_t total = 0;
    for (size_t j = 0; j < n; j++)
        if (jobs[j].going)
            jobs[j].at = total++;
    if (total == 0)
        return;
    pb_redis_cmd *cmds = pb_pool_alloc(a->pool, total * sizeof(*cmds));
    for (size_t j = 0; j < n; j++)
        if (jobs[j].going)
            change_prepare(a, &jobs[j], &cmds[jobs[j].at]);
    pb_redis_run(&a->session->conn, cmds, total);
    for (size_t j = 0; j < n; j++)
        if (jobs[j].going)
            change_judge(a, &jobs[j], &cmds[jobs[j].at]);
    pb_redis_release(cmds, total);
}

/*
 * Runs changes of kinds 1-4 together, each step one pipelined round for all
 * of them: read, reserve, change, clean. The wave's changes are independent
 * (see wave_end()), so running them side by side gives what running them in
 * order would.
 */
static void run_wave(struct applier *a, const pb_change *changes, pb_change_outcome *outcomes, size_t n)
{
    pb_pool *pool = a->pool;
    struct job *jobs = pb_pool_alloc(pool, n * sizeof(*jobs));
    for (size_t j = 0; j < n; j++) {
        const pb_change *change = &changes[j];
        size_t k = change->n_accounts;
        struct job *job = &jobs[j];
        *job = (struct job){.change = change, .outcome = &outcomes[j], .going = true, .k = k};
        outcomes[j] = PB_CHANGE_OK;
        if (change->kind == PB_CHANGE_OVERWRITE && k > a->store->limits.max_accounts_per_token) {
            job_stop(a, job, PB_CHANGE_OVER_LIMIT, false);
            continue;
        }
        job->members = pb_pool_alloc(pool, k * sizeof(*job->members));
        job->keys = pb_pool_alloc(pool, k * sizeof(*job->keys));
        job->times = pb_pool_alloc(pool, k * sizeof(*job->times));
        for (size_t i = 0; i < k; i++) {
            job->members[i] = pb_redis_account_member(pool, &change->accounts[i]);
            job->keys[i] = pb_redis_account_key(pool, a->store, a->access_id, &change->accounts[i]);
            job->times[i] = (pb_str){"", 0};
            if (change->times != NULL && binds(job)) {
                char *text = pb_pool_alloc(pool, 48);
                int len = snprintf(text, 48, "%lld|%lld", (long long)change->times[i].bind_time,
                                   (long long)change->times[i].last_bind_time);
                job->times[i] = (pb_str){text, (size_t)len};
            }
        }
        if (binds(job))
            job->adds = (struct additions){
                .keys = pb_pool_alloc(pool, k * sizeof(pb_str)),
                .members = pb_pool_alloc(pool, k * sizeof(pb_str)),
                .index_members = pb_pool_alloc(pool, k * sizeof(pb_str)),
                .times = pb_pool_alloc(pool, k * sizeof(pb_str)),
                .seqs = pb_pool_alloc(pool, k * sizeof(uint64_t)),
            };
    }
    wave_read(a, jobs, n, true);
    wave_reserve(a, jobs, n);
    wave_change(a, jobs, n);
    cleanup_flush(a);
}

static bool shares_an_account(const pb_change *x, const pb_change *y)
{
    for (size_t i = 0; i < x->n_accounts; i++)
        for (size_t j = 0; j < y->n_accounts; j++)
            if (pb_account_eq(&x->accounts[i], &y->accounts[j]))
                return true;
    return false;
}

/*
 * Where the wave starting at changes[0] ends. Appends and removes that share
 * no token and no account cannot see each other, so they run together.
 * Overwrite and clear token remove accounts not named in the request, and
 * clear account touches tokens not named either: each runs alone, in order.
 */
static size_t wave_end(const pb_change *changes, size_t n)
{
    size_t end = 1;
    for (; end < n && end < PB_REDIS_WAVE_MAX; end++) {
        const pb_change *next = &changes[end];
        if (next->kind != PB_CHANGE_APPEND && next->kind != PB_CHANGE_REMOVE)
            break;
        for (size_t i = 0; i < end; i++)
            if ((changes[i].kind != PB_CHANGE_APPEND && changes[i].kind != PB_CHANGE_REMOVE) ||
                pb_str_eq(changes[i].token, next->token) || shares_an_account(&changes[i], next))
                return end;
    }
    return end;
}

/*
 * CLEAR_ACCOUNT: read the account's index, remove from each token's record
 * the binding an index member names (only with that exact seq), then the
 * members whose binding was removed. A member not confirmed by its record is
 * left alone: it may belong to a bind still in flight.
 */
static void clear_account(struct applier *a, const pb_account *account, pb_change_outcome *outcome)
{
    pb_pool *pool = a->pool;
    pb_str key = pb_redis_account_key(pool, a->store, a->access_id, account);
    pb_str member = pb_redis_account_member(pool, account);
    pb_redis_cmd read, *changes = NULL;
    size_t n = 0;
    cmd_key(&read, pool, false, 5, "ZRANGE", key);
    pb_redis_cmd_arg(&read, 2, "0", 1);
    pb_redis_cmd_arg(&read, 3, "-1", 2);
    pb_redis_cmd_arg(&read, 4, "WITHSCORES", 10);
    *outcome = PB_CHANGE_FAILED;
    if (pb_redis_run(&a->session->conn, &read, 1) != 0 ||
        pb_redis_reply_failed(&a->session->conn, read.reply, "clear account") || read.reply->type != REDIS_REPLY_ARRAY)
        goto done;
    pb_str *index_members = pb_pool_alloc(pool, read.reply->elements * sizeof(*index_members));
    changes = pb_pool_alloc(pool, read.reply->elements * sizeof(*changes));
    for (size_t j = 0; j + 1 < read.reply->elements; j += 2) {
        uint64_t seq;
        pb_str token;
        index_members[n] = pb_pool_strdup(pool, (pb_str){read.reply->element[j]->str, read.reply->element[j]->len});
        if (!pb_redis_index_parse(index_members[n], &seq, &token))
            continue;
        pb_str seq_text = pb_redis_decimal(pool, seq);
        cmd_change(&changes[n], pool, a->store, a->access_id, token, 13);
        change_head(&changes[n], pool, a, 'x', 0, 0, PB_PLATFORM_NONE, 0);
        pb_redis_cmd_arg(&changes[n], 11, member.base, member.len);
        pb_redis_cmd_arg(&changes[n], 12, seq_text.base, seq_text.len);
        n++;
    }
    bool all_ran = n == 0 || pb_redis_run(&a->session->conn, changes, n) == 0;
    pb_str *keys = pb_pool_alloc(pool, n * sizeof(*keys)), *removed = pb_pool_alloc(pool, n * sizeof(*removed));
    size_t n_removed = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *reply = changes[i].reply;
        if (pb_redis_reply_failed(&a->session->conn, reply, "clear account") || reply->type != REDIS_REPLY_ARRAY) {
            all_ran = false;
            continue;
        }
        if (reply->elements >= 5) { /* {1, 0, earliest, member, score}: this binding is gone */
            a->delta--;
            keys[n_removed] = key;
            removed[n_removed++] = index_members[i];
        }
    }
    index_remove(a, keys, removed, n_removed);
    *outcome = all_ran ? PB_CHANGE_OK : PB_CHANGE_FAILED;
done:
    pb_redis_release(&read, 1);
    if (changes != NULL)
        pb_redis_release(changes, n);
}

/*
 * Checks the app exists and takes one seq for every binding the batch might
 * create, in one round trip to the app's node: seqs from one counter give new
 * bindings a single creation order across the whole app.
 */
static int begin_batch(struct applier *a, const pb_change *changes, size_t n)
{
    uint64_t wanted = 0;
    for (size_t i = 0; i < n; i++)
        if (changes[i].kind == PB_CHANGE_APPEND || changes[i].kind == PB_CHANGE_OVERWRITE)
            wanted += changes[i].n_accounts;
    pb_str app = pb_redis_app_key(a->pool, a->store, "app", a->access_id);
    pb_str seq = pb_redis_app_key(a->pool, a->store, "seq", a->access_id), count = pb_redis_decimal(a->pool, wanted);
    pb_redis_cmd cmd;
    cmd_script(&cmd, a->pool, &a->store->scripts.begin_batch, 6, app);
    pb_redis_cmd_arg(&cmd, 2, "2", 1);
    pb_redis_cmd_arg(&cmd, 4, seq.base, seq.len);
    pb_redis_cmd_arg(&cmd, 5, count.base, count.len);
    int rc = PB_STORE_EIO;
    if (pb_redis_run(&a->session->conn, &cmd, 1) == 0 &&
        !pb_redis_reply_failed(&a->session->conn, cmd.reply, "begin batch") && cmd.reply->type == REDIS_REPLY_INTEGER) {
        if (cmd.reply->integer < 0) {
            rc = PB_STORE_ENOTFOUND;
        } else {
            a->next_seq = (uint64_t)cmd.reply->integer - wanted + 1;
            rc = 0;
        }
    }
    pb_redis_release(&cmd, 1);
    return rc;
}

/* The count only informs `pushbind app list`: one HINCRBY, best effort. */
static void count_bindings(struct applier *a)
{
    if (a->delta == 0)
        return;
    pb_str app = pb_redis_app_key(a->pool, a->store, "app", a->access_id);
    char *delta = pb_pool_alloc(a->pool, 24);
    pb_redis_cmd cmd;
    cmd_key(&cmd, a->pool, true, 4, "HINCRBY", app);
    pb_redis_cmd_arg(&cmd, 2, "bindings", 8);
    pb_redis_cmd_arg(&cmd, 3, delta, (size_t)snprintf(delta, 24, "%lld", (long long)a->delta));
    pb_redis_run(&a->session->conn, &cmd, 1);
    pb_redis_release(&cmd, 1);
}

int pb_redis_apply(pb_redis_session *session, uint64_t access_id, const pb_change *changes, size_t n, pb_change_outcome *outcomes)
{
    struct applier a = {.session = session, .store = session->store, .pool = &session->pool, .access_id = access_id,
                        .now = (int64_t)time(NULL)};
    session->conn.error[0] = '\0';
    int rc = begin_batch(&a, changes, n);
    if (rc != 0)
        goto done;
    for (size_t i = 0; i < n;) {
        if (changes[i].kind == PB_CHANGE_CLEAR_ACCOUNT) {
            outcomes[i] = PB_CHANGE_OVER_LIMIT;
            if (changes[i].n_accounts == 1)
                clear_account(&a, &changes[i].accounts[0], &outcomes[i]);
            i++;
            continue;
        }
        size_t wave = wave_end(changes + i, n - i);
        run_wave(&a, changes + i, outcomes + i, wave);
        i += wave;
    }
    count_bindings(&a);
    if (session->store->wait_replicas != 0 &&
        pb_redis_wait(&session->conn, session->store->wait_replicas, session->store->target.timeout_ms / 2) != 0)
        rc = PB_STORE_EIO;
    if (rc == 0)
        pb_metrics_count_expired(a.expired);
done:
    if (!session->view_open)
        pb_pool_clear(&session->pool);
    return rc;
}
