/*
 * store/redis/apply_wave.c — the steps of a wave: changes whose steps may run side by
 * side (appends and removes sharing no token; see pb_redis_wave_end()) take
 * each step together, one pipelined round for all of them (apply_machine.c
 * says the protocol, apply_machine.h the machine).
 */
#include <stdio.h>

#include "store/redis/apply_machine.h"
#include "store/redis/sweeper.h"

/*
 * At most this many independent changes share their round trips. It bounds
 * the quadratic check of independence (pb_redis_wave_end) on very large batches.
 */
#define PB_REDIS_WAVE_MAX 32

/* Whether `member` is among the strings of an array reply. */
static bool reply_has(const redisReply *reply, pb_str member)
{
    for (size_t i = 0; i < reply->elements; i++)
        if (pb_str_eq((pb_str){reply->element[i]->str, reply->element[i]->len}, member))
            return true;
    return false;
}

/* Ends a job; with `undo`, its reservations go: its own members, safe to delete whatever others do. */
static void job_stop(pb_redis_applier *a, pb_redis_job *job, pb_change_outcome outcome, bool undo)
{
    for (size_t i = 0; undo && i < job->adds.n; i++)
        pb_redis_cleanup_add(a, job->adds.keys[i], job->adds.index_members[i]);
    *job->outcome = outcome;
    job->going = false;
}

static bool binds(const pb_redis_job *job)
{
    return job->change->kind == PB_CHANGE_APPEND || job->change->kind == PB_CHANGE_OVERWRITE;
}

/* A token's expiry index entry, written with the next round: after its change, so a sweep never drops it. */
static void entry_add(pb_redis_applier *a, pb_str token, int64_t earliest)
{
    pb_str key = pb_redis_expiry_key(a->pool, a->store, a->access_id,
                                     pb_redis_expiry_shard(pb_redis_token_key(a->pool, a->store, a->access_id, token)));
    pb_str score = pb_redis_decimal(a->pool, (uint64_t)earliest);
    pb_redis_cmd *cmd = pb_redis_carry(a);
    pb_redis_cmd_key(cmd, a->pool, true, 4, "ZADD", key);
    pb_redis_cmd_arg(cmd, 2, score.base, score.len);
    pb_redis_cmd_arg(cmd, 3, token.base, token.len);
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
 * Whether x and y, in this order, may share a wave's rounds. Appends and
 * removes that share no token and no account cannot see each other. Appends
 * to one account (of different tokens) can share rounds too: step 1 reads
 * the account's size before either, so it may let the later one through,
 * but the reserve scripts run on the account's node in batch order and
 * refuse atomically what would exceed the limit: what running them one
 * after the other would refuse (unless another writer races the earlier
 * one's token and its change is refused after its reserve). Not with a TTL: there a
 * full account makes step 1 expire its bindings first, and the later append
 * would find the account full only at the reserve, past that step.
 */
static bool may_share_a_wave(const pb_change *x, const pb_change *y, bool ttl)
{
    if (pb_str_eq(x->token, y->token))
        return false;
    if (!shares_an_account(x, y))
        return true;
    return !ttl && x->kind == PB_CHANGE_APPEND && y->kind == PB_CHANGE_APPEND;
}

/*
 * Overwrite and clear token remove accounts not named in the request, and
 * clear account touches tokens not named either: each runs alone, in order.
 */
size_t pb_redis_wave_end(const pb_change *changes, size_t n, bool ttl)
{
    size_t end = 1;
    for (; end < n && end < PB_REDIS_WAVE_MAX; end++) {
        const pb_change *next = &changes[end];
        if (next->kind != PB_CHANGE_APPEND && next->kind != PB_CHANGE_REMOVE)
            break;
        for (size_t i = 0; i < end; i++)
            if ((changes[i].kind != PB_CHANGE_APPEND && changes[i].kind != PB_CHANGE_REMOVE) ||
                !may_share_a_wave(&changes[i], next, ttl))
                return end;
    }
    return end;
}

void pb_redis_wave_open(pb_redis_applier *a)
{
    pb_pool *pool = a->pool;
    size_t n = a->wave;
    a->jobs = pb_pool_alloc(pool, n * sizeof(*a->jobs));
    a->may_purge = true;
    for (size_t j = 0; j < n; j++) {
        const pb_change *change = &a->changes[a->at + j];
        size_t k = change->n_accounts;
        pb_redis_job *job = &a->jobs[j];
        *job = (pb_redis_job){.change = change, .outcome = &a->outcomes[a->at + j], .going = true, .k = k};
        *job->outcome = PB_CHANGE_OK;
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
            job->adds = (pb_redis_additions){
                .keys = pb_pool_alloc(pool, k * sizeof(pb_str)),
                .members = pb_pool_alloc(pool, k * sizeof(pb_str)),
                .index_members = pb_pool_alloc(pool, k * sizeof(pb_str)),
                .times = pb_pool_alloc(pool, k * sizeof(pb_str)),
                .seqs = pb_pool_alloc(pool, k * sizeof(uint64_t)),
            };
    }
}

/* ---- Step 1: read ------------------------------------------------------ */

/* One job's reads: the token's record, each account's index size (and, with a TTL, the token's details). */
static void read_prepare(pb_redis_applier *a, pb_redis_job *job, pb_redis_cmd *cmds)
{
    pb_pool *pool = a->pool;
    const pb_change *change = job->change;
    pb_redis_cmd_key(&cmds[0], pool, false, 4, "ZRANGE", pb_redis_token_key(pool, a->store, a->access_id, change->token));
    pb_redis_cmd_arg(&cmds[0], 2, "0", 1);
    pb_redis_cmd_arg(&cmds[0], 3, "-1", 2);
    for (size_t i = 0; i < job->k; i++)
        pb_redis_cmd_key(&cmds[1 + i], pool, false, 2, "ZCARD", job->keys[i]);
    if (a->store->binding_ttl > 0)
        pb_redis_cmd_key(&cmds[1 + job->k], pool, false, 2, "HGETALL",
                         pb_redis_times_key(pool, a->store, a->access_id, change->token));
}

bool pb_redis_wave_read_prepare(pb_redis_applier *a)
{
    size_t total = 0;
    bool ttl = a->store->binding_ttl > 0;
    for (size_t j = 0; j < a->wave; j++)
        if (a->jobs[j].going && binds(&a->jobs[j])) {
            a->jobs[j].at = total;
            total += a->jobs[j].k + 1 + ttl;
        }
    /* The first round also carries begin_batch: it runs even when the wave reads nothing. */
    if (total == 0 && a->begun)
        return false;
    pb_redis_cmd *cmds = pb_redis_round_open(a, total);
    for (size_t j = 0; j < a->wave; j++)
        if (a->jobs[j].going && binds(&a->jobs[j]))
            read_prepare(a, &a->jobs[j], cmds + a->jobs[j].at);
    return true;
}

/* Whether the token's record (and, with a TTL, its details) holds `member` bound and not expired. */
static bool bound_alive(const pb_redis_applier *a, const redisReply *record, const redisReply *details, pb_str member)
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
 * One job's verdict: which accounts are new (each gets the next seq, so new
 * bindings are created in list and batch order), and whether a limit refuses
 * the change before anything is written.
 */
static void read_judge(pb_redis_applier *a, pb_redis_job *job, const pb_redis_cmd *cmds)
{
    const pb_store_limits *limits = &a->store->limits;
    const pb_change *change = job->change;
    bool ttl = a->store->binding_ttl > 0;
    for (size_t i = 0; i <= job->k + ttl; i++)
        if (pb_redis_reply_failed(a->map, cmds[i].reply, "read before bind") ||
            cmds[i].reply->type != (i == 0 || i > job->k ? REDIS_REPLY_ARRAY : REDIS_REPLY_INTEGER)) {
            job_stop(a, job, PB_CHANGE_FAILED, false);
            return;
        }
    const redisReply *record = cmds[0].reply, *details = ttl ? cmds[1 + job->k].reply : NULL;
    size_t live = 0;
    for (size_t i = 0; i < record->elements; i++)
        live += bound_alive(a, record, details, (pb_str){record->element[i]->str, record->element[i]->len});
    bool refused = false;
    pb_redis_additions *adds = &job->adds;
    for (size_t i = 0; i < job->k; i++) {
        if (bound_alive(a, record, details, job->members[i]))
            continue;
        /* The index counts expired bindings too until they are deleted: with a TTL, a full one is purged first. */
        if ((uint64_t)cmds[1 + i].reply->integer + 1 > limits->max_tokens_per_account) {
            if (ttl && a->may_purge)
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

void pb_redis_wave_read_judge(pb_redis_applier *a)
{
    bool purge = false;
    if (a->may_purge)
        a->first_seq = a->next_seq;
    for (size_t j = 0; j < a->wave; j++)
        if (a->jobs[j].going && binds(&a->jobs[j])) {
            read_judge(a, &a->jobs[j], a->cmds + a->step_at + a->jobs[j].at);
            purge |= a->jobs[j].purge;
        }
    a->step = purge ? PB_REDIS_STEP_PURGE_READ : PB_REDIS_STEP_RESERVE;
}

/* ---- Purge: expired bindings of full accounts, then read again ---------- */

/*
 * Rare: only an account at its limit with a TTL costs these rounds. Its
 * index names each token it may be bound to; the change script's 'e' mode
 * deletes what of them has expired (sweeper.h).
 */
bool pb_redis_purge_read_prepare(pb_redis_applier *a)
{
    size_t total = 0;
    for (size_t j = 0; j < a->wave; j++)
        if (a->jobs[j].purge)
            total += a->jobs[j].adds.n;
    pb_redis_cmd *cmds = pb_redis_round_open(a, total);
    for (size_t j = 0, at = 0; j < a->wave; j++)
        for (size_t i = 0; a->jobs[j].purge && i < a->jobs[j].adds.n; i++) {
            pb_redis_cmd_key(&cmds[at], a->pool, false, 4, "ZRANGE", a->jobs[j].adds.keys[i]);
            pb_redis_cmd_arg(&cmds[at], 2, "0", 1);
            pb_redis_cmd_arg(&cmds[at++], 3, "-1", 2);
        }
    return true;
}

/* Judged again from the start: the seqs given out are given again, in the same order. */
static void read_again(pb_redis_applier *a)
{
    a->next_seq = a->first_seq;
    a->may_purge = false;
    for (size_t j = 0; j < a->wave; j++) {
        a->jobs[j].adds.n = 0;
        a->jobs[j].purge = false;
    }
    a->step = PB_REDIS_STEP_READ;
}

void pb_redis_purge_read_judge(pb_redis_applier *a)
{
    const pb_redis_cmd *cmds = a->cmds + a->step_at;
    size_t total = a->n_cmds - a->step_at, n_tokens = 0;
    for (size_t i = 0; i < total; i++)
        if (cmds[i].reply != NULL && cmds[i].reply->type == REDIS_REPLY_ARRAY)
            n_tokens += cmds[i].reply->elements;
    a->purge_tokens = pb_pool_alloc(a->pool, n_tokens * sizeof(*a->purge_tokens));
    a->n_purge = 0;
    for (size_t i = 0; i < total; i++)
        for (size_t k = 0; cmds[i].reply != NULL && cmds[i].reply->type == REDIS_REPLY_ARRAY &&
                           k < cmds[i].reply->elements; k++) {
            const redisReply *m = cmds[i].reply->element[k];
            uint64_t seq;
            pb_str member = pb_pool_strdup(a->pool, (pb_str){m->str, m->len});
            if (m->type == REDIS_REPLY_STRING && pb_redis_index_parse(member, &seq, &a->purge_tokens[a->n_purge]))
                a->n_purge++;
        }
    if (a->n_purge != 0)
        a->step = PB_REDIS_STEP_PURGE_EXPIRE;
    else
        read_again(a);
}

bool pb_redis_purge_expire_prepare(pb_redis_applier *a)
{
    pb_redis_cmd *cmds = pb_redis_round_open(a, a->n_purge);
    pb_redis_expire_cmds(cmds, a->pool, a->store, a->access_id, a->purge_tokens, a->n_purge, a->now);
    return true;
}

/* The index members of what went, and the count, ride with the new read, before it on each key. */
void pb_redis_purge_expire_judge(pb_redis_applier *a)
{
    pb_redis_cmd *cleanup;
    size_t n_cleanup;
    pb_redis_expire_judge(a->map, a->store, a->access_id, a->purge_tokens, a->cmds + a->step_at, a->n_purge,
                          a->pool, NULL, &cleanup, &n_cleanup);
    for (size_t i = 0; i < n_cleanup; i++)
        *pb_redis_carry(a) = cleanup[i];
    read_again(a);
}

/* ---- Step 2: reserve ---------------------------------------------------- */

bool pb_redis_reserve_prepare(pb_redis_applier *a)
{
    size_t total = 0;
    for (size_t j = 0; j < a->wave; j++)
        if (a->jobs[j].going) {
            a->jobs[j].at = total;
            total += a->jobs[j].adds.n;
        }
    if (total == 0)
        return false;
    pb_pool *pool = a->pool;
    pb_redis_cmd *cmds = pb_redis_round_open(a, total);
    pb_str limit = pb_redis_decimal(pool, a->store->limits.max_tokens_per_account);
    for (size_t j = 0; j < a->wave; j++) {
        const pb_redis_additions *adds = &a->jobs[j].adds;
        for (size_t i = 0; a->jobs[j].going && i < adds->n; i++) {
            pb_redis_cmd *cmd = &cmds[a->jobs[j].at + i];
            pb_str seq = pb_redis_decimal(pool, adds->seqs[i]);
            pb_redis_cmd_script(cmd, pool, &a->store->scripts.reserve, 7, adds->keys[i]);
            pb_redis_cmd_arg(cmd, 4, limit.base, limit.len);
            pb_redis_cmd_arg(cmd, 5, adds->index_members[i].base, adds->index_members[i].len);
            pb_redis_cmd_arg(cmd, 6, seq.base, seq.len);
        }
    }
    return true;
}

void pb_redis_reserve_judge(pb_redis_applier *a)
{
    const pb_redis_cmd *cmds = a->cmds + a->step_at;
    for (size_t j = 0; j < a->wave && a->n_cmds != 0; j++) {
        bool reserved = true, refused = false;
        for (size_t i = 0; a->jobs[j].going && i < a->jobs[j].adds.n; i++) {
            const redisReply *reply = cmds[a->jobs[j].at + i].reply;
            if (pb_redis_reply_failed(a->map, reply, "reserve") || reply->type != REDIS_REPLY_INTEGER)
                reserved = false;
            else if (reply->integer == 0)
                refused = true;
        }
        /* The record was not touched: every member the job wrote is its own to undo. */
        if (a->jobs[j].going && (!reserved || refused))
            job_stop(a, &a->jobs[j], reserved ? PB_CHANGE_OVER_LIMIT : PB_CHANGE_FAILED, true);
    }
    a->step = PB_REDIS_STEP_CHANGE;
}

/* ---- Step 3: change ----------------------------------------------------- */

/* One job's change script, with its mode and operands. */
static void change_prepare(pb_redis_applier *a, const pb_redis_job *job, pb_redis_cmd *cmd)
{
    static const char modes[] = {[PB_CHANGE_APPEND] = 'a', [PB_CHANGE_OVERWRITE] = 'o',
                                 [PB_CHANGE_REMOVE] = 'r', [PB_CHANGE_CLEAR_TOKEN] = 'c'};
    pb_pool *pool = a->pool;
    const pb_change *change = job->change;
    const pb_redis_additions *adds = &job->adds;
    /* Append and overwrite re-bind the listed accounts; remove takes them away; clear needs none. */
    size_t n_operands = change->kind == PB_CHANGE_CLEAR_TOKEN ? 0 : job->k;
    pb_redis_cmd_change(cmd, a, change->token, 11 + 3 * (int)adds->n + 2 * (int)n_operands, modes[change->kind],
                        a->store->limits.max_accounts_per_token, a->store->binding_ttl,
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

bool pb_redis_change_prepare(pb_redis_applier *a)
{
    size_t total = 0;
    for (size_t j = 0; j < a->wave; j++)
        if (a->jobs[j].going)
            a->jobs[j].at = total++;
    if (total == 0)
        return false;
    pb_redis_cmd *cmds = pb_redis_round_open(a, total);
    for (size_t j = 0; j < a->wave; j++)
        if (a->jobs[j].going)
            change_prepare(a, &a->jobs[j], &cmds[a->jobs[j].at]);
    return true;
}

/*
 * One job's outcome, and step 4 queued for the next round: the index
 * members of removed bindings, and of reservations the record did not take
 * (the account was already bound, under its own seq).
 */
static void change_judge(pb_redis_applier *a, pb_redis_job *job, const pb_redis_cmd *cmd)
{
    const redisReply *reply = cmd->reply;
    const pb_redis_additions *adds = &job->adds;
    bool short_reply = reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
                       reply->element[0]->type == REDIS_REPLY_INTEGER;
    if (short_reply && reply->element[0]->integer == 0) {
        job_stop(a, job, PB_CHANGE_OVER_LIMIT, true);
        return;
    }
    if (short_reply && reply->element[0]->integer == 2) { /* nothing changed: its reservations are its own */
        job_stop(a, job, PB_CHANGE_FAILED, true);
        job->vanished = true;
        return;
    }
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 + adds->n ||
        reply->element[0]->type != REDIS_REPLY_INTEGER || reply->element[1]->type != REDIS_REPLY_INTEGER ||
        reply->element[2]->type != REDIS_REPLY_INTEGER) {
        pb_redis_reply_failed(a->map, reply, "change token");
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
            pb_redis_cleanup_add(a, adds->keys[i], adds->index_members[i]);
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
        pb_redis_cleanup_add(a, pb_redis_account_key(a->pool, a->store, a->access_id, &account),
                             pb_redis_index_member(a->pool, seq, job->change->token));
    }
    job->going = false;
}

/*
 * A job whose read saw an account bound that an unbind (op 4, a token's
 * invalidation) removed before its change brought no seq for it: it is read
 * again, with seqs of its own from a begin_batch riding in that round. A few
 * times at most: each one needs another unbind of the same token in between.
 */
static bool read_vanished_again(pb_redis_applier *a)
{
    size_t wanted = 0;
    for (size_t j = 0; j < a->wave; j++)
        if (a->jobs[j].vanished)
            wanted += a->jobs[j].k;
    if (wanted == 0 || a->rereads++ == PB_REDIS_MAX_ROUNDS)
        return false;
    for (size_t j = 0; j < a->wave; j++)
        if (a->jobs[j].vanished) {
            a->jobs[j] = (pb_redis_job){.change = a->jobs[j].change, .outcome = a->jobs[j].outcome, .going = true,
                                        .k = a->jobs[j].k, .members = a->jobs[j].members, .keys = a->jobs[j].keys,
                                        .times = a->jobs[j].times, .adds = a->jobs[j].adds};
            a->jobs[j].adds.n = 0;
            *a->jobs[j].outcome = PB_CHANGE_OK;
        }
    a->wanted = wanted;
    a->begun = false;
    a->may_purge = false;
    a->step = PB_REDIS_STEP_READ;
    return true;
}

void pb_redis_change_judge(pb_redis_applier *a)
{
    for (size_t j = 0; j < a->wave && a->n_cmds != 0; j++)
        if (a->jobs[j].going)
            change_judge(a, &a->jobs[j], a->cmds + a->step_at + a->jobs[j].at);
    if (read_vanished_again(a))
        return;
    a->at += a->wave;
    pb_redis_applier_advance(a);
}
