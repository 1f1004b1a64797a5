/*
 * apply_pair.c — the two sides of one binding inside a change's
 * transaction: found from the token, written, deleted, and deleted when
 * expired, and the seek by seq that reads, expiry and the tools share.
 * Which bindings a change asks for is apply_change.c's business.
 */
#include "store/lmdb/apply.h"

int pb_lmdb_seek_binding(MDB_cursor *tokens, MDB_val *key, uint64_t seq, MDB_val *dup)
{
    unsigned char prefix[PB_LMDB_SEQ_LEN];
    be64_put(prefix, seq);
    *dup = (MDB_val){sizeof(prefix), prefix};
    int rc = mdb_cursor_get(tokens, key, dup, MDB_GET_BOTH_RANGE);
    if (rc == 0 && (dup->mv_size < PB_LMDB_SEQ_LEN || be64_get(dup->mv_data) != seq))
        rc = MDB_NOTFOUND;
    return rc;
}

static bool is_expired(const struct found_binding *bound, const void *arg)
{
    const struct txn_scope *scope = arg;
    return binding_expired(bound->info.last_bind_time, scope->store->binding_ttl, scope->now);
}

/*
 * Finds the oldest binding of `token` whose account passes `filter`. Scanning
 * the token's dups is cheap: there are at most max_accounts_per_token of them.
 * Returns 0, MDB_NOTFOUND, or an LMDB error.
 */
static int find_binding(struct txn_scope *scope, pb_str token, binding_filter *filter, const void *arg,
                        struct found_binding *found)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    MDB_val key = {token_key(buf, scope->access_id, token), buf}, dup;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(scope->txn, scope->store->tokens, &cursor);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cursor, &key, &dup, MDB_SET_KEY); rc == 0;
         rc = mdb_cursor_get(cursor, &key, &dup, MDB_NEXT_DUP)) {
        if (!account_dup_parse(dup.mv_data, dup.mv_size, &found->seq, &found->info, &found->account)) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (filter(found, arg)) {
            memcpy(found->name, found->account.name.base, found->account.name.len);
            found->account.name.base = found->name;
            break;
        }
    }
    mdb_cursor_close(cursor);
    return rc;
}

/* Whether `account` is bound to `token`: 0 yes, MDB_NOTFOUND no, else an error. */
int pb_lmdb_find_pair(struct txn_scope *scope, pb_str token, const pb_account *account)
{
    struct found_binding found;
    return find_binding(scope, token, is_account, account, &found);
}
/* Writes both sides of a new binding under the next seq. */
int pb_lmdb_bind_pair(struct txn_scope *scope, pb_str token, const pb_account *account, const struct binding_info *info)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    uint64_t seq = scope->next_seq;
    MDB_val key = {token_key(kbuf, scope->access_id, token), kbuf};
    MDB_val dup = {account_dup(dbuf, seq, info, account), dbuf};
    int rc = mdb_put(scope->txn, scope->store->tokens, &key, &dup, 0);
    if (rc != 0)
        return rc;
    key = (MDB_val){account_key(kbuf, scope->access_id, account), kbuf};
    dup = (MDB_val){token_dup(dbuf, seq, token), dbuf};
    if ((rc = mdb_put(scope->txn, scope->store->accounts, &key, &dup, 0)) != 0)
        return rc;
    scope->next_seq++;
    scope->delta++;
    scope->grown += pb_lmdb_binding_bytes(token.len, account->name.len);
    return 0;
}

/*
 * Deletes both sides of binding `seq`. A side already missing is not an error:
 * the end state is the one asked for, and the survivor gets cleaned up.
 */
int pb_lmdb_unbind_pair(struct txn_scope *scope, pb_str token, const pb_account *account, uint64_t seq)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    MDB_val key = {token_key(kbuf, scope->access_id, token), kbuf}, dup;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(scope->txn, scope->store->tokens, &cursor);
    if (rc != 0)
        return rc;
    rc = pb_lmdb_seek_binding(cursor, &key, seq, &dup);
    if (rc == 0)
        rc = mdb_cursor_del(cursor, 0);
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    bool existed = rc == 0;
    key = (MDB_val){account_key(kbuf, scope->access_id, account), kbuf};
    dup = (MDB_val){token_dup(dbuf, seq, token), dbuf};
    rc = mdb_del(scope->txn, scope->store->accounts, &key, &dup);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (existed || rc == 0)
        scope->delta--;
    return 0;
}

/* Unbinds, oldest first, every account of `token` that passes `filter`; *count counts them. */
int pb_lmdb_unbind_matching(struct txn_scope *scope, pb_str token, binding_filter *filter, const void *arg,
                           uint64_t *count)
{
    struct found_binding found;
    int rc;
    while ((rc = find_binding(scope, token, filter, arg, &found)) == 0) {
        if ((rc = pb_lmdb_unbind_pair(scope, token, &found.account, found.seq)) != 0)
            return rc;
        if (count != NULL)
            (*count)++;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Expiry, for the token a change touches: its expired bindings are deleted
 * before anything is counted or found, so that limits, re-binds and answers
 * see only live ones. Nothing to do without a TTL.
 */
int pb_lmdb_purge_token(struct txn_scope *scope, pb_str token)
{
    if (scope->store->binding_ttl <= 0)
        return 0;
    return pb_lmdb_unbind_matching(scope, token, is_expired, scope, &scope->expired);
}

/*
 * The same for an account about to gain a token: its bindings' times are on
 * the tokens side, so each of its tokens is looked up there (at most
 * max_tokens_per_account of them, and only with a TTL).
 */
int pb_lmdb_purge_account(struct txn_scope *scope, const pb_account *account)
{
    if (scope->store->binding_ttl <= 0)
        return 0;
    unsigned char kbuf[PB_LMDB_KEY_BUF], tbuf[PB_LMDB_KEY_BUF];
    char token_copy[PB_LMDB_KEY_BUF];
    MDB_cursor *accounts, *tokens;
    int rc = mdb_cursor_open(scope->txn, scope->store->accounts, &accounts);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(scope->txn, scope->store->tokens, &tokens)) != 0) {
        mdb_cursor_close(accounts);
        return rc;
    }
    for (;;) {
        MDB_val key = {account_key(kbuf, scope->access_id, account), kbuf}, dup;
        uint64_t seq = 0;
        pb_str token = {NULL, 0};
        bool found = false;
        for (rc = mdb_cursor_get(accounts, &key, &dup, MDB_SET_KEY); rc == 0 && !found;
             rc = mdb_cursor_get(accounts, &key, &dup, MDB_NEXT_DUP)) {
            if (!token_dup_parse(dup.mv_data, dup.mv_size, &seq, &token)) {
                rc = MDB_CORRUPTED;
                break;
            }
            MDB_val tkey = {token_key(tbuf, scope->access_id, token), tbuf}, tdup;
            struct binding_info info;
            pb_account bound;
            uint64_t tseq;
            int trc = pb_lmdb_seek_binding(tokens, &tkey, seq, &tdup);
            if (trc == MDB_NOTFOUND)
                continue;
            if (trc != 0 || !account_dup_parse(tdup.mv_data, tdup.mv_size, &tseq, &info, &bound)) {
                rc = trc != 0 ? trc : MDB_CORRUPTED;
                break;
            }
            if (binding_expired(info.last_bind_time, scope->store->binding_ttl, scope->now)) {
                memcpy(token_copy, token.base, token.len);
                token.base = token_copy;
                found = true;
            }
        }
        if (!found)
            break;
        if ((rc = pb_lmdb_unbind_pair(scope, token, account, seq)) != 0)
            break;
        scope->expired++;
    }
    mdb_cursor_close(tokens);
    mdb_cursor_close(accounts);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The token's platform now: the one its dups carry, NONE when it has none. */
int pb_lmdb_token_platform(struct txn_scope *scope, pb_str token, pb_platform *platform)
{
    struct found_binding found;
    struct account_set none = {NULL, 0};
    int rc = find_binding(scope, token, not_in_set, &none, &found);
    *platform = rc == 0 ? found.info.platform : PB_PLATFORM_NONE;
    return rc == MDB_NOTFOUND ? 0 : rc;
}
