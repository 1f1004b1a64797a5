/*
 * store/redis/lookup.c — lookups for the Redis backend: an app's secret and
 * record, and the bindings by token or by account, each request's keys
 * pipelined per node. The commands are built and their replies read by the
 * functions of lookup.h, shared with the loop's lookups (lookup_loop.c);
 * pb_redis_run() carries them here, waiting.
 */
#include <stdio.h>

#include "common/clock.h"
#include "store/app_keys.h"
#include "store/redis/apps_watch.h"
#include "store/redis/keyspace.h"
#include "store/redis/lookup.h"

/* The whole hash: the secret and the named keys come in one read (a handful of short fields besides). */
void pb_redis_secret_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store, uint64_t access_id)
{
    pb_redis_cmd_key(cmd, pool, false, 2, "HGETALL", pb_redis_app_key(pool, store, "app", access_id));
}

int pb_redis_secret_parse(pb_redis_conn *conn, const pb_redis_cmd *cmd, pb_pool *pool, pb_str *secret, pb_str *keys)
{
    const redisReply *reply = cmd->reply;
    if (pb_redis_reply_failed(conn, reply, "app secret"))
        return PB_STORE_EIO;
    if (reply->type == REDIS_REPLY_NIL) /* HGETALL answers an empty array; a proxy may say nil */
        return PB_STORE_ENOTFOUND;
    if (reply->type != REDIS_REPLY_ARRAY)
        return PB_STORE_EIO;
    bool found = false;
    *keys = (pb_str){NULL, 0};
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *field = reply->element[i], *value = reply->element[i + 1];
        if (field->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING)
            continue;
        if (field->len == 6 && memcmp(field->str, "secret", 6) == 0) {
            *secret = pb_pool_strdup(pool, (pb_str){value->str, value->len});
            found = true;
        } else if (field->len > 4 && memcmp(field->str, "key:", 4) == 0) {
            pb_keys_pack(pool, keys, (pb_str){field->str + 4, field->len - 4}, (pb_str){value->str, value->len});
        }
    }
    return found ? 0 : PB_STORE_ENOTFOUND;
}

int pb_redis_app_secret(pb_redis_view *view, uint64_t access_id, pb_pool *pool, pb_str *secret, pb_str *keys)
{
    pb_redis_session *session = view->session;
    int rc = PB_STORE_EIO;
    if (pool == NULL)
        pool = &session->pool;
    uint64_t epoch = pb_redis_apps_epoch(session->store->watch);
    if (pb_secret_cached(session->secrets, access_id, epoch, pool, &rc, secret, keys))
        return rc;
    pb_redis_cmd cmd;
    pb_redis_secret_cmd(&cmd, &session->pool, session->store, access_id);
    if (pb_redis_run(&session->conn, &cmd, 1) == 0)
        rc = pb_redis_secret_parse(&session->conn, &cmd, pool, secret, keys);
    pb_redis_release(&cmd, 1);
    if (rc == 0)
        pb_secret_remember(session->secrets, access_id, epoch, rc, *secret, *keys);
    else
        pb_secret_remember(session->secrets, access_id, epoch, rc, (pb_str){NULL, 0}, (pb_str){NULL, 0});
    return rc;
}

void pb_redis_app_cmd(pb_redis_cmd *cmd, pb_pool *pool, const pb_redis_store *store, uint64_t access_id)
{
    pb_redis_cmd_key(cmd, pool, false, 4, "HMGET", pb_redis_app_key(pool, store, "app", access_id));
    pb_redis_cmd_arg(cmd, 2, "created", 7);
    pb_redis_cmd_arg(cmd, 3, "bindings", 8);
}

int pb_redis_app_parse(pb_redis_conn *conn, const pb_redis_cmd *cmd, uint64_t access_id, pb_app_info *app)
{
    const redisReply *reply = cmd->reply;
    if (pb_redis_reply_failed(conn, reply, "app record"))
        return PB_STORE_EIO;
    uint64_t created, bindings = 0;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || reply->element[0]->type != REDIS_REPLY_STRING ||
        !pb_redis_parse_u64(reply->element[0]->str, reply->element[0]->len, &created))
        return PB_STORE_ENOTFOUND; /* no record, or not (or no longer) a whole one */
    /* The count is kept by HINCRBY and may dip below zero after a lost update. */
    if (reply->element[1]->type == REDIS_REPLY_STRING)
        pb_redis_parse_u64(reply->element[1]->str, reply->element[1]->len, &bindings);
    *app = (pb_app_info){access_id, (int64_t)created, bindings};
    return 0;
}

int pb_redis_app_of(pb_redis_view *view, uint64_t access_id, pb_app_info *app)
{
    pb_redis_session *session = view->session;
    int rc = PB_STORE_EIO;
    pb_redis_cmd cmd;
    pb_redis_app_cmd(&cmd, &session->pool, session->store, access_id);
    if (pb_redis_run(&session->conn, &cmd, 1) == 0)
        rc = pb_redis_app_parse(&session->conn, &cmd, access_id, app);
    pb_redis_release(&cmd, 1);
    return rc;
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

pb_redis_read pb_redis_read_of(const pb_redis_store *store, bool with_info)
{
    return (pb_redis_read){.details = with_info || store->binding_ttl > 0, .with_info = with_info,
                           .now = pb_clock_unix_s()};
}

/* `platform` as the details hash keeps it ("1", "2"); NONE for anything else. */
static pb_platform platform_parse(const redisReply *value)
{
    if (value == NULL || value->type != REDIS_REPLY_STRING || value->len != 1)
        return PB_PLATFORM_NONE;
    return value->str[0] == '1' ? PB_PLATFORM_ANDROID : value->str[0] == '2' ? PB_PLATFORM_IOS : PB_PLATFORM_NONE;
}

/* A value of the details hash: the times, or {0, 0} when missing (the binding is being removed). */
static pb_binding_times times_of(const redisReply *value)
{
    pb_binding_times times = {0, 0};
    if (value != NULL && value->type == REDIS_REPLY_STRING)
        pb_redis_times_parse(value->str, value->len, &times);
    return times;
}

/* In an HGETALL reply, the value of `field`; NULL when absent. */
static const redisReply *field_of(const redisReply *hash, const char *field, size_t len)
{
    for (size_t i = 0; i + 1 < hash->elements; i += 2)
        if (hash->element[i]->len == len && memcmp(hash->element[i]->str, field, len) == 0)
            return hash->element[i + 1];
    return NULL;
}

/*
 * With details, the token's record and its details hash go in one pipelined
 * round: same hash tag, same node. They are two commands, so a change may
 * land between them; a member of the record with no times then was being
 * removed (its times read {0, 0}).
 */
void pb_redis_accounts_cmds(pb_redis_cmd *cmds, pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                            const pb_str *tokens, size_t n, const pb_redis_read *how)
{
    for (size_t i = 0; i < n; i++) {
        pb_redis_cmd_zrange(&cmds[i], pool, pb_redis_token_key(pool, store, access_id, tokens[i]), false);
        if (how->details) {
            pb_str key = pb_redis_times_key(pool, store, access_id, tokens[i]);
            pb_redis_cmd_init(&cmds[n + i], pool, pb_redis_slot_of(key), false, 2);
            pb_redis_cmd_arg(&cmds[n + i], 0, "HGETALL", 7);
            pb_redis_cmd_arg(&cmds[n + i], 1, key.base, key.len);
        }
    }
}

int pb_redis_accounts_parse(pb_redis_conn *conn, const pb_redis_store *store, const pb_redis_cmd *cmds, size_t n,
                            const pb_redis_read *how, pb_pool *pool, pb_account_list *out)
{
    for (size_t i = 0; i < n; i++) {
        const redisReply *reply = cmds[i].reply, *details = how->details ? cmds[n + i].reply : NULL;
        if (pb_redis_reply_failed(conn, reply, "accounts of token") ||
            (how->details && pb_redis_reply_failed(conn, details, "accounts of token: details")))
            return PB_STORE_EIO;
        if (!is_string_array(reply, false) || (details != NULL && !is_string_array(details, true)))
            goto malformed;
        out[i] = (pb_account_list){.accounts = pb_pool_alloc(pool, reply->elements * sizeof(pb_account))};
        if (how->with_info) {
            out[i].times = pb_pool_alloc(pool, reply->elements * sizeof(pb_binding_times));
            out[i].platform = platform_parse(field_of(details, "p", 1));
        }
        for (size_t j = 0; j < reply->elements; j++) {
            pb_str member = pb_pool_strdup(pool, (pb_str){reply->element[j]->str, reply->element[j]->len});
            pb_binding_times times = {0, 0};
            if (details != NULL) {
                times = times_of(field_of(details, member.base, member.len));
                if (pb_redis_expired(store, times.last_bind_time, how->now))
                    continue;
            }
            if (!pb_redis_account_parse(member, &out[i].accounts[out[i].n]))
                goto malformed;
            if (how->with_info)
                out[i].times[out[i].n] = times;
            out[i].n++;
        }
        if (out[i].n == 0)
            out[i].platform = PB_PLATFORM_NONE;
    }
    return 0;
malformed:
    snprintf(conn->error, sizeof(conn->error), "accounts of token: malformed token record");
    return PB_STORE_EIO;
}

int pb_redis_accounts_of(pb_redis_view *view, uint64_t access_id, const pb_str *tokens, size_t n, bool with_info,
                         pb_pool *pool, pb_account_list *out)
{
    pb_redis_session *session = view->session;
    pb_redis_read how = pb_redis_read_of(session->store, with_info);
    size_t n_cmds = n * (1 + how.details);
    pb_redis_cmd *cmds = pb_pool_alloc(pool, n_cmds * sizeof(*cmds));
    pb_redis_accounts_cmds(cmds, pool, session->store, access_id, tokens, n, &how);
    int rc = PB_STORE_EIO;
    if (pb_redis_run(&session->conn, cmds, n_cmds) == 0)
        rc = pb_redis_accounts_parse(&session->conn, session->store, cmds, n, &how, pool, out);
    pb_redis_release(cmds, n_cmds);
    return rc;
}

/*
 * By account, two pipelined rounds: every account's index, then one ZSCORE
 * per index member on the token's record (and, with details, one HMGET of
 * the binding's times and the token's platform, same node). A member shows
 * only when the record holds the account with the member's seq, so a
 * binding being written (index first) or being removed (record first) never
 * shows half-made.
 */
void pb_redis_tokens_cmds(pb_redis_cmd *cmds, pb_pool *pool, const pb_redis_store *store, uint64_t access_id,
                          const pb_account *accounts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        pb_redis_cmd_zrange(&cmds[i], pool, pb_redis_account_key(pool, store, access_id, &accounts[i]), true);
}

int pb_redis_tokens_checks(pb_redis_conn *conn, const pb_redis_store *store, uint64_t access_id,
                           const pb_account *accounts, const pb_redis_cmd *cmds, size_t n, const pb_redis_read *how,
                           pb_pool *pool, pb_redis_candidates *out)
{
    size_t n_candidates = 0;
    for (size_t i = 0; i < n; i++) {
        if (pb_redis_reply_failed(conn, cmds[i].reply, "tokens of account"))
            return PB_STORE_EIO;
        if (!is_string_array(cmds[i].reply, true))
            goto malformed;
        n_candidates += cmds[i].reply->elements / 2;
    }
    out->candidates = pb_pool_alloc(pool, n_candidates * sizeof(*out->candidates));
    out->checks = pb_pool_alloc(pool, n_candidates * (1 + how->details) * sizeof(*out->checks));
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *reply = cmds[i].reply;
        pb_str member = pb_redis_account_member(pool, &accounts[i]);
        for (size_t j = 0; j < reply->elements; j += 2) {
            pb_redis_candidate *c = &out->candidates[out->n];
            pb_str index_member = pb_pool_strdup(pool, (pb_str){reply->element[j]->str, reply->element[j]->len});
            if (!pb_redis_index_parse(index_member, &c->seq, &c->token))
                goto malformed;
            c->account = i;
            pb_str key = pb_redis_token_key(pool, store, access_id, c->token);
            pb_redis_cmd *check = &out->checks[out->n++];
            pb_redis_cmd_init(check, pool, pb_redis_slot_of(key), false, 3);
            pb_redis_cmd_arg(check, 0, "ZSCORE", 6);
            pb_redis_cmd_arg(check, 1, key.base, key.len);
            pb_redis_cmd_arg(check, 2, member.base, member.len);
        }
    }
    out->n_checks = out->n;
    for (size_t k = 0; how->details && k < out->n; k++) {
        pb_str key = pb_redis_times_key(pool, store, access_id, out->candidates[k].token);
        pb_redis_cmd *check = &out->checks[out->n_checks++];
        pb_redis_cmd_init(check, pool, pb_redis_slot_of(key), false, 4);
        pb_redis_cmd_arg(check, 0, "HMGET", 5);
        pb_redis_cmd_arg(check, 1, key.base, key.len);
        pb_redis_cmd_arg(check, 2, out->checks[k].argv[2], out->checks[k].argvlen[2]);
        pb_redis_cmd_arg(check, 3, "p", 1);
    }
    return 0;
malformed:
    snprintf(conn->error, sizeof(conn->error), "tokens of account: malformed index");
    return PB_STORE_EIO;
}

int pb_redis_tokens_parse(pb_redis_conn *conn, const pb_redis_store *store, const pb_redis_cmd *cmds, size_t n,
                          const pb_redis_candidates *found, const pb_redis_read *how, pb_pool *pool,
                          pb_token_list *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t room = cmds[i].reply->elements / 2;
        out[i] = (pb_token_list){.tokens = pb_pool_alloc(pool, room * sizeof(pb_str))};
        if (how->with_info) {
            out[i].times = pb_pool_alloc(pool, room * sizeof(pb_binding_times));
            out[i].platforms = pb_pool_alloc(pool, room * sizeof(pb_platform));
        }
    }
    for (size_t k = 0; k < found->n; k++) {
        const redisReply *reply = found->checks[k].reply, *details = NULL;
        uint64_t seq;
        if (pb_redis_reply_failed(conn, reply, "tokens of account: confirm"))
            return PB_STORE_EIO;
        if (how->details) {
            details = found->checks[found->n + k].reply;
            if (pb_redis_reply_failed(conn, details, "tokens of account: details"))
                return PB_STORE_EIO;
            if (details->type != REDIS_REPLY_ARRAY || details->elements != 2)
                goto malformed;
        }
        if (reply->type == REDIS_REPLY_NIL)
            continue;
        if (reply->type != REDIS_REPLY_STRING)
            goto malformed;
        if (!pb_redis_parse_u64(reply->str, reply->len, &seq) || seq != found->candidates[k].seq)
            continue;
        pb_binding_times times = details != NULL ? times_of(details->element[0]) : (pb_binding_times){0, 0};
        if (details != NULL && pb_redis_expired(store, times.last_bind_time, how->now))
            continue;
        pb_token_list *list = &out[found->candidates[k].account];
        if (how->with_info) {
            list->times[list->n] = times;
            list->platforms[list->n] = platform_parse(details->element[1]);
        }
        list->tokens[list->n++] = found->candidates[k].token;
    }
    return 0;
malformed:
    snprintf(conn->error, sizeof(conn->error), "tokens of account: malformed token record");
    return PB_STORE_EIO;
}

int pb_redis_tokens_of(pb_redis_view *view, uint64_t access_id, const pb_account *accounts, size_t n,
                       bool with_info, pb_pool *pool, pb_token_list *out)
{
    pb_redis_session *session = view->session;
    pb_redis_read how = pb_redis_read_of(session->store, with_info);
    pb_redis_cmd *cmds = pb_pool_alloc(pool, n * sizeof(*cmds));
    pb_redis_candidates found = {0};
    pb_redis_tokens_cmds(cmds, pool, session->store, access_id, accounts, n);

    int rc = PB_STORE_EIO;
    if (pb_redis_run(&session->conn, cmds, n) != 0)
        goto done;
    rc = pb_redis_tokens_checks(&session->conn, session->store, access_id, accounts, cmds, n, &how, pool, &found);
    if (rc != 0)
        goto done;
    rc = PB_STORE_EIO;
    if (found.n_checks != 0 && pb_redis_run(&session->conn, found.checks, found.n_checks) != 0)
        goto done;
    rc = pb_redis_tokens_parse(&session->conn, session->store, cmds, n, &found, &how, pool, out);
done:
    pb_redis_release(cmds, n);
    if (found.checks != NULL)
        pb_redis_release(found.checks, found.n_checks);
    return rc;
}
