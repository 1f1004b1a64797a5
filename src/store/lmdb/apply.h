/*
 * store/lmdb/apply.h — the pieces of a group commit (apply.c, which runs a
 * group of writes in one write transaction): one change of a write in its
 * own child transaction (apply_change.c), and the two sides of one binding
 * found, written, deleted or expired (apply_pair.c). Private to store/lmdb/.
 *
 * A binding is written twice, once per side, under the same seq
 * (store/lmdb/keys.h); every function here keeps both sides together.
 */
#ifndef PB_STORE_LMDB_APPLY_H
#define PB_STORE_LMDB_APPLY_H

#include "store/lmdb/internal.h"

/*
 * A child of the group's write transaction and what was done in it so far:
 * one write's (apply.c), or inside it one change's (apply_change.c), whose
 * counters join the write's only when the change's child commits. Not the
 * writer thread (writer.c), which runs the group.
 */
struct txn_scope {
    const pb_lmdb_store *store;
    MDB_txn *txn;
    uint64_t access_id;
    uint64_t next_seq;
    int64_t delta;    /* bindings created minus bindings removed */
    int64_t now;      /* read once per write (pb_store_apply() call) */
    uint64_t expired; /* expired bindings deleted */
    uint64_t grown;   /* bytes the change's new bindings added (space.c) */
    pb_lmdb_space *space; /* the group's room for binds */
};

/* A binding found on a token's side, copied out so it survives later writes. */
struct found_binding {
    uint64_t seq;
    struct binding_info info;
    pb_account account;
    char name[PB_LMDB_KEY_BUF];
};

/* Which of a token's bindings a find or an unbind takes; `arg` is the filter's own. */
typedef bool binding_filter(const struct found_binding *bound, const void *arg);

static inline bool is_account(const struct found_binding *bound, const void *want)
{
    return pb_account_eq(&bound->account, want);
}

struct account_set {
    const pb_account *accounts;
    size_t n;
};

static inline bool not_in_set(const struct found_binding *bound, const void *arg)
{
    const struct account_set *set = arg;
    for (size_t i = 0; i < set->n; i++)
        if (pb_account_eq(&bound->account, &set->accounts[i]))
            return false;
    return true;
}

/* Whether `change` binds (and so needs room, space.c). */
static inline bool is_bind(const pb_change *change)
{
    return change->kind == PB_CHANGE_APPEND || change->kind == PB_CHANGE_OVERWRITE;
}

/*
 * Whether `account` is bound to `token`: 0 yes, MDB_NOTFOUND no, else an
 * LMDB error. (apply_pair.c, as are the functions down to
 * pb_lmdb_token_platform().)
 */
int pb_lmdb_find_pair(struct txn_scope *scope, pb_str token, const pb_account *account);

/*
 * Writes both sides of a new binding of `token` to `account` under the next
 * seq, with `info`, and counts it in scope->delta and scope->grown. Returns 0 or an
 * LMDB error.
 */
int pb_lmdb_bind_pair(struct txn_scope *scope, pb_str token, const pb_account *account, const struct binding_info *info);

/*
 * Deletes both sides of binding `seq`; a side already missing is not an
 * error. Counts a removed binding in scope->delta. Returns 0 or an LMDB error.
 */
int pb_lmdb_unbind_pair(struct txn_scope *scope, pb_str token, const pb_account *account, uint64_t seq);

/*
 * Unbinds, oldest first, every account of `token` that passes `filter`
 * (called with `arg`), adding one to *count (when not NULL) for each.
 * Returns 0 or an LMDB error.
 */
int pb_lmdb_unbind_matching(struct txn_scope *scope, pb_str token, binding_filter *filter, const void *arg,
                            uint64_t *count);

/*
 * Deletes the expired bindings of `token`, counted in scope->expired; nothing
 * without a TTL. Returns 0 or an LMDB error.
 */
int pb_lmdb_purge_token(struct txn_scope *scope, pb_str token);

/* The same for the bindings of `account`. */
int pb_lmdb_purge_account(struct txn_scope *scope, const pb_account *account);

/*
 * Sets *platform to the platform `token`'s bindings carry, PB_PLATFORM_NONE
 * when it has none. Returns 0 or an LMDB error.
 */
int pb_lmdb_token_platform(struct txn_scope *scope, pb_str token, pb_platform *platform);

/*
 * Applies `change` in a child of `batch`'s transaction and sets *outcome
 * (PB_CHANGE_OK, or why it was refused: then nothing of it is written). On
 * success batch's seq counter, delta and expired count take the change's.
 * Returns 0 or an LMDB error (the change undone). (apply_change.c)
 */
int pb_lmdb_apply_change(struct txn_scope *batch, const pb_change *change, pb_change_outcome *outcome);

/*
 * Applies tag request `write` in `batch`'s transaction (tag_apply.c). Sets
 * write->outcome; anything but PB_TAG_OK means the caller must undo the
 * transaction (the request is whole or nothing). Returns 0 or an LMDB error.
 */
int pb_lmdb_apply_tags(struct txn_scope *batch, pb_tag_write *write);

#endif
