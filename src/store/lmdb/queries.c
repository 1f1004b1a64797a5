/*
 * queries.c — the embedded store's lookups in a view (session.c): an app's
 * secret and record, the tokens of accounts and the accounts of tokens. They
 * hide an expired binding at once; expiry.c deletes it later.
 */

#include "common/clock.h"
#include "store/app_keys.h"
#include "store/lmdb/internal.h"

/*
 * Renews `cursor` for the open view unless that was done already (*renewed).
 * Lazily, because a renewal costs more than a whole secret lookup, and most
 * views use one cursor or none: the query's secret, then one list.
 */
static int view_cursor(pb_lmdb_session *session, MDB_cursor *cursor, bool *renewed)
{
    if (*renewed)
        return 0;
    int rc = mdb_cursor_renew(session->read_txn, cursor);
    *renewed = rc == 0;
    return rc;
}

/* App `access_id`'s record in the view's snapshot: 0, PB_STORE_ENOTFOUND or PB_STORE_EIO (`what` in the error). */
static int view_app_record(pb_lmdb_view *view, uint64_t access_id, struct app_record *app, const char *what)
{
    pb_lmdb_session *session = view->session;
    unsigned char id[PB_LMDB_ID_LEN];
    be64_put(id, access_id);
    MDB_val key = {sizeof(id), id}, value;

    int rc = mdb_get(session->read_txn, session->store->apps, &key, &value);
    if (rc == MDB_NOTFOUND)
        return PB_STORE_ENOTFOUND;
    if (rc == 0 && !app_record_parse(value.mv_data, value.mv_size, app))
        rc = MDB_CORRUPTED;
    if (rc != 0) {
        pb_lmdb_set_error(session, what, rc);
        return PB_STORE_EIO;
    }
    return 0;
}

int pb_lmdb_app_secret(pb_lmdb_view *view, uint64_t access_id, pb_str *secret)
{
    struct app_record app;
    int rc = view_app_record(view, access_id, &app, "app secret");
    if (rc == 0)
        *secret = app.secret;
    return rc;
}

/*
 * The keys database holds few entries in most stores and none in many: its
 * entry count (in the transaction's own record of the database, no page
 * read) spares the cursor for an app without keys when the store has none.
 */
int pb_lmdb_app_keys(pb_lmdb_view *view, uint64_t access_id, pb_pool *pool, pb_str *packed)
{
    pb_lmdb_session *session = view->session;
    MDB_stat stat;
    *packed = (pb_str){NULL, 0};
    int rc = mdb_stat(session->read_txn, session->store->keys, &stat);
    if (rc == 0 && stat.ms_entries == 0)
        return 0;
    if (rc == 0)
        rc = view_cursor(session, session->keys_cursor, &session->keys_cursor_renewed);
    unsigned char id[PB_LMDB_ID_LEN];
    be64_put(id, access_id);
    MDB_val key = {sizeof(id), id}, value;
    for (MDB_cursor_op op = MDB_SET_RANGE; rc == 0; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(session->keys_cursor, &key, &value, op)) != 0)
            break;
        if (key.mv_size <= PB_LMDB_ID_LEN || memcmp(key.mv_data, id, PB_LMDB_ID_LEN) != 0)
            return 0;
        pb_keys_pack(pool, packed, (pb_str){(const char *)key.mv_data + PB_LMDB_ID_LEN, key.mv_size - PB_LMDB_ID_LEN},
                     (pb_str){value.mv_data, value.mv_size});
    }
    if (rc == MDB_NOTFOUND)
        return 0;
    pb_lmdb_set_error(session, "app keys", rc);
    return PB_STORE_EIO;
}

int pb_lmdb_app_of(pb_lmdb_view *view, uint64_t access_id, pb_app_info *app)
{
    struct app_record record;
    int rc = view_app_record(view, access_id, &record, "app record");
    if (rc == 0)
        *app = (pb_app_info){access_id, record.created_at, record.bindings};
    return rc;
}

/*
 * Both lookups copy nothing: the strings point into the map, which the view's
 * snapshot keeps stable, and mdb_cursor_count() sizes each answer's array so
 * it is one allocation from the pool. Times and platforms are on the tokens
 * side (store/lmdb_keys.h), so by account they cost one more lookup per
 * token, made only when asked for or when bindings can expire.
 */
int pb_lmdb_tokens_of(pb_lmdb_view *view, uint64_t access_id, const pb_account *accounts, size_t n,
                       bool with_info, pb_pool *pool, pb_token_list *out)
{
    pb_lmdb_session *session = view->session;
    int64_t ttl = session->store->binding_ttl, now = pb_clock_unix_s();
    bool need_info = with_info || ttl > 0;
    unsigned char buf[PB_LMDB_KEY_BUF], tbuf[PB_LMDB_KEY_BUF];
    int rc = view_cursor(session, session->accounts_cursor, &session->accounts_cursor_renewed);
    if (rc == 0 && need_info)
        rc = view_cursor(session, session->tokens_cursor, &session->tokens_cursor_renewed);
    if (rc != 0)
        goto fail;

    for (size_t i = 0; i < n; i++) {
        out[i] = (pb_token_list){.n = 0};
        /* A key LMDB cannot store is bound to nothing. */
        if (!pb_lmdb_account_fits(session->store, &accounts[i]))
            continue;
        MDB_val key = {account_key(buf, access_id, &accounts[i]), buf}, dup;
        size_t count;
        if ((rc = pb_lmdb_seek_dups(session->accounts_cursor, &key, &dup, &count)) != 0)
            goto fail;
        if (count == 0)
            continue;
        pb_token_list list = {.tokens = pb_pool_alloc(pool, count * sizeof(*list.tokens))};
        if (with_info) {
            list.times = pb_pool_alloc(pool, count * sizeof(*list.times));
            list.platforms = pb_pool_alloc(pool, count * sizeof(*list.platforms));
        }
        for (size_t j = 0; j < count; j++) {
            uint64_t seq;
            pb_str token;
            if (j != 0 && (rc = mdb_cursor_get(session->accounts_cursor, &key, &dup, MDB_NEXT_DUP)) != 0)
                goto fail;
            if (!token_dup_parse(dup.mv_data, dup.mv_size, &seq, &token)) {
                rc = MDB_CORRUPTED;
                goto fail;
            }
            if (need_info) {
                MDB_val tkey = {token_key(tbuf, access_id, token), tbuf}, tdup;
                struct binding_info info;
                pb_account bound;
                uint64_t tseq;
                rc = pb_lmdb_seek_binding(session->tokens_cursor, &tkey, seq, &tdup);
                if (rc == MDB_NOTFOUND)
                    continue; /* half of a binding: not one */
                if (rc != 0 || !account_dup_parse(tdup.mv_data, tdup.mv_size, &tseq, &info, &bound)) {
                    rc = rc != 0 ? rc : MDB_CORRUPTED;
                    goto fail;
                }
                if (binding_expired(info.last_bind_time, ttl, now))
                    continue;
                if (with_info) {
                    list.times[list.n] = (pb_binding_times){info.bind_time, info.last_bind_time};
                    list.platforms[list.n] = info.platform;
                }
            }
            list.tokens[list.n++] = token;
        }
        out[i] = list;
    }
    return 0;

fail:
    pb_lmdb_set_error(session, "tokens of account", rc);
    return PB_STORE_EIO;
}

int pb_lmdb_accounts_of(pb_lmdb_view *view, uint64_t access_id, const pb_str *tokens, size_t n,
                         bool with_info, pb_pool *pool, pb_account_list *out)
{
    pb_lmdb_session *session = view->session;
    int64_t ttl = session->store->binding_ttl, now = pb_clock_unix_s();
    unsigned char buf[PB_LMDB_KEY_BUF];
    int rc = view_cursor(session, session->tokens_cursor, &session->tokens_cursor_renewed);
    if (rc != 0)
        goto fail;

    for (size_t i = 0; i < n; i++) {
        out[i] = (pb_account_list){.n = 0};
        if (!pb_lmdb_token_fits(session->store, tokens[i]))
            continue;
        MDB_val key = {token_key(buf, access_id, tokens[i]), buf}, dup;
        size_t count;
        if ((rc = pb_lmdb_seek_dups(session->tokens_cursor, &key, &dup, &count)) != 0)
            goto fail;
        if (count == 0)
            continue;
        pb_account_list list = {.accounts = pb_pool_alloc(pool, count * sizeof(*list.accounts))};
        if (with_info)
            list.times = pb_pool_alloc(pool, count * sizeof(*list.times));
        for (size_t j = 0; j < count; j++) {
            uint64_t seq;
            struct binding_info info;
            if (j != 0 && (rc = mdb_cursor_get(session->tokens_cursor, &key, &dup, MDB_NEXT_DUP)) != 0)
                goto fail;
            if (!account_dup_parse(dup.mv_data, dup.mv_size, &seq, &info, &list.accounts[list.n])) {
                rc = MDB_CORRUPTED;
                goto fail;
            }
            if (binding_expired(info.last_bind_time, ttl, now))
                continue;
            if (with_info) {
                list.times[list.n] = (pb_binding_times){info.bind_time, info.last_bind_time};
                list.platform = info.platform;
            }
            list.n++;
        }
        out[i] = list;
    }
    return 0;

fail:
    pb_lmdb_set_error(session, "accounts of token", rc);
    return PB_STORE_EIO;
}

/*
 * The accounts database's keys begin access_id | account_type (keys.h), so
 * the app's types need no record of their own: a seek to (access_id, t)
 * lands on the first account of the smallest type >= t, and the next seek
 * goes past that whole type. One seek per type the app uses, plus one that
 * finds the end, whatever the number of accounts: nothing is written to
 * keep it, and a store of any earlier version answers the same. A type
 * whose accounts all expired but are not yet deleted is still listed (a
 * superset, as the contract allows).
 */
int pb_lmdb_account_types(pb_lmdb_view *view, uint64_t access_id, size_t max, pb_pool *pool, uint32_t **types,
                          size_t *n)
{
    pb_lmdb_session *session = view->session;
    unsigned char buf[PB_LMDB_ACCOUNT_OVERHEAD];
    *types = NULL;
    *n = 0;
    int rc = view_cursor(session, session->accounts_cursor, &session->accounts_cursor_renewed);
    uint64_t next = 0; /* the smallest type not yet passed; above UINT32_MAX when every one is */
    while (rc == 0 && next <= UINT32_MAX && (max == 0 || *n < max)) {
        be64_put(buf, access_id);
        be32_put(buf + PB_LMDB_ID_LEN, (uint32_t)next);
        MDB_val key = {sizeof(buf), buf}, dup;
        if ((rc = mdb_cursor_get(session->accounts_cursor, &key, &dup, MDB_SET_RANGE)) != 0)
            break;
        if (key.mv_size < PB_LMDB_ACCOUNT_OVERHEAD || memcmp(key.mv_data, buf, PB_LMDB_ID_LEN) != 0)
            return 0; /* past the app's accounts */
        uint32_t type = be32_get((const unsigned char *)key.mv_data + PB_LMDB_ID_LEN);
        *types = pb_pool_grow(pool, *types, *n, sizeof(**types));
        (*types)[(*n)++] = type;
        next = (uint64_t)type + 1;
    }
    if (rc == 0 || rc == MDB_NOTFOUND)
        return 0;
    pb_lmdb_set_error(session, "account types", rc);
    return PB_STORE_EIO;
}
