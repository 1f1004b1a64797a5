/*
 * read.c — lookups for the Redis backend: an app's secret, and the
 * bindings by token or by account, each request's keys pipelined per node.
 */
#include <stdio.h>

#include "store/redis/internal.h"

int pb_redis_app_secret(pb_redis_view *view, uint64_t access_id, pb_str *secret)
{
    pb_redis_session *session = view->session;
    pb_pool *pool = &session->pool;
    pb_str key = pb_redis_app_key(pool, session->store, "app", access_id);
    pb_redis_cmd cmd;
    pb_redis_cmd_init(&cmd, pool, pb_redis_slot_of(key), false, 3);
    pb_redis_cmd_arg(&cmd, 0, "HGET", 4);
    pb_redis_cmd_arg(&cmd, 1, key.base, key.len);
    pb_redis_cmd_arg(&cmd, 2, "secret", 6);

    int rc = PB_STORE_EIO;
    if (pb_redis_run(&session->conn, &cmd, 1) != 0 || pb_redis_reply_failed(&session->conn, cmd.reply, "app secret"))
        goto done;
    if (cmd.reply->type == REDIS_REPLY_NIL) {
        rc = PB_STORE_ENOTFOUND;
    } else if (cmd.reply->type == REDIS_REPLY_STRING) {
        *secret = pb_pool_strdup(pool, (pb_str){cmd.reply->str, cmd.reply->len});
        rc = 0;
    }
done:
    pb_redis_release(&cmd, 1);
    return rc;
}

/* ZRANGE key 0 -1 [WITHSCORES] into `cmd`. */
static void zrange_cmd(pb_redis_cmd *cmd, pb_pool *pool, pb_str key, bool with_scores)
{
    pb_redis_cmd_init(cmd, pool, pb_redis_slot_of(key), false, with_scores ? 5 : 4);
    pb_redis_cmd_arg(cmd, 0, "ZRANGE", 6);
    pb_redis_cmd_arg(cmd, 1, key.base, key.len);
    pb_redis_cmd_arg(cmd, 2, "0", 1);
    pb_redis_cmd_arg(cmd, 3, "-1", 2);
    if (with_scores)
        pb_redis_cmd_arg(cmd, 4, "WITHSCORES", 10);
}

/* Whether the reply is an array of strings (of an even count when `pairs`). */
static bool is_string_array(const redisReply *reply, bool pairs)
{
    if (reply->type != REDIS_REPLY_ARRAY || (pairs && reply->elements % 2 != 0))
        return false;
    for (size_t i = 0; i < reply->elements; i++)
        if (reply->element[i]->type != REDIS_REPLY_STRING)
            return false;
    return true;
}

/* Times and platforms are not kept here yet: with_info gets none (NULL times, PB_PLATFORM_NONE). */
int pb_redis_accounts_of(pb_redis_view *view, uint64_t access_id, const pb_str *tokens, size_t n, bool with_info,
                         pb_pool *pool, pb_account_list *out)
{
    pb_redis_session *session = view->session;
    pb_redis_cmd *cmds = pb_pool_alloc(pool, n * sizeof(*cmds));
    for (size_t i = 0; i < n; i++)
        zrange_cmd(&cmds[i], pool, pb_redis_token_key(pool, session->store, access_id, tokens[i]), false);

    int rc = PB_STORE_EIO;
    if (pb_redis_run(&session->conn, cmds, n) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const redisReply *reply = cmds[i].reply;
        if (pb_redis_reply_failed(&session->conn, reply, "accounts of token"))
            goto done;
        if (!is_string_array(reply, false))
            goto malformed;
        out[i] = (pb_account_list){.accounts = pb_pool_alloc(pool, reply->elements * sizeof(pb_account)),
                                   .n = reply->elements};
        for (size_t j = 0; j < reply->elements; j++) {
            pb_str member = pb_pool_strdup(pool, (pb_str){reply->element[j]->str, reply->element[j]->len});
            if (!pb_redis_account_parse(member, &out[i].accounts[j]))
                goto malformed;
        }
    }
    rc = 0;
    goto done;
malformed:
    snprintf(session->conn.error, sizeof(session->conn.error), "accounts of token: malformed token record");
done:
    pb_redis_release(cmds, n);
    return rc;
}

/* One index member awaiting confirmation by its token's record. */
struct candidate {
    size_t account; /* which input account */
    uint64_t seq;
    pb_str token;
};

/*
 * Two pipelined rounds: every account's index, then one ZSCORE per index
 * member on the token's record. A member shows only when the record holds
 * the account with the member's seq, so a binding being written (index
 * first) or being removed (record first) never shows half-made.
 */
int pb_redis_tokens_of(pb_redis_view *view, uint64_t access_id, const pb_account *accounts, size_t n,
                       bool with_info, pb_pool *pool, pb_token_list *out)
{
    pb_redis_session *session = view->session;
    const pb_redis_store *store = session->store;
    pb_redis_cmd *cmds = pb_pool_alloc(pool, n * sizeof(*cmds)), *checks = NULL;
    struct candidate *candidates = NULL;
    size_t n_candidates = 0;
    for (size_t i = 0; i < n; i++)
        zrange_cmd(&cmds[i], pool, pb_redis_account_key(pool, store, access_id, &accounts[i]), true);

    int rc = PB_STORE_EIO;
    if (pb_redis_run(&session->conn, cmds, n) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (pb_redis_reply_failed(&session->conn, cmds[i].reply, "tokens of account"))
            goto done;
        if (!is_string_array(cmds[i].reply, true))
            goto malformed;
        n_candidates += cmds[i].reply->elements / 2;
    }
    candidates = pb_pool_alloc(pool, n_candidates * sizeof(*candidates));
    checks = pb_pool_alloc(pool, n_candidates * sizeof(*checks));
    n_candidates = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *reply = cmds[i].reply;
        pb_str member = pb_redis_account_member(pool, &accounts[i]);
        for (size_t j = 0; j < reply->elements; j += 2) {
            struct candidate *c = &candidates[n_candidates];
            pb_str index_member = pb_pool_strdup(pool, (pb_str){reply->element[j]->str, reply->element[j]->len});
            if (!pb_redis_index_parse(index_member, &c->seq, &c->token))
                goto malformed;
            c->account = i;
            pb_str key = pb_redis_token_key(pool, store, access_id, c->token);
            pb_redis_cmd *check = &checks[n_candidates++];
            pb_redis_cmd_init(check, pool, pb_redis_slot_of(key), false, 3);
            pb_redis_cmd_arg(check, 0, "ZSCORE", 6);
            pb_redis_cmd_arg(check, 1, key.base, key.len);
            pb_redis_cmd_arg(check, 2, member.base, member.len);
        }
    }
    if (n_candidates != 0 && pb_redis_run(&session->conn, checks, n_candidates) != 0)
        goto done;

    for (size_t i = 0; i < n; i++)
        out[i] = (pb_token_list){.tokens = pb_pool_alloc(pool, cmds[i].reply->elements / 2 * sizeof(pb_str))};
    for (size_t k = 0; k < n_candidates; k++) {
        const redisReply *reply = checks[k].reply;
        uint64_t seq;
        if (pb_redis_reply_failed(&session->conn, reply, "tokens of account: confirm"))
            goto done;
        if (reply->type == REDIS_REPLY_NIL)
            continue;
        if (reply->type != REDIS_REPLY_STRING)
            goto malformed;
        if (pb_redis_parse_u64(reply->str, reply->len, &seq) && seq == candidates[k].seq) {
            pb_token_list *list = &out[candidates[k].account];
            list->tokens[list->n++] = candidates[k].token;
        }
    }
    rc = 0;
    goto done;
malformed:
    snprintf(session->conn.error, sizeof(session->conn.error), "tokens of account: malformed index");
done:
    pb_redis_release(cmds, n);
    if (checks != NULL)
        pb_redis_release(checks, n_candidates);
    return rc;
}
