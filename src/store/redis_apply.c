/*
 * redis_apply.c — pb_store_apply() for the Redis backend.
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
 * count against the account's limit. Each step is pipelined per node.
 * docs/design.md walks through every failure case.
 */
#include <stdio.h>

#include "common/codes.h"
#include "store/redis_internal.h"

/* One batch being applied. */
struct applier {
    pb_redis_session *session;
    const pb_redis_store *store;
    pb_pool *pool;
    uint64_t access_id;
    uint64_t next_seq;
    int64_t delta; /* bindings created minus bindings removed */
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

/* A change's new bindings: the accounts to reserve and add. */
struct additions {
    size_t n;
    pb_str *keys;          /* the accounts' index keys */
    pb_str *members;       /* account members (the token's record) */
    pb_str *index_members; /* "seq|token" (the accounts' indexes) */
    uint64_t *seqs;
};

/*
 * Step 3 and 4: runs the change script with `mode` and `operands`, then
 * cleans the indexes. Sets *outcome; returns nothing, as a failure of one
 * change does not stop the batch.
 */
static void change_record(struct applier *a, pb_str token, const char *mode, const struct additions *adds,
                          const pb_str *operands, size_t n_operands, int *outcome)
{
    pb_pool *pool = a->pool;
    pb_str key = pb_redis_token_key(pool, a->store, a->access_id, token);
    pb_redis_cmd cmd;
    cmd_script(&cmd, pool, &a->store->scripts.change, 7 + 2 * (int)adds->n + (int)n_operands, key);
    pb_str limit = pb_redis_decimal(pool, a->store->limits.max_accounts_per_token);
    pb_str count = pb_redis_decimal(pool, adds->n);
    pb_redis_cmd_arg(&cmd, 4, mode, 1);
    pb_redis_cmd_arg(&cmd, 5, limit.base, limit.len);
    pb_redis_cmd_arg(&cmd, 6, count.base, count.len);
    int arg = 7;
    for (size_t i = 0; i < adds->n; i++) {
        pb_str seq = pb_redis_decimal(pool, adds->seqs[i]);
        pb_redis_cmd_arg(&cmd, arg++, adds->members[i].base, adds->members[i].len);
        pb_redis_cmd_arg(&cmd, arg++, seq.base, seq.len);
    }
    for (size_t i = 0; i < n_operands; i++)
        pb_redis_cmd_arg(&cmd, arg++, operands[i].base, operands[i].len);

    pb_redis_run(&a->session->conn, &cmd, 1);
    const redisReply *reply = cmd.reply;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        pb_redis_reply_failed(&a->session->conn, reply, "change token");
        if (!cmd.sent) /* certainly not run: our reservations are ours to undo */
            index_remove(a, adds->keys, adds->index_members, adds->n);
        *outcome = PB_ERR_STORE;
        goto done;
    }
    if (reply->element[0]->integer == 0) {
        index_remove(a, adds->keys, adds->index_members, adds->n);
        *outcome = PB_ERR_PARAM;
        goto done;
    }
    size_t n_removed = (reply->elements - 1 - adds->n) / 2, n_clean = 0;
    pb_str *keys = pb_pool_alloc(pool, (adds->n + n_removed) * sizeof(*keys));
    pb_str *members = pb_pool_alloc(pool, (adds->n + n_removed) * sizeof(*members));
    for (size_t i = 0; i < adds->n; i++) {
        if (reply->element[1 + i]->type == REDIS_REPLY_INTEGER && reply->element[1 + i]->integer == 1) {
            a->delta++;
            continue;
        }
        keys[n_clean] = adds->keys[i]; /* already bound under another seq: ours is spare */
        members[n_clean++] = adds->index_members[i];
    }
    for (size_t j = 1 + adds->n; j + 1 < reply->elements; j += 2) {
        const redisReply *m = reply->element[j], *s = reply->element[j + 1];
        pb_account account;
        uint64_t seq;
        if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING)
            continue;
        pb_str member = pb_pool_strdup(pool, (pb_str){m->str, m->len});
        if (!pb_redis_account_parse(member, &account) || !pb_redis_parse_u64(s->str, s->len, &seq))
            continue;
        a->delta--;
        keys[n_clean] = pb_redis_account_key(pool, a->store, a->access_id, &account);
        members[n_clean++] = pb_redis_index_member(pool, seq, token);
    }
    index_remove(a, keys, members, n_clean);
done:
    pb_redis_release(&cmd, 1);
}

/*
 * APPEND and OVERWRITE: steps 1 and 2, then change_record(). The limits are
 * checked on what step 1 read (so a refusal usually writes nothing) and again
 * atomically by the scripts of steps 2 and 3 (so concurrency cannot break them).
 */
static void bind_accounts(struct applier *a, const pb_change *change, int *outcome)
{
    pb_pool *pool = a->pool;
    const pb_store_limits *limits = &a->store->limits;
    bool overwrite = change->kind == PB_CHANGE_OVERWRITE;
    size_t k = change->n_accounts;
    if (overwrite && k > limits->max_accounts_per_token) {
        *outcome = PB_ERR_PARAM;
        return;
    }

    pb_str *members = pb_pool_alloc(pool, k * sizeof(*members));
    pb_str *keys = pb_pool_alloc(pool, k * sizeof(*keys));
    pb_redis_cmd *reads = pb_pool_alloc(pool, (k + 1) * sizeof(*reads));
    cmd_key(&reads[0], pool, false, 4, "ZRANGE", pb_redis_token_key(pool, a->store, a->access_id, change->token));
    pb_redis_cmd_arg(&reads[0], 2, "0", 1);
    pb_redis_cmd_arg(&reads[0], 3, "-1", 2);
    for (size_t i = 0; i < k; i++) {
        members[i] = pb_redis_account_member(pool, &change->accounts[i]);
        keys[i] = pb_redis_account_key(pool, a->store, a->access_id, &change->accounts[i]);
        cmd_key(&reads[1 + i], pool, false, 2, "ZCARD", keys[i]);
    }
    struct additions adds = {
        .keys = pb_pool_alloc(pool, k * sizeof(*adds.keys)),
        .members = pb_pool_alloc(pool, k * sizeof(*adds.members)),
        .index_members = pb_pool_alloc(pool, k * sizeof(*adds.index_members)),
        .seqs = pb_pool_alloc(pool, k * sizeof(*adds.seqs)),
    };

    *outcome = PB_ERR_STORE;
    bool read_ok = pb_redis_run(&a->session->conn, reads, k + 1) == 0;
    for (size_t i = 0; read_ok && i <= k; i++)
        if (pb_redis_reply_failed(&a->session->conn, reads[i].reply, "read before bind") ||
            reads[i].reply->type != (i == 0 ? REDIS_REPLY_ARRAY : REDIS_REPLY_INTEGER))
            read_ok = false;
    if (!read_ok) {
        pb_redis_release(reads, k + 1);
        return;
    }
    size_t bound = reads[0].reply->elements;
    bool refused = false;
    for (size_t i = 0; i < k; i++) {
        if (reply_has(reads[0].reply, members[i]))
            continue;
        if ((uint64_t)reads[1 + i].reply->integer + 1 > limits->max_tokens_per_account)
            refused = true;
        adds.keys[adds.n] = keys[i];
        adds.members[adds.n] = members[i];
        adds.seqs[adds.n] = a->next_seq++;
        adds.index_members[adds.n] = pb_redis_index_member(pool, adds.seqs[adds.n], change->token);
        adds.n++;
    }
    pb_redis_release(reads, k + 1);
    /* A token already over a lowered limit may still be re-sent what it has. */
    if (refused || (!overwrite && adds.n != 0 && bound + adds.n > limits->max_accounts_per_token)) {
        *outcome = PB_ERR_PARAM;
        return;
    }

    if (adds.n != 0) {
        pb_redis_cmd *reserves = pb_pool_alloc(pool, adds.n * sizeof(*reserves));
        pb_str limit = pb_redis_decimal(pool, limits->max_tokens_per_account);
        for (size_t i = 0; i < adds.n; i++) {
            pb_str seq = pb_redis_decimal(pool, adds.seqs[i]);
            cmd_script(&reserves[i], pool, &a->store->scripts.reserve, 7, adds.keys[i]);
            pb_redis_cmd_arg(&reserves[i], 4, limit.base, limit.len);
            pb_redis_cmd_arg(&reserves[i], 5, adds.index_members[i].base, adds.index_members[i].len);
            pb_redis_cmd_arg(&reserves[i], 6, seq.base, seq.len);
        }
        bool reserved = pb_redis_run(&a->session->conn, reserves, adds.n) == 0;
        for (size_t i = 0; reserved && i < adds.n; i++) {
            if (pb_redis_reply_failed(&a->session->conn, reserves[i].reply, "reserve") ||
                reserves[i].reply->type != REDIS_REPLY_INTEGER) {
                reserved = false;
            } else if (reserves[i].reply->integer == 0) {
                refused = true;
            }
        }
        pb_redis_release(reserves, adds.n);
        if (!reserved || refused) {
            /* The record was not touched: every member we wrote is ours to undo. */
            index_remove(a, adds.keys, adds.index_members, adds.n);
            *outcome = refused && reserved ? PB_ERR_PARAM : PB_ERR_STORE;
            return;
        }
    }
    *outcome = PB_OK;
    change_record(a, change->token, overwrite ? "o" : "a", &adds, overwrite ? members : NULL, overwrite ? k : 0,
                  outcome);
}

/*
 * CLEAR_ACCOUNT: read the account's index, remove from each token's record
 * the binding an index member names (only with that exact seq), then the
 * members whose binding was removed. A member not confirmed by its record is
 * left alone: it may belong to a bind still in flight.
 */
static void clear_account(struct applier *a, const pb_account *account, int *outcome)
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
    *outcome = PB_ERR_STORE;
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
        cmd_script(&changes[n], pool, &a->store->scripts.change, 9,
                   pb_redis_token_key(pool, a->store, a->access_id, token));
        pb_redis_cmd_arg(&changes[n], 4, "x", 1);
        pb_redis_cmd_arg(&changes[n], 5, "0", 1);
        pb_redis_cmd_arg(&changes[n], 6, "0", 1);
        pb_redis_cmd_arg(&changes[n], 7, member.base, member.len);
        pb_redis_cmd_arg(&changes[n], 8, seq_text.base, seq_text.len);
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
        if (reply->elements >= 3) { /* {1, member, score}: this binding is gone */
            a->delta--;
            keys[n_removed] = key;
            removed[n_removed++] = index_members[i];
        }
    }
    index_remove(a, keys, removed, n_removed);
    *outcome = all_ran ? PB_OK : PB_ERR_STORE;
done:
    pb_redis_release(&read, 1);
    if (changes != NULL)
        pb_redis_release(changes, n);
}

static void apply_change(struct applier *a, const pb_change *change, int *outcome)
{
    static const struct additions none = {0};
    *outcome = PB_OK;
    switch (change->kind) {
    case PB_CHANGE_APPEND:
    case PB_CHANGE_OVERWRITE:
        bind_accounts(a, change, outcome);
        return;
    case PB_CHANGE_REMOVE: {
        pb_str *members = pb_pool_alloc(a->pool, change->n_accounts * sizeof(*members));
        for (size_t i = 0; i < change->n_accounts; i++)
            members[i] = pb_redis_account_member(a->pool, &change->accounts[i]);
        change_record(a, change->token, "r", &none, members, change->n_accounts, outcome);
        return;
    }
    case PB_CHANGE_CLEAR_TOKEN:
        change_record(a, change->token, "c", &none, NULL, 0, outcome);
        return;
    case PB_CHANGE_CLEAR_ACCOUNT:
        if (change->n_accounts == 1)
            clear_account(a, &change->accounts[0], outcome);
        else
            *outcome = PB_ERR_PARAM;
        return;
    }
    *outcome = PB_ERR_PARAM;
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

int pb_redis_apply(pb_redis_session *session, uint64_t access_id, const pb_change *changes, size_t n, int *outcomes)
{
    struct applier a = {.session = session, .store = session->store, .pool = &session->pool, .access_id = access_id};
    session->conn.error[0] = '\0';
    int rc = begin_batch(&a, changes, n);
    if (rc != 0)
        goto done;
    for (size_t i = 0; i < n; i++)
        apply_change(&a, &changes[i], &outcomes[i]);
    count_bindings(&a);
    if (session->store->wait_replicas != 0 &&
        pb_redis_wait(&session->conn, session->store->wait_replicas, session->store->target.timeout_ms / 2) != 0)
        rc = PB_STORE_EIO;
done:
    if (!session->view_open)
        pb_pool_clear(&session->pool);
    return rc;
}
