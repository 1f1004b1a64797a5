/*
 * apply_change.c — one change of a write: the limits it must keep (checked
 * before anything is written, so that a refused change has nothing to undo),
 * what each kind of change binds and unbinds, the times and platform its
 * bindings carry after it, and its child transaction.
 */
#include "store/lmdb/apply.h"

/* How many dups `key` has in `dbi` (0 when absent). */
static int count_dups(struct txn_scope *scope, MDB_dbi dbi, MDB_val key, size_t *count)
{
    MDB_cursor *cursor;
    MDB_val dup;
    int rc = mdb_cursor_open(scope->txn, dbi, &cursor);
    if (rc != 0)
        return rc;
    rc = pb_lmdb_seek_dups(cursor, &key, &dup, count);
    mdb_cursor_close(cursor);
    return rc;
}

static int tokens_of_account(struct txn_scope *scope, const pb_account *account, size_t *count)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    return count_dups(scope, scope->store->accounts, (MDB_val){account_key(buf, scope->access_id, account), buf}, count);
}

static int accounts_of_token(struct txn_scope *scope, pb_str token, size_t *count)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    return count_dups(scope, scope->store->tokens, (MDB_val){token_key(buf, scope->access_id, token), buf}, count);
}
/* The index of `account` in the change's list, or n_accounts. */
static size_t listed_at(const pb_change *change, const pb_account *account)
{
    size_t i = 0;
    while (i < change->n_accounts && !pb_account_eq(&change->accounts[i], account))
        i++;
    return i;
}

/*
 * What a binding of the change's list is after the change: confirmed now, or
 * as given (the latest last_bind_time and the earliest bind_time of the two);
 * `was` is its info before (the new binding's own for one just made).
 */
static struct binding_info confirmed(const struct txn_scope *scope, const pb_change *change, size_t i,
                                     struct binding_info was, pb_platform platform)
{
    struct binding_info now = was;
    if (change->times == NULL) {
        now.last_bind_time = stored_time(scope->now);
    } else {
        uint32_t last = stored_time(change->times[i].last_bind_time);
        uint32_t bind = stored_time(change->times[i].bind_time);
        now.last_bind_time = last > was.last_bind_time ? last : was.last_bind_time;
        now.bind_time = bind < was.bind_time ? bind : was.bind_time;
    }
    now.platform = platform;
    return now;
}

/*
 * Rewrites the token's dups in place after an APPEND or OVERWRITE: the listed
 * accounts confirmed (last_bind_time), every dup given the token's platform.
 * Same size and same leading seq, so MDB_CURRENT overwrites without moving.
 */
static int refresh_token(struct txn_scope *scope, const pb_change *change, pb_platform platform)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    MDB_val key = {token_key(kbuf, scope->access_id, change->token), kbuf}, dup;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(scope->txn, scope->store->tokens, &cursor);
    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cursor, &key, &dup, MDB_SET_KEY); rc == 0;
         rc = mdb_cursor_get(cursor, &key, &dup, MDB_NEXT_DUP)) {
        struct binding_info info, next;
        pb_account account;
        uint64_t seq;
        if (!account_dup_parse(dup.mv_data, dup.mv_size, &seq, &info, &account)) {
            rc = MDB_CORRUPTED;
            break;
        }
        size_t i = listed_at(change, &account);
        next = info;
        next.platform = platform;
        if (i < change->n_accounts)
            next = confirmed(scope, change, i, info, platform);
        if (memcmp(&next, &info, sizeof(info)) == 0)
            continue;
        MDB_val replaced = {account_dup(dbuf, seq, &next, &account), dbuf};
        MDB_val same_key = {token_key(kbuf, scope->access_id, change->token), kbuf};
        if ((rc = mdb_cursor_put(cursor, &same_key, &replaced, MDB_CURRENT)) != 0)
            break;
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Counts the listed accounts not yet bound to the token (*added) and refuses
 * the change when one of them already has max_tokens_per_account tokens.
 * Limits are checked before anything is written, so that a refused change
 * has nothing to undo.
 */
static int count_new_accounts(struct txn_scope *scope, const pb_change *change, size_t *added, bool *refused)
{
    *added = 0;
    *refused = false;
    for (size_t i = 0; i < change->n_accounts; i++) {
        const pb_account *account = &change->accounts[i];
        size_t tokens;
        int rc = pb_lmdb_find_pair(scope, change->token, account);
        if (rc == 0)
            continue;
        if (rc != MDB_NOTFOUND || (rc = pb_lmdb_purge_account(scope, account)) != 0 ||
            (rc = tokens_of_account(scope, account, &tokens)) != 0)
            return rc;
        if (tokens + 1 > scope->store->limits.max_tokens_per_account) {
            *refused = true;
            return 0;
        }
        (*added)++;
    }
    return 0;
}

/*
 * Binds, in list order, the listed accounts not yet bound to the token, then
 * confirms the ones it had and gives every binding of the token its platform
 * (the change's, else the one it had).
 */
static int bind_missing(struct txn_scope *scope, const pb_change *change)
{
    pb_platform platform = change->platform;
    int rc;
    if (platform == PB_PLATFORM_NONE && (rc = pb_lmdb_token_platform(scope, change->token, &platform)) != 0)
        return rc;
    for (size_t i = 0; i < change->n_accounts; i++) {
        rc = pb_lmdb_find_pair(scope, change->token, &change->accounts[i]);
        if (rc == MDB_NOTFOUND) {
            uint32_t now = stored_time(scope->now);
            struct binding_info info = {now, now, platform};
            if (change->times != NULL)
                info = (struct binding_info){stored_time(change->times[i].last_bind_time),
                                             stored_time(change->times[i].bind_time), platform};
            rc = pb_lmdb_bind_pair(scope, change->token, &change->accounts[i], &info);
        }
        if (rc != 0)
            return rc;
    }
    return refresh_token(scope, change, platform);
}

static int append_accounts(struct txn_scope *scope, const pb_change *change, pb_change_outcome *outcome)
{
    size_t bound, added;
    bool refused;
    int rc = pb_lmdb_purge_token(scope, change->token);
    if (rc == 0)
        rc = accounts_of_token(scope, change->token, &bound);
    if (rc != 0 || (rc = count_new_accounts(scope, change, &added, &refused)) != 0)
        return rc;
    /* A token already over a lowered limit may still be re-sent what it has. */
    if (refused || (added != 0 && bound + added > scope->store->limits.max_accounts_per_token)) {
        *outcome = PB_CHANGE_OVER_LIMIT;
        return 0;
    }
    return bind_missing(scope, change);
}

/* Unbinds the accounts not listed, then binds the new ones: the kept ones
 * never leave, so they keep their seq and their place. */
static int overwrite_accounts(struct txn_scope *scope, const pb_change *change, pb_change_outcome *outcome)
{
    struct account_set listed = {change->accounts, change->n_accounts};
    size_t added;
    bool refused;
    int rc = pb_lmdb_purge_token(scope, change->token);
    if (rc != 0 || (rc = count_new_accounts(scope, change, &added, &refused)) != 0)
        return rc;
    if (refused || change->n_accounts > scope->store->limits.max_accounts_per_token) {
        *outcome = PB_CHANGE_OVER_LIMIT;
        return 0;
    }
    if ((rc = pb_lmdb_unbind_matching(scope, change->token, not_in_set, &listed, NULL)) != 0)
        return rc;
    return bind_missing(scope, change);
}

static int remove_accounts(struct txn_scope *scope, const pb_change *change)
{
    for (size_t i = 0; i < change->n_accounts; i++) {
        int rc = pb_lmdb_unbind_matching(scope, change->token, is_account, &change->accounts[i], NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int clear_token(struct txn_scope *scope, pb_str token)
{
    struct account_set none = {NULL, 0};
    return pb_lmdb_unbind_matching(scope, token, not_in_set, &none, NULL);
}

/* Unbinds every token of `account`, taking the oldest each time. */
static int clear_account(struct txn_scope *scope, const pb_account *account)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF];
    char token_copy[PB_LMDB_KEY_BUF];
    MDB_cursor *cursor;
    int rc;
    for (;;) {
        MDB_val key = {account_key(kbuf, scope->access_id, account), kbuf}, dup;
        uint64_t seq;
        pb_str token;
        if ((rc = mdb_cursor_open(scope->txn, scope->store->accounts, &cursor)) != 0)
            return rc;
        rc = mdb_cursor_get(cursor, &key, &dup, MDB_SET_KEY);
        if (rc == 0 && !token_dup_parse(dup.mv_data, dup.mv_size, &seq, &token))
            rc = MDB_CORRUPTED;
        if (rc == 0) {
            memcpy(token_copy, token.base, token.len);
            token.base = token_copy;
        }
        mdb_cursor_close(cursor);
        if (rc != 0)
            return rc == MDB_NOTFOUND ? 0 : rc;
        if ((rc = pb_lmdb_unbind_pair(scope, token, account, seq)) != 0)
            return rc;
    }
}

/* Whether every key and dup the change would write fits LMDB's limits. */
static bool change_fits(const pb_lmdb_store *store, const pb_change *change)
{
    if (change->kind == PB_CHANGE_CLEAR_ACCOUNT)
        return change->n_accounts == 1 && pb_lmdb_account_fits(store, &change->accounts[0]);
    if (!pb_lmdb_token_fits(store, change->token))
        return false;
    for (size_t i = 0; i < change->n_accounts; i++)
        if (!pb_lmdb_account_fits(store, &change->accounts[i]))
            return false;
    return true;
}

static int run_change(struct txn_scope *scope, const pb_change *change, pb_change_outcome *outcome)
{
    switch (change->kind) {
    case PB_CHANGE_APPEND:
        return append_accounts(scope, change, outcome);
    case PB_CHANGE_OVERWRITE:
        return overwrite_accounts(scope, change, outcome);
    case PB_CHANGE_REMOVE:
        return remove_accounts(scope, change);
    case PB_CHANGE_CLEAR_TOKEN:
        return clear_token(scope, change->token);
    case PB_CHANGE_CLEAR_ACCOUNT:
        return clear_account(scope, &change->accounts[0]);
    }
    *outcome = PB_CHANGE_OVER_LIMIT;
    return 0;
}

/*
 * Applies one change in a child of the batch's transaction, so that a refused
 * change is rolled back alone while the batch goes on. The batch's seq counter
 * and bindings delta move only when the child commits.
 */
int pb_lmdb_apply_change(struct txn_scope *batch, const pb_change *change, pb_change_outcome *outcome)
{
    *outcome = PB_CHANGE_OK;
    if (!change_fits(batch->store, change)) {
        *outcome = PB_CHANGE_OVER_LIMIT;
        return 0;
    }
    bool binds = is_bind(change), room = true;
    if (binds && batch->space->refuse_binds) {
        *outcome = PB_CHANGE_NO_SPACE;
        return pb_lmdb_space_check(batch->store, batch->space, 1, &room);
    }
    struct txn_scope scope = *batch;
    scope.delta = 0;
    scope.grown = 0;
    int rc = mdb_txn_begin(mdb_txn_env(batch->txn), batch->txn, 0, &scope.txn);
    if (rc != 0)
        return rc;
    /* Binds stop short of the reserve; unbinds may use all of it (space.c). */
    rc = run_change(&scope, change, outcome);
    if (rc == 0 && *outcome == PB_CHANGE_OK && binds &&
        (rc = pb_lmdb_space_check(scope.store, scope.space, scope.grown, &room)) == 0 && !room)
        *outcome = PB_CHANGE_NO_SPACE;
    if (rc != 0 || *outcome != PB_CHANGE_OK) {
        mdb_txn_abort(scope.txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(scope.txn)) != 0)
        return rc;
    batch->next_seq = scope.next_seq;
    batch->delta += scope.delta;
    batch->expired += scope.expired;
    return 0;
}
