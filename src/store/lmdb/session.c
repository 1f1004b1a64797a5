/*
 * session.c — the embedded store's sessions and views, and the map lock every
 * transaction of this process holds. A session keeps one read transaction
 * and its two cursors, reset between views and renewed by the next, so a
 * view allocates nothing; the lookups made in a view are in queries.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/clock.h"
#include "store/lmdb/internal.h"

/* How long a remap waits for the process's open transactions (see follow_map_growth). */
#define PB_LMDB_REMAP_WAIT_MS 1000

/* ---- The map lock ----------------------------------------------------- */

/*
 * A session takes the lock once however many of its transactions are live (a
 * view open while it writes): its first hold already rules out a remap, and a
 * second rdlock could queue behind a waiting remap that waits for the first.
 */
static int map_hold(pb_lmdb_session *session)
{
    if (session->map_holds == 0) {
        int rc = pthread_rwlock_rdlock(&session->store->map_lock);
        if (rc != 0)
            return rc;
    }
    session->map_holds++;
    return 0;
}

static void map_release(pb_lmdb_session *session)
{
    if (--session->map_holds == 0)
        pthread_rwlock_unlock(&session->store->map_lock);
}

/*
 * Trades our shared hold for the exclusive one to remap at the size the other
 * process recorded, then takes the shared hold back. A session with another
 * transaction live (a view open while it writes) cannot let go of its hold,
 * so it fails instead; its first call after the view ends will remap.
 *
 * The exclusive hold is waited for at most PB_LMDB_REMAP_WAIT_MS: the writer
 * thread remaps on behalf of a caller that may be holding a view while it
 * waits for the write (pb_store_apply()), and that wait must end in a failure
 * rather than a deadlock. Views last microseconds, so on a busy server the
 * lock comes long before the limit.
 */
static int follow_map_growth(pb_lmdb_session *session)
{
    pb_lmdb_store *store = session->store;
    if (session->map_holds != 1)
        return MDB_MAP_RESIZED;
    map_release(session);
    struct timespec limit = pb_clock_deadline_ms(PB_LMDB_REMAP_WAIT_MS);
    int rc = pthread_rwlock_timedwrlock(&store->map_lock, &limit);
    if (rc == ETIMEDOUT)
        rc = MDB_MAP_RESIZED;
    if (rc == 0) {
        rc = mdb_env_set_mapsize(store->env, 0);
        pthread_rwlock_unlock(&store->map_lock);
    }
    int hold_rc = map_hold(session);
    return rc != 0 ? rc : hold_rc;
}

/*
 * Ends the session's live snapshot unless a view is reading it: resets the
 * read transaction and gives back its hold of the map lock.
 */
static void snapshot_end(pb_lmdb_session *session)
{
    if (!session->snapshot_live || session->view_open)
        return;
    mdb_txn_reset(session->read_txn);
    session->snapshot_live = false;
    map_release(session);
}

/* `holds` tells whether the shared hold is still ours to give back after a
 * failed remap. A kept snapshot ends first: the remap needs this session's
 * only hold to be the new transaction's. */
int pb_lmdb_txn_start(pb_lmdb_session *session, unsigned flags, MDB_txn **txn)
{
    snapshot_end(session);
    unsigned holds = session->map_holds;
    int rc = map_hold(session);
    if (rc != 0)
        return rc;
    rc = mdb_txn_begin(session->store->env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED && (rc = follow_map_growth(session)) == 0)
        rc = mdb_txn_begin(session->store->env, NULL, flags, txn);
    if (rc != 0 && session->map_holds > holds)
        map_release(session);
    return rc;
}

int pb_lmdb_txn_done(pb_lmdb_session *session, MDB_txn *txn, bool commit)
{
    int rc = 0;
    if (commit)
        rc = mdb_txn_commit(txn); /* frees txn, also on failure */
    else
        mdb_txn_abort(txn);
    map_release(session);
    return rc;
}

/* ---- Sessions --------------------------------------------------------- */

pb_lmdb_session *pb_lmdb_session_open(pb_lmdb_store *store)
{
    pb_lmdb_session *session = calloc(1, sizeof(*session));
    if (session == NULL)
        return NULL;
    session->store = store;
    session->view.session = session;
    if (pb_lmdb_txn_start(session, MDB_RDONLY, &session->read_txn) != 0) {
        free(session);
        return NULL;
    }
    if (mdb_cursor_open(session->read_txn, store->tokens, &session->tokens_cursor) != 0 ||
        mdb_cursor_open(session->read_txn, store->accounts, &session->accounts_cursor) != 0 ||
        mdb_cursor_open(session->read_txn, store->keys, &session->keys_cursor) != 0) {
        pb_lmdb_session_close(session);
        return NULL;
    }
    mdb_txn_reset(session->read_txn);
    map_release(session);
    return session;
}

void pb_lmdb_session_close(pb_lmdb_session *session)
{
    if (session == NULL)
        return;
    session->view_open = false;
    snapshot_end(session);
    if (session->tokens_cursor != NULL)
        mdb_cursor_close(session->tokens_cursor);
    if (session->accounts_cursor != NULL)
        mdb_cursor_close(session->accounts_cursor);
    if (session->keys_cursor != NULL)
        mdb_cursor_close(session->keys_cursor);
    mdb_txn_abort(session->read_txn);
    if (session->map_holds != 0) /* closed while still being opened */
        map_release(session);
    free(session);
}

void pb_lmdb_set_error(pb_lmdb_session *session, const char *what, int rc)
{
    snprintf(session->error, sizeof(session->error), "%s: %s", what, mdb_strerror(rc));
}

const char *pb_lmdb_session_error(const pb_lmdb_session *session)
{
    return session->error;
}

int pb_lmdb_ping(pb_lmdb_session *session)
{
    MDB_txn *txn;
    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn);
    if (rc != 0) {
        pb_lmdb_set_error(session, "ping", rc);
        return PB_STORE_EIO;
    }
    pb_lmdb_txn_done(session, txn, false);
    return 0;
}

/* ---- Views ------------------------------------------------------------ */

/*
 * Whether the live snapshot is still the newest: nothing was committed since
 * it was taken. mdb_env_info() reads the newest meta page, which a commit
 * writes before its writer hears back, so a write acknowledged to a client is
 * always seen by the views begun after the acknowledgement.
 */
static bool snapshot_is_newest(pb_lmdb_session *session)
{
    MDB_envinfo info;
    return mdb_env_info(session->store->env, &info) == 0 && info.me_last_txnid == mdb_txn_id(session->read_txn);
}

pb_lmdb_view *pb_lmdb_view_begin(pb_lmdb_session *session)
{
    if (session->view_open) {
        snprintf(session->error, sizeof(session->error), "view begin: a view is already open");
        return NULL;
    }
    if (session->snapshot_live && snapshot_is_newest(session)) {
        session->view_open = true;
        return &session->view;
    }
    snapshot_end(session);
    unsigned holds = session->map_holds;
    int rc = map_hold(session);
    if (rc == 0) {
        rc = mdb_txn_renew(session->read_txn);
        if (rc == MDB_MAP_RESIZED && (rc = follow_map_growth(session)) == 0)
            rc = mdb_txn_renew(session->read_txn);
    }
    if (rc != 0) {
        if (session->map_holds > holds)
            map_release(session);
        pb_lmdb_set_error(session, "view begin", rc);
        return NULL;
    }
    session->view_open = session->snapshot_live = true;
    session->tokens_cursor_renewed = session->accounts_cursor_renewed = session->keys_cursor_renewed = false;
    return &session->view;
}

void pb_lmdb_view_end(pb_lmdb_view *view)
{
    pb_lmdb_session *session = view->session;
    if (!session->view_open)
        return;
    session->view_open = false;
    if (!session->keeps_snapshot)
        snapshot_end(session);
}

/*
 * A loop's requests of one turn share a snapshot while nothing is committed:
 * renewing the transaction and its cursors for every view cost more than the
 * lookups made in it. The snapshot never outlives the turn, so a loop waiting
 * for events pins no pages and no remap waits for it.
 */
void pb_lmdb_keep_snapshot(pb_lmdb_session *session, bool keep)
{
    session->keeps_snapshot = keep;
    if (!keep)
        snapshot_end(session);
}

void pb_lmdb_turn_done(pb_lmdb_session *session)
{
    snapshot_end(session);
}
