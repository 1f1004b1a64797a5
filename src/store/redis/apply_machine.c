/*
 * store/redis/apply_machine.c — pb_store_apply() for the Redis backend: the
 * write protocol, as a machine of rounds (apply_machine.h) that either
 * carrier runs.
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
 * Changes that cannot see each other (a wave, apply_wave.c) take each step
 * together. Rounds that do not depend on each other share a round trip:
 *   - begin_batch (the app exists? then seqs for every binding the batch may
 *     create) rides in the first round, which otherwise only reads: seqs are
 *     handed out while judging, once both replies are in, and an app that
 *     does not exist ends the batch (PB_STORE_ENOTFOUND) before any write;
 *   - step 4 (and the expiry index entries, written after their change) is
 *     best effort and rides in the next round, whatever it is: on a key it
 *     comes before that round's commands (one connection per node answers in
 *     order), so the next wave's read sees the index cleaned;
 *   - the last wave's step 4, the count's HINCRBY and the WAITs make one final
 *     round: each WAIT goes to a node the batch wrote, after the writes, on
 *     the same connection, so it covers them.
 * A batch of independent binds is then four rounds: read and begin, reserve,
 * change, clean and count and WAIT.
 *
 * WAIT (?wait=N) covers a write only when it went on the same connection
 * after it: every command is stamped with its node's connection epoch and a
 * send counter (net/cluster.h). A node whose connection was lost after the batch
 * wrote to it fails the batch (PB_STORE_EIO), as does too few replicas; a
 * write the final round could not foresee (a redirect sent it elsewhere) gets
 * a WAIT round of its own. docs/design.md walks through every failure case.
 */
#include <stdio.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/redis/apply_machine.h"
#include "store/redis/tags.h"

#define PB_REDIS_NO_BEGIN SIZE_MAX

void pb_redis_cmd_change(pb_redis_cmd *cmd, const pb_redis_applier *a, pb_str token, int argc, char mode,
                         uint64_t limit, int64_t ttl, pb_platform platform, size_t n)
{
    static const char platforms[] = "012";
    pb_pool *pool = a->pool;
    pb_str key = pb_redis_token_key(pool, a->store, a->access_id, token);
    pb_str details = pb_redis_times_key(pool, a->store, a->access_id, token);
    pb_redis_cmd_script(cmd, pool, &a->store->scripts.change, argc, key);
    pb_redis_cmd_arg(cmd, 2, "2", 1);
    pb_redis_cmd_arg(cmd, 4, details.base, details.len);
    char *m = pb_pool_alloc(pool, 1);
    *m = mode;
    pb_str l = pb_redis_decimal(pool, limit), now = pb_redis_decimal(pool, (uint64_t)a->now);
    pb_str t = pb_redis_decimal(pool, (uint64_t)ttl), count = pb_redis_decimal(pool, n);
    pb_redis_cmd_arg(cmd, 5, m, 1);
    pb_redis_cmd_arg(cmd, 6, l.base, l.len);
    pb_redis_cmd_arg(cmd, 7, now.base, now.len);
    pb_redis_cmd_arg(cmd, 8, t.base, t.len);
    pb_redis_cmd_arg(cmd, 9, &platforms[platform <= PB_PLATFORM_IOS ? platform : 0], 1);
    pb_redis_cmd_arg(cmd, 10, count.base, count.len);
}

pb_redis_cmd *pb_redis_carry(pb_redis_applier *a)
{
    a->carry = pb_pool_grow(a->pool, a->carry, a->n_carry, sizeof(*a->carry));
    return &a->carry[a->n_carry++];
}

void pb_redis_cleanup_add(pb_redis_applier *a, pb_str key, pb_str member)
{
    pb_redis_cmd *cmd = pb_redis_carry(a);
    pb_redis_cmd_key(cmd, a->pool, true, 3, "ZREM", key);
    pb_redis_cmd_arg(cmd, 2, member.base, member.len);
}

/* The distinct account types the batch's binds name, into types[] (room for every account bound); how many. */
static size_t bound_types(const pb_redis_applier *a, uint32_t *types)
{
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        const pb_change *c = &a->changes[i];
        if (c->kind != PB_CHANGE_APPEND && c->kind != PB_CHANGE_OVERWRITE)
            continue;
        for (size_t j = 0; j < c->n_accounts; j++) {
            size_t k = 0;
            while (k < n && types[k] != c->accounts[j].type)
                k++;
            if (k == n)
                types[n++] = c->accounts[j].type;
        }
    }
    return n;
}

/* begin_batch's command: see scripts.c. */
static void begin_prepare(pb_redis_applier *a, pb_redis_cmd *cmd)
{
    pb_str app = pb_redis_app_key(a->pool, a->store, "app", a->access_id);
    pb_str seq = pb_redis_app_key(a->pool, a->store, "seq", a->access_id);
    pb_str types_key = pb_redis_app_key(a->pool, a->store, "types", a->access_id);
    pb_str count = pb_redis_decimal(a->pool, a->wanted);
    uint32_t *types = pb_pool_alloc(a->pool, a->wanted * sizeof(*types));
    size_t n_types = bound_types(a, types);
    pb_redis_cmd_script(cmd, a->pool, &a->store->scripts.begin_batch, 8 + (int)n_types, app);
    pb_redis_cmd_arg(cmd, 2, "3", 1);
    pb_redis_cmd_arg(cmd, 4, seq.base, seq.len);
    pb_redis_cmd_arg(cmd, 5, types_key.base, types_key.len);
    pb_redis_cmd_arg(cmd, 6, count.base, count.len);
    pb_redis_cmd_arg(cmd, 7, a->store->binding_ttl > 0 ? "0" : "1", 1); /* untracked: see backfill.c */
    for (size_t i = 0; i < n_types; i++) {
        pb_str type = pb_redis_decimal(a->pool, types[i]);
        pb_redis_cmd_arg(cmd, 8 + (int)i, type.base, type.len);
    }
}

/* begin_batch's reply: the first seq, or the end of the batch before anything was written. */
static bool begin_judge(pb_redis_applier *a, const pb_redis_cmd *cmd)
{
    if (pb_redis_reply_failed(a->map, cmd->reply, "begin batch") || cmd->reply->type != REDIS_REPLY_INTEGER) {
        a->rc = PB_STORE_EIO;
        return false;
    }
    if (cmd->reply->integer < 0) {
        a->rc = PB_STORE_ENOTFOUND;
        return false;
    }
    a->next_seq = (uint64_t)cmd->reply->integer - a->wanted + 1;
    return true;
}

pb_redis_cmd *pb_redis_round_open(pb_redis_applier *a, size_t n)
{
    bool begin = !a->begun;
    bool waits = pb_redis_waits(a->store) && (a->step == PB_REDIS_STEP_FINAL || a->step == PB_REDIS_STEP_WAIT);
    size_t room = waits ? a->n_written + a->n_carry + n : 0; /* a WAIT per node written, at most */
    a->cmds = pb_pool_alloc(a->pool, (a->n_carry + begin + n + room) * sizeof(*a->cmds));
    if (a->n_carry != 0)
        memcpy(a->cmds, a->carry, a->n_carry * sizeof(*a->cmds));
    a->n_cmds = a->n_carry;
    a->n_carry = 0;
    a->begin_at = PB_REDIS_NO_BEGIN;
    if (begin) {
        a->begin_at = a->n_cmds;
        begin_prepare(a, &a->cmds[a->n_cmds++]);
        a->begun = true;
    }
    a->step_at = a->n_cmds;
    a->n_cmds += n;
    return a->cmds + a->step_at;
}

/* ---- WAIT --------------------------------------------------------------- */

static pb_redis_written *written_at(pb_redis_applier *a, int node)
{
    for (size_t i = 0; i < a->n_written; i++)
        if (a->written[i].node == node)
            return &a->written[i];
    a->written = pb_pool_grow(a->pool, a->written, a->n_written, sizeof(*a->written));
    pb_redis_written *w = &a->written[a->n_written++];
    *w = (pb_redis_written){.node = node, .epoch = 0, .stamp = 0};
    return w;
}

/* Notes where the round's writes went: each node's latest, and whether it changed connections. */
static void note_writes(pb_redis_applier *a)
{
    for (size_t i = 0; i < a->n_cmds && pb_redis_waits(a->store); i++) {
        const pb_redis_cmd *cmd = &a->cmds[i];
        if (!cmd->write || !cmd->sent || cmd->node < 0)
            continue;
        pb_redis_written *w = written_at(a, cmd->node);
        if (w->stamp != 0 && w->epoch != cmd->epoch)
            w->lost = true;
        if (cmd->stamp > w->stamp) {
            w->epoch = cmd->epoch;
            w->stamp = cmd->stamp;
            w->covered = false;
        }
    }
}

/* The replicas a WAIT to `node` asks for: ?wait=N's N, or with ?wait=all every one the slot map lists. */
static unsigned replicas_wanted(const pb_redis_applier *a, int node)
{
    return a->store->wait_all ? a->map->nodes[node].replicas : a->store->wait_replicas;
}

/* The replica count a WAIT command asked for (its first argument). */
static long long replicas_asked(const pb_redis_cmd *wait)
{
    long long n = 0;
    for (size_t i = 0; i < wait->argvlen[1]; i++)
        n = n * 10 + (wait->argv[1][i] - '0');
    return n;
}

static void wait_add(pb_redis_applier *a, int node, bool *asked)
{
    if (asked[node])
        return;
    asked[node] = true;
    pb_redis_cmd *cmd = &a->cmds[a->n_cmds++];
    pb_str replicas = pb_redis_decimal(a->pool, replicas_wanted(a, node));
    pb_str ms = pb_redis_decimal(a->pool, a->store->target.timeout_ms / 2); /* within the reply's own timeout */
    pb_redis_cmd_init(cmd, a->pool, 0, false, 3);
    pb_redis_cmd_arg(cmd, 0, "WAIT", 4);
    pb_redis_cmd_arg(cmd, 1, replicas.base, replicas.len);
    pb_redis_cmd_arg(cmd, 2, ms.base, ms.len);
    cmd->to_node = node;
}

/*
 * Appends a WAIT for every node written and not yet covered, and for the
 * nodes this round's own writes go to as the slot map says now: after them,
 * so that the same round covers them.
 */
static void waits_prepare(pb_redis_applier *a)
{
    const pb_redis_conn *map = a->map;
    bool *asked = pb_pool_alloc(a->pool, (map->n_nodes == 0 ? 1 : map->n_nodes) * sizeof(*asked));
    memset(asked, 0, (map->n_nodes == 0 ? 1 : map->n_nodes) * sizeof(*asked));
    size_t n_writes = a->n_cmds;
    for (size_t i = 0; i < a->n_written; i++)
        if (!a->written[i].covered && (size_t)a->written[i].node < map->n_nodes)
            wait_add(a, a->written[i].node, asked);
    for (size_t i = 0; i < n_writes && map->map_ready; i++) {
        unsigned owner = map->slot_node[a->cmds[i].slot];
        if (a->cmds[i].write && owner < map->n_nodes)
            wait_add(a, (int)owner, asked);
    }
}

/*
 * Which written nodes this round's WAITs covered. Returns false when the
 * batch must fail (too few replicas, a connection lost after a write), true
 * otherwise; *more tells whether a write is left without a WAIT after it.
 */
static bool waits_judge(pb_redis_applier *a, bool *more)
{
    *more = false;
    for (size_t i = 0; i < a->n_written; i++) {
        pb_redis_written *w = &a->written[i];
        const pb_redis_node *node = &a->map->nodes[w->node];
        if (w->covered)
            continue;
        const pb_redis_cmd *wait = NULL;
        for (size_t c = a->step_at; c < a->n_cmds; c++)
            if (a->cmds[c].to_node == w->node)
                wait = &a->cmds[c];
        bool after = !w->lost && wait != NULL && wait->sent && wait->epoch == w->epoch && wait->stamp > w->stamp;
        if (after && wait->reply != NULL && wait->reply->type == REDIS_REPLY_INTEGER &&
            wait->reply->integer >= replicas_asked(wait)) {
            w->covered = true;
        } else if (after) {
            if (!pb_redis_reply_failed(a->map, wait->reply, "WAIT"))
                snprintf(a->map->error, sizeof(a->map->error), "WAIT on %s:%u: too few replicas acknowledged",
                         node->host, node->port);
            /* A replica the cluster has failed since leaves the next map, and ?wait=all's count with it. */
            a->map->map_ready = false;
            return false;
        } else if (w->lost || node->epoch != w->epoch) {
            snprintf(a->map->error, sizeof(a->map->error),
                     "WAIT: %s:%u, written by this batch, lost its connection", node->host, node->port);
            return false;
        } else {
            *more = true; /* sent elsewhere than foreseen, or again after the WAIT */
        }
    }
    return true;
}

/* ---- Clear account ------------------------------------------------------ */

/*
 * CLEAR_ACCOUNT: read the account's index, remove from each token's record
 * the binding an index member names (only with that exact seq), then the
 * members whose binding was removed. A member not confirmed by its record is
 * left alone: it may belong to a bind still in flight.
 */
static bool clear_read_prepare(pb_redis_applier *a)
{
    pb_redis_cmd *read = pb_redis_round_open(a, 1);
    pb_redis_cmd_key(read, a->pool, false, 5, "ZRANGE", a->clear_key);
    pb_redis_cmd_arg(read, 2, "0", 1);
    pb_redis_cmd_arg(read, 3, "-1", 2);
    pb_redis_cmd_arg(read, 4, "WITHSCORES", 10);
    return true;
}

static void clear_read_judge(pb_redis_applier *a)
{
    const redisReply *reply = a->cmds[a->step_at].reply;
    pb_change_outcome *outcome = &a->outcomes[a->at];
    *outcome = PB_CHANGE_FAILED;
    a->n_clear = 0;
    if (pb_redis_reply_failed(a->map, reply, "clear account") || reply->type != REDIS_REPLY_ARRAY) {
        a->at++;
        pb_redis_applier_advance(a);
        return;
    }
    a->clear_members = pb_pool_alloc(a->pool, reply->elements * sizeof(*a->clear_members));
    a->clear_tokens = pb_pool_alloc(a->pool, reply->elements * sizeof(*a->clear_tokens));
    a->clear_seqs = pb_pool_alloc(a->pool, reply->elements * sizeof(*a->clear_seqs));
    for (size_t j = 0; j + 1 < reply->elements; j += 2) {
        pb_str member = pb_pool_strdup(a->pool, (pb_str){reply->element[j]->str, reply->element[j]->len});
        if (!pb_redis_index_parse(member, &a->clear_seqs[a->n_clear], &a->clear_tokens[a->n_clear]))
            continue;
        a->clear_members[a->n_clear++] = member;
    }
    if (a->n_clear != 0) {
        a->step = PB_REDIS_STEP_CLEAR_CHANGE;
        return;
    }
    *outcome = PB_CHANGE_OK;
    a->at++;
    pb_redis_applier_advance(a);
}

static bool clear_change_prepare(pb_redis_applier *a)
{
    pb_redis_cmd *cmds = pb_redis_round_open(a, a->n_clear);
    for (size_t i = 0; i < a->n_clear; i++) {
        pb_str seq = pb_redis_decimal(a->pool, a->clear_seqs[i]);
        pb_redis_cmd_change(&cmds[i], a, a->clear_tokens[i], 13, 'x', 0, 0, PB_PLATFORM_NONE, 0);
        pb_redis_cmd_arg(&cmds[i], 11, a->clear_member.base, a->clear_member.len);
        pb_redis_cmd_arg(&cmds[i], 12, seq.base, seq.len);
    }
    return true;
}

static void clear_change_judge(pb_redis_applier *a)
{
    bool all_ran = true;
    for (size_t i = 0; i < a->n_clear; i++) {
        const redisReply *reply = a->cmds[a->step_at + i].reply;
        if (pb_redis_reply_failed(a->map, reply, "clear account") || reply->type != REDIS_REPLY_ARRAY) {
            all_ran = false;
            continue;
        }
        if (reply->elements >= 5) { /* {1, 0, earliest, member, score}: this binding is gone */
            a->delta--;
            pb_redis_cleanup_add(a, a->clear_key, a->clear_members[i]);
        }
    }
    a->outcomes[a->at++] = all_ran ? PB_CHANGE_OK : PB_CHANGE_FAILED;
    pb_redis_applier_advance(a);
}

/* ---- The machine -------------------------------------------------------- */

void pb_redis_applier_advance(pb_redis_applier *a)
{
    while (a->at < a->n && a->changes[a->at].kind == PB_CHANGE_CLEAR_ACCOUNT) {
        const pb_change *change = &a->changes[a->at];
        a->outcomes[a->at] = PB_CHANGE_OVER_LIMIT;
        if (change->n_accounts == 1) {
            a->clear_key = pb_redis_account_key(a->pool, a->store, a->access_id, &change->accounts[0]);
            a->clear_member = pb_redis_account_member(a->pool, &change->accounts[0]);
            a->step = PB_REDIS_STEP_CLEAR_READ;
            return;
        }
        a->at++;
    }
    if (a->at == a->n) {
        a->step = PB_REDIS_STEP_FINAL;
        return;
    }
    a->wave = pb_redis_wave_end(a->changes + a->at, a->n - a->at, a->store->binding_ttl > 0);
    pb_redis_wave_open(a);
    a->step = PB_REDIS_STEP_READ;
}

pb_redis_applier *pb_redis_applier_new(pb_redis_session *session, pb_redis_conn *map, pb_pool *pool,
                                       uint64_t access_id, const pb_change *changes, size_t n,
                                       pb_change_outcome *outcomes)
{
    pb_redis_applier *a = pb_pool_alloc(pool, sizeof(*a));
    *a = (pb_redis_applier){.session = session, .store = session->store, .map = map, .pool = pool,
                            .access_id = access_id, .changes = changes, .n = n, .outcomes = outcomes,
                            .now = pb_clock_unix_s()};
    for (size_t i = 0; i < n; i++)
        if (changes[i].kind == PB_CHANGE_APPEND || changes[i].kind == PB_CHANGE_OVERWRITE)
            a->wanted += changes[i].n_accounts;
    pb_redis_applier_advance(a);
    /* A batch with nothing to read still checks its app: its first round then carries begin_batch alone. */
    if (a->step == PB_REDIS_STEP_FINAL) {
        a->step = PB_REDIS_STEP_READ;
        a->wave = 0;
    }
    return a;
}

/* The final round: the last cleanup, the count (best effort, it only informs `app list`), the WAITs. */
static bool final_prepare(pb_redis_applier *a)
{
    bool count = a->delta != 0;
    if (a->n_carry == 0 && !count && (!pb_redis_waits(a->store) || a->n_written == 0))
        return false;
    pb_redis_cmd *cmd = pb_redis_round_open(a, count);
    if (count) {
        pb_str app = pb_redis_app_key(a->pool, a->store, "app", a->access_id);
        char *delta = pb_pool_alloc(a->pool, 24);
        pb_redis_cmd_key(cmd, a->pool, true, 4, "HINCRBY", app);
        pb_redis_cmd_arg(cmd, 2, "bindings", 8);
        pb_redis_cmd_arg(cmd, 3, delta, (size_t)snprintf(delta, 24, "%lld", (long long)a->delta));
    }
    a->step_at = a->n_cmds; /* the WAITs are what this step judges */
    if (pb_redis_waits(a->store))
        waits_prepare(a);
    return a->n_cmds != 0;
}

static bool wait_prepare(pb_redis_applier *a)
{
    pb_redis_round_open(a, 0);
    waits_prepare(a);
    return a->n_cmds != 0;
}

static bool prepare(pb_redis_applier *a)
{
    switch (a->step) {
    case PB_REDIS_STEP_READ: return pb_redis_wave_read_prepare(a);
    case PB_REDIS_STEP_PURGE_READ: return pb_redis_purge_read_prepare(a);
    case PB_REDIS_STEP_PURGE_EXPIRE: return pb_redis_purge_expire_prepare(a);
    case PB_REDIS_STEP_RESERVE: return pb_redis_reserve_prepare(a);
    case PB_REDIS_STEP_CHANGE: return pb_redis_change_prepare(a);
    case PB_REDIS_STEP_CLEAR_READ: return clear_read_prepare(a);
    case PB_REDIS_STEP_CLEAR_CHANGE: return clear_change_prepare(a);
    case PB_REDIS_STEP_FINAL: return final_prepare(a);
    case PB_REDIS_STEP_WAIT: return wait_prepare(a);
    case PB_REDIS_STEP_TAG: return pb_redis_tag_prepare(a);
    case PB_REDIS_STEP_END: break;
    }
    return false;
}

static void judge(pb_redis_applier *a)
{
    bool more;
    switch (a->step) {
    case PB_REDIS_STEP_READ: pb_redis_wave_read_judge(a); return;
    case PB_REDIS_STEP_PURGE_READ: pb_redis_purge_read_judge(a); return;
    case PB_REDIS_STEP_PURGE_EXPIRE: pb_redis_purge_expire_judge(a); return;
    case PB_REDIS_STEP_RESERVE: pb_redis_reserve_judge(a); return;
    case PB_REDIS_STEP_CHANGE: pb_redis_change_judge(a); return;
    case PB_REDIS_STEP_CLEAR_READ: clear_read_judge(a); return;
    case PB_REDIS_STEP_CLEAR_CHANGE: clear_change_judge(a); return;
    case PB_REDIS_STEP_TAG: pb_redis_tag_judge(a); return;
    case PB_REDIS_STEP_FINAL:
    case PB_REDIS_STEP_WAIT:
        /* A WAIT round writes nothing: what it leaves uncovered stays so. */
        if (!waits_judge(a, &more) || (more && a->step == PB_REDIS_STEP_WAIT)) {
            a->rc = PB_STORE_EIO;
            a->step = PB_REDIS_STEP_END;
        } else {
            a->step = more ? PB_REDIS_STEP_WAIT : PB_REDIS_STEP_END;
        }
        return;
    case PB_REDIS_STEP_END: return;
    }
}

bool pb_redis_applier_next(pb_redis_applier *a, pb_redis_cmd **cmds, size_t *n)
{
    while (a->step != PB_REDIS_STEP_END) {
        a->cmds = NULL;
        a->n_cmds = 0;
        a->step_at = 0;
        a->begin_at = PB_REDIS_NO_BEGIN;
        if (prepare(a)) {
            *cmds = a->cmds;
            *n = a->n_cmds;
            return true;
        }
        judge(a); /* a step with nothing to send: its verdict is immediate */
    }
    return false;
}

void pb_redis_applier_judge(pb_redis_applier *a)
{
    note_writes(a);
    if (a->begin_at != PB_REDIS_NO_BEGIN && !begin_judge(a, &a->cmds[a->begin_at]))
        a->step = PB_REDIS_STEP_END; /* the first round only read (and took seqs): nothing was written */
    else
        judge(a);
    pb_redis_release(a->cmds, a->n_cmds);
}

int pb_redis_applier_end(pb_redis_applier *a)
{
    if (a->rc == 0)
        pb_metrics_count_expired(a->expired);
    return a->rc;
}
