/*
 * apply.c — the embedded store's group commit: the writes of several
 * requests in one write transaction, each write in a child transaction and
 * each of its changes in a grandchild (apply_change.c). The writer thread
 * (writer.c) decides what goes into a group. The key layout is described in
 * store/lmdb/keys.h.
 */
#include <stdio.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/lmdb/apply.h"

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
static int apply_write(const pb_lmdb_store *store, MDB_txn *group_txn, pb_lmdb_space *space, uint64_t *next_seq,
                       pb_lmdb_write *write, const char **what)
{
    unsigned char app_buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    struct txn_scope batch = {.store = store,
                           .access_id = write->access_id,
                           .next_seq = *next_seq,
                           .now = pb_clock_unix_s(),
                           .space = space};

    write->expired = 0;
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
        if ((rc = pb_lmdb_apply_change(&batch, &write->changes[i], &write->outcomes[i])) != 0)
            goto fail;
    if (write->tags != NULL) {
        *what = "apply tags";
        if ((rc = pb_lmdb_apply_tags(&batch, write->tags)) != 0)
            goto fail;
        if (write->tags->outcome != PB_TAG_OK) { /* whole or nothing: a limit undoes the request */
            mdb_txn_abort(batch.txn);
            write->result = PB_STORE_OK;
            return 0;
        }
    }
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

static bool group_binds(const pb_lmdb_write *writes)
{
    for (; writes != NULL; writes = writes->next) {
        if (writes->tags != NULL && (writes->tags->kind == PB_TAG_ADD || writes->tags->kind == PB_TAG_REPLACE))
            return true;
        for (size_t i = 0; i < writes->n; i++)
            if (is_bind(&writes->changes[i]))
                return true;
    }
    return false;
}

/*
 * One run of the group in one write transaction. The seq counter is read
 * once and written once: each write continues where the previous one
 * stopped, and a write that is undone gives its numbers back. Returns 0, or
 * the LMDB error that undid the whole group (*what says where). A write that
 * hits MDB_MAP_FULL while binds are allowed undoes the group too, so that it
 * can run again with them refused.
 */
static int run_group(pb_lmdb_session *session, pb_lmdb_write *writes, pb_lmdb_space *space, const char **what)
{
    const pb_lmdb_store *store = session->store;
    uint64_t first_seq, next_seq;
    bool changed = false;
    MDB_txn *txn;

    *what = "begin write";
    int rc = pb_lmdb_txn_start(session, 0, &txn);
    if (rc != 0)
        return rc;
    *what = "read seq";
    if ((rc = pb_lmdb_seq_read(store, txn, &first_seq)) != 0)
        goto abort;
    next_seq = first_seq;
    for (pb_lmdb_write *w = writes; w != NULL; w = w->next) {
        if ((rc = apply_write(store, txn, space, &next_seq, w, what)) == MDB_MAP_FULL && !space->refuse_binds)
            goto abort;
        if (rc != 0)
            fail_write(w, *what, rc);
        changed |= w->result == PB_STORE_OK;
    }
    if (!changed) {
        pb_lmdb_txn_done(session, txn, false);
        return 0;
    }
    *what = "write seq";
    if (next_seq != first_seq && (rc = pb_lmdb_seq_write(store, txn, next_seq)) != 0)
        goto abort;
    *what = "commit";
    uint64_t commit_started = pb_clock_ns();
    rc = pb_lmdb_txn_done(session, txn, true);
    pb_metrics_observe_store_commit(pb_clock_ns() - commit_started);
    pb_metrics_observe_commit_batch(group_size(writes));
    return rc;

abort:
    pb_lmdb_txn_done(session, txn, false);
    return rc;
}

/*
 * The reserve's count is an estimate (space.c): when the map fills anyway,
 * the group runs again with its binds refused, so that its unbinds still
 * commit and no request is failed whole for space.
 */
void pb_lmdb_commit_group(pb_lmdb_session *session, pb_lmdb_write *writes)
{
    pb_lmdb_space space = {0};
    const char *what;
    int rc = run_group(session, writes, &space, &what);
    if (rc == MDB_MAP_FULL && group_binds(writes)) {
        space = (pb_lmdb_space){.refuse_binds = true};
        rc = run_group(session, writes, &space, &what);
    }
    if (rc != 0) {
        for (pb_lmdb_write *w = writes; w != NULL; w = w->next)
            if (w->result != PB_STORE_ENOTFOUND)
                fail_write(w, what, rc);
        return;
    }
    for (pb_lmdb_write *w = writes; w != NULL; w = w->next) {
        pb_metrics_count_expired(w->expired);
        if (w->tags != NULL && w->tags->kind == PB_TAG_DELETE_ALL && w->result == PB_STORE_OK)
            atomic_store(&session->store->writer.graves, true);
    }
}
