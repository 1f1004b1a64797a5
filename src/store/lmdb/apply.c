/*
 * apply.c — the embedded store's group commit: the writes of several
 * requests in one write transaction, each write in a child transaction and
 * each of its changes in a grandchild. The writer thread (writer.c)
 * decides what goes into a group. The key layout is described in
 * store/lmdb/keys.h.
 */
#include <stdio.h>
#include <time.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/lmdb/internal.h"

/* One change being applied, inside its own child transaction. */
struct writer {
    const pb_lmdb_store *store;
    MDB_txn *txn;
    uint64_t access_id;
    uint64_t next_seq;
    int64_t delta;    /* bindings created minus bindings removed */
    int64_t now;      /* read once per write (pb_store_apply() call) */
    uint64_t expired; /* expired bindings deleted */
};

/* A binding found on a token's side, copied out so it survives later writes. */
struct found_binding {
    uint64_t seq;
    struct binding_info info;
    pb_account account;
    char name[PB_LMDB_KEY_BUF];
};

typedef bool binding_filter(const struct found_binding *bound, const void *arg);

static bool is_account(const struct found_binding *bound, const void *want)
{
    return pb_account_eq(&bound->account, want);
}

struct account_set {
    const pb_account *accounts;
    size_t n;
};

static bool not_in_set(const struct found_binding *bound, const void *arg)
{
    const struct account_set *set = arg;
    for (size_t i = 0; i < set->n; i++)
        if (pb_account_eq(&bound->account, &set->accounts[i]))
            return false;
    return true;
}

static bool is_expired(const struct found_binding *bound, const void *arg)
{
    const struct writer *w = arg;
    return binding_expired(bound->info.last_bind_time, w->store->binding_ttl, w->now);
}

/*
 * Finds the oldest binding of `token` whose account passes `filter`. Scanning
 * the token's dups is cheap: there are at most max_accounts_per_token of them.
 * Returns 0, MDB_NOTFOUND, or an LMDB error.
 */
static int find_binding(struct writer *w, pb_str token, binding_filter *filter, const void *arg,
                        struct found_binding *found)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    MDB_val key = {token_key(buf, w->access_id, token), buf}, dup;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(w->txn, w->store->tokens, &cursor);
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
static int find_pair(struct writer *w, pb_str token, const pb_account *account)
{
    struct found_binding found;
    return find_binding(w, token, is_account, account, &found);
}

/* How many dups `key` has in `dbi` (0 when absent). */
static int count_dups(struct writer *w, MDB_dbi dbi, MDB_val key, size_t *count)
{
    MDB_cursor *cursor;
    MDB_val dup;
    int rc = mdb_cursor_open(w->txn, dbi, &cursor);
    if (rc != 0)
        return rc;
    rc = pb_lmdb_seek_dups(cursor, &key, &dup, count);
    mdb_cursor_close(cursor);
    return rc;
}

static int tokens_of_account(struct writer *w, const pb_account *account, size_t *count)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    return count_dups(w, w->store->accounts, (MDB_val){account_key(buf, w->access_id, account), buf}, count);
}

static int accounts_of_token(struct writer *w, pb_str token, size_t *count)
{
    unsigned char buf[PB_LMDB_KEY_BUF];
    return count_dups(w, w->store->tokens, (MDB_val){token_key(buf, w->access_id, token), buf}, count);
}

/* Writes both sides of a new binding under the next seq. */
static int bind_pair(struct writer *w, pb_str token, const pb_account *account, const struct binding_info *info)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    uint64_t seq = w->next_seq;
    MDB_val key = {token_key(kbuf, w->access_id, token), kbuf};
    MDB_val dup = {account_dup(dbuf, seq, info, account), dbuf};
    int rc = mdb_put(w->txn, w->store->tokens, &key, &dup, 0);
    if (rc != 0)
        return rc;
    key = (MDB_val){account_key(kbuf, w->access_id, account), kbuf};
    dup = (MDB_val){token_dup(dbuf, seq, token), dbuf};
    if ((rc = mdb_put(w->txn, w->store->accounts, &key, &dup, 0)) != 0)
        return rc;
    w->next_seq++;
    w->delta++;
    return 0;
}

/*
 * Deletes both sides of binding `seq`. A side already missing is not an error:
 * the end state is the one asked for, and the survivor gets cleaned up.
 */
static int unbind_pair(struct writer *w, pb_str token, const pb_account *account, uint64_t seq)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    MDB_val key = {token_key(kbuf, w->access_id, token), kbuf}, dup;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(w->txn, w->store->tokens, &cursor);
    if (rc != 0)
        return rc;
    rc = pb_lmdb_seek_binding(cursor, &key, seq, &dup);
    if (rc == 0)
        rc = mdb_cursor_del(cursor, 0);
    mdb_cursor_close(cursor);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    bool existed = rc == 0;
    key = (MDB_val){account_key(kbuf, w->access_id, account), kbuf};
    dup = (MDB_val){token_dup(dbuf, seq, token), dbuf};
    rc = mdb_del(w->txn, w->store->accounts, &key, &dup);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    if (existed || rc == 0)
        w->delta--;
    return 0;
}

/* Unbinds, oldest first, every account of `token` that passes `filter`; *count counts them. */
static int unbind_matching(struct writer *w, pb_str token, binding_filter *filter, const void *arg,
                           uint64_t *count)
{
    struct found_binding found;
    int rc;
    while ((rc = find_binding(w, token, filter, arg, &found)) == 0) {
        if ((rc = unbind_pair(w, token, &found.account, found.seq)) != 0)
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
static int purge_token(struct writer *w, pb_str token)
{
    if (w->store->binding_ttl <= 0)
        return 0;
    return unbind_matching(w, token, is_expired, w, &w->expired);
}

/*
 * The same for an account about to gain a token: its bindings' times are on
 * the tokens side, so each of its tokens is looked up there (at most
 * max_tokens_per_account of them, and only with a TTL).
 */
static int purge_account(struct writer *w, const pb_account *account)
{
    if (w->store->binding_ttl <= 0)
        return 0;
    unsigned char kbuf[PB_LMDB_KEY_BUF], tbuf[PB_LMDB_KEY_BUF];
    char token_copy[PB_LMDB_KEY_BUF];
    MDB_cursor *accounts, *tokens;
    int rc = mdb_cursor_open(w->txn, w->store->accounts, &accounts);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(w->txn, w->store->tokens, &tokens)) != 0) {
        mdb_cursor_close(accounts);
        return rc;
    }
    for (;;) {
        MDB_val key = {account_key(kbuf, w->access_id, account), kbuf}, dup;
        uint64_t seq = 0;
        pb_str token = {NULL, 0};
        bool found = false;
        for (rc = mdb_cursor_get(accounts, &key, &dup, MDB_SET_KEY); rc == 0 && !found;
             rc = mdb_cursor_get(accounts, &key, &dup, MDB_NEXT_DUP)) {
            if (!token_dup_parse(dup.mv_data, dup.mv_size, &seq, &token)) {
                rc = MDB_CORRUPTED;
                break;
            }
            MDB_val tkey = {token_key(tbuf, w->access_id, token), tbuf}, tdup;
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
            if (binding_expired(info.last_bind_time, w->store->binding_ttl, w->now)) {
                memcpy(token_copy, token.base, token.len);
                token.base = token_copy;
                found = true;
            }
        }
        if (!found)
            break;
        if ((rc = unbind_pair(w, token, account, seq)) != 0)
            break;
        w->expired++;
    }
    mdb_cursor_close(tokens);
    mdb_cursor_close(accounts);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* The token's platform now: the one its dups carry, NONE when it has none. */
static int token_platform(struct writer *w, pb_str token, pb_platform *platform)
{
    struct found_binding found;
    struct account_set none = {NULL, 0};
    int rc = find_binding(w, token, not_in_set, &none, &found);
    *platform = rc == 0 ? found.info.platform : PB_PLATFORM_NONE;
    return rc == MDB_NOTFOUND ? 0 : rc;
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
static struct binding_info confirmed(const struct writer *w, const pb_change *change, size_t i,
                                     struct binding_info was, pb_platform platform)
{
    struct binding_info now = was;
    if (change->times == NULL) {
        now.last_bind_time = stored_time(w->now);
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
static int refresh_token(struct writer *w, const pb_change *change, pb_platform platform)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    MDB_val key = {token_key(kbuf, w->access_id, change->token), kbuf}, dup;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(w->txn, w->store->tokens, &cursor);
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
            next = confirmed(w, change, i, info, platform);
        if (memcmp(&next, &info, sizeof(info)) == 0)
            continue;
        MDB_val replaced = {account_dup(dbuf, seq, &next, &account), dbuf};
        MDB_val same_key = {token_key(kbuf, w->access_id, change->token), kbuf};
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
static int count_new_accounts(struct writer *w, const pb_change *change, size_t *added, bool *refused)
{
    *added = 0;
    *refused = false;
    for (size_t i = 0; i < change->n_accounts; i++) {
        const pb_account *account = &change->accounts[i];
        size_t tokens;
        int rc = find_pair(w, change->token, account);
        if (rc == 0)
            continue;
        if (rc != MDB_NOTFOUND || (rc = purge_account(w, account)) != 0 ||
            (rc = tokens_of_account(w, account, &tokens)) != 0)
            return rc;
        if (tokens + 1 > w->store->limits.max_tokens_per_account) {
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
static int bind_missing(struct writer *w, const pb_change *change)
{
    pb_platform platform = change->platform;
    int rc;
    if (platform == PB_PLATFORM_NONE && (rc = token_platform(w, change->token, &platform)) != 0)
        return rc;
    for (size_t i = 0; i < change->n_accounts; i++) {
        rc = find_pair(w, change->token, &change->accounts[i]);
        if (rc == MDB_NOTFOUND) {
            uint32_t now = stored_time(w->now);
            struct binding_info info = {now, now, platform};
            if (change->times != NULL)
                info = (struct binding_info){stored_time(change->times[i].last_bind_time),
                                             stored_time(change->times[i].bind_time), platform};
            rc = bind_pair(w, change->token, &change->accounts[i], &info);
        }
        if (rc != 0)
            return rc;
    }
    return refresh_token(w, change, platform);
}

static int append_accounts(struct writer *w, const pb_change *change, pb_change_outcome *outcome)
{
    size_t bound, added;
    bool refused;
    int rc = purge_token(w, change->token);
    if (rc == 0)
        rc = accounts_of_token(w, change->token, &bound);
    if (rc != 0 || (rc = count_new_accounts(w, change, &added, &refused)) != 0)
        return rc;
    /* A token already over a lowered limit may still be re-sent what it has. */
    if (refused || (added != 0 && bound + added > w->store->limits.max_accounts_per_token)) {
        *outcome = PB_CHANGE_OVER_LIMIT;
        return 0;
    }
    return bind_missing(w, change);
}

/* Unbinds the accounts not listed, then binds the new ones: the kept ones
 * never leave, so they keep their seq and their place. */
static int overwrite_accounts(struct writer *w, const pb_change *change, pb_change_outcome *outcome)
{
    struct account_set listed = {change->accounts, change->n_accounts};
    size_t added;
    bool refused;
    int rc = purge_token(w, change->token);
    if (rc != 0 || (rc = count_new_accounts(w, change, &added, &refused)) != 0)
        return rc;
    if (refused || change->n_accounts > w->store->limits.max_accounts_per_token) {
        *outcome = PB_CHANGE_OVER_LIMIT;
        return 0;
    }
    if ((rc = unbind_matching(w, change->token, not_in_set, &listed, NULL)) != 0)
        return rc;
    return bind_missing(w, change);
}

static int remove_accounts(struct writer *w, const pb_change *change)
{
    for (size_t i = 0; i < change->n_accounts; i++) {
        int rc = unbind_matching(w, change->token, is_account, &change->accounts[i], NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int clear_token(struct writer *w, pb_str token)
{
    struct account_set none = {NULL, 0};
    return unbind_matching(w, token, not_in_set, &none, NULL);
}

/* Unbinds every token of `account`, taking the oldest each time. */
static int clear_account(struct writer *w, const pb_account *account)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF];
    char token_copy[PB_LMDB_KEY_BUF];
    MDB_cursor *cursor;
    int rc;
    for (;;) {
        MDB_val key = {account_key(kbuf, w->access_id, account), kbuf}, dup;
        uint64_t seq;
        pb_str token;
        if ((rc = mdb_cursor_open(w->txn, w->store->accounts, &cursor)) != 0)
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
        if ((rc = unbind_pair(w, token, account, seq)) != 0)
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

static int run_change(struct writer *w, const pb_change *change, pb_change_outcome *outcome)
{
    switch (change->kind) {
    case PB_CHANGE_APPEND:
        return append_accounts(w, change, outcome);
    case PB_CHANGE_OVERWRITE:
        return overwrite_accounts(w, change, outcome);
    case PB_CHANGE_REMOVE:
        return remove_accounts(w, change);
    case PB_CHANGE_CLEAR_TOKEN:
        return clear_token(w, change->token);
    case PB_CHANGE_CLEAR_ACCOUNT:
        return clear_account(w, &change->accounts[0]);
    }
    *outcome = PB_CHANGE_OVER_LIMIT;
    return 0;
}

/*
 * Applies one change in a child of the batch's transaction, so that a refused
 * change is rolled back alone while the batch goes on. The batch's seq counter
 * and bindings delta move only when the child commits.
 */
static int apply_change(struct writer *batch, const pb_change *change, pb_change_outcome *outcome)
{
    *outcome = PB_CHANGE_OK;
    if (!change_fits(batch->store, change)) {
        *outcome = PB_CHANGE_OVER_LIMIT;
        return 0;
    }
    struct writer w = *batch;
    w.delta = 0;
    int rc = mdb_txn_begin(mdb_txn_env(batch->txn), batch->txn, 0, &w.txn);
    if (rc != 0)
        return rc;
    /* Binds stop short of the reserve; unbinds may use all of it (space.c). */
    uint64_t pages_before;
    bool binds = change->kind == PB_CHANGE_APPEND || change->kind == PB_CHANGE_OVERWRITE, room = true;
    if (binds && (rc = pb_lmdb_pages_used(w.txn, &pages_before)) != 0) {
        mdb_txn_abort(w.txn);
        return rc;
    }
    rc = run_change(&w, change, outcome);
    if (rc == 0 && *outcome == PB_CHANGE_OK && binds &&
        (rc = pb_lmdb_space_check(w.store, w.txn, pages_before, &room)) == 0 && !room)
        *outcome = PB_CHANGE_NO_SPACE;
    if (rc != 0 || *outcome != PB_CHANGE_OK) {
        mdb_txn_abort(w.txn);
        return rc;
    }
    if ((rc = mdb_txn_commit(w.txn)) != 0)
        return rc;
    batch->next_seq = w.next_seq;
    batch->delta += w.delta;
    batch->expired += w.expired;
    return 0;
}

/* The count only informs `pushbind app list`; it never goes below zero. */
static uint64_t add_bindings(uint64_t count, int64_t delta)
{
    if (delta >= 0)
        return count + (uint64_t)delta;
    uint64_t removed = (uint64_t)-(delta + 1) + 1;
    return removed > count ? 0 : count - removed;
}

int pb_lmdb_seq_read(const pb_lmdb_store *store, MDB_txn *txn, uint64_t *seq)
{
    MDB_val key = {3, (void *)"seq"}, value;
    int rc = mdb_get(txn, store->meta, &key, &value);
    *seq = 1;
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && value.mv_size != 8)
        rc = MDB_CORRUPTED;
    if (rc == 0)
        *seq = be64_get(value.mv_data);
    return rc;
}

int pb_lmdb_seq_write(const pb_lmdb_store *store, MDB_txn *txn, uint64_t seq)
{
    unsigned char buf[8];
    be64_put(buf, seq);
    MDB_val key = {3, (void *)"seq"}, value = {sizeof(buf), buf};
    return mdb_put(txn, store->meta, &key, &value, 0);
}

/*
 * Applies one write in a child of the group's transaction, continuing the
 * group's seq counter. Returns 0 with write->result set (PB_STORE_OK or
 * PB_STORE_ENOTFOUND, nothing changed), or an LMDB error after undoing the
 * write's changes, with *what saying where.
 */
static int apply_write(const pb_lmdb_store *store, MDB_txn *group_txn, uint64_t *next_seq, pb_lmdb_write *write,
                       const char **what)
{
    unsigned char app_buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    struct writer batch = {
        .store = store, .access_id = write->access_id, .next_seq = *next_seq, .now = (int64_t)time(NULL)};

    *what = "begin write";
    int rc = mdb_txn_begin(mdb_txn_env(group_txn), group_txn, 0, &batch.txn);
    if (rc != 0)
        return rc;
    *what = "read app";
    if ((rc = pb_lmdb_app_read(store, batch.txn, write->access_id, app_buf, &app)) == MDB_NOTFOUND) {
        mdb_txn_abort(batch.txn);
        write->result = PB_STORE_ENOTFOUND;
        return 0;
    }
    if (rc != 0)
        goto fail;
    *what = "apply change";
    for (size_t i = 0; i < write->n; i++)
        if ((rc = apply_change(&batch, &write->changes[i], &write->outcomes[i])) != 0)
            goto fail;
    *what = "update app";
    if (batch.delta != 0) {
        app.bindings = add_bindings(app.bindings, batch.delta);
        if ((rc = pb_lmdb_app_write(store, batch.txn, write->access_id, &app)) != 0)
            goto fail;
    }
    if ((rc = mdb_txn_commit(batch.txn)) != 0)
        return rc;
    *next_seq = batch.next_seq;
    write->expired = batch.expired;
    write->result = PB_STORE_OK;
    return 0;

fail:
    mdb_txn_abort(batch.txn);
    return rc;
}

static void fail_write(pb_lmdb_write *write, const char *what, int rc)
{
    write->result = PB_STORE_EIO;
    snprintf(write->error, sizeof(write->error), "%s: %s", what, mdb_strerror(rc));
}

static size_t group_size(const pb_lmdb_write *writes)
{
    size_t n = 0;
    for (; writes != NULL; writes = writes->next)
        n++;
    return n;
}

/*
 * The seq counter is read once and written once per group: each write
 * continues where the previous one stopped, and a write that is undone gives
 * its numbers back.
 */
void pb_lmdb_commit_group(pb_lmdb_session *session, pb_lmdb_write *writes)
{
    const pb_lmdb_store *store = session->store;
    const char *what = "begin write";
    uint64_t first_seq, next_seq;
    bool changed = false;
    MDB_txn *txn;

    int rc = pb_lmdb_txn_start(session, 0, &txn);
    if (rc != 0)
        goto fail;
    what = "read seq";
    if ((rc = pb_lmdb_seq_read(store, txn, &first_seq)) != 0) {
        pb_lmdb_txn_done(session, txn, false);
        goto fail;
    }
    next_seq = first_seq;
    for (pb_lmdb_write *w = writes; w != NULL; w = w->next) {
        if ((rc = apply_write(store, txn, &next_seq, w, &what)) != 0)
            fail_write(w, what, rc);
        changed |= w->result == PB_STORE_OK;
    }
    if (!changed) {
        pb_lmdb_txn_done(session, txn, false);
        return;
    }
    what = "write seq";
    if (next_seq != first_seq && (rc = pb_lmdb_seq_write(store, txn, next_seq)) != 0) {
        pb_lmdb_txn_done(session, txn, false);
        goto fail;
    }
    what = "commit";
    uint64_t commit_started = pb_clock_ns();
    rc = pb_lmdb_txn_done(session, txn, true);
    pb_metrics_observe_store_commit(pb_clock_ns() - commit_started);
    pb_metrics_observe_commit_batch(group_size(writes));
    if (rc != 0)
        goto fail;
    for (pb_lmdb_write *w = writes; w != NULL; w = w->next)
        pb_metrics_count_expired(w->expired);
    return;

fail:
    for (pb_lmdb_write *w = writes; w != NULL; w = w->next)
        if (w->result != PB_STORE_ENOTFOUND)
            fail_write(w, what, rc);
}
