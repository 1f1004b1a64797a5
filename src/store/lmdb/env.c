/*
 * env.c — the embedded store: apps and bindings in one LMDB environment on
 * local disk. The key layout is described in store/lmdb/keys.h. This file
 * opens and closes the environment; session.c has sessions, views and the
 * map lock, queries.c the lookups, apps.c the apps, apply*.c and writer.c the
 * writes.
 *
 * Several processes may open the same directory at once (the server and the
 * `pushbind app` command line); LMDB serialises their writers and gives every
 * reader a snapshot.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "store/lmdb/internal.h"
#include "store/lmdb/upgrade.h"

#define PB_STORE_MAX_DBS 9 /* apps, meta, tokens, accounts, keys, and the four of tags */

/* ---- Opening and closing ---------------------------------------------- */

/*
 * The key layout's version (store/lmdb/keys.h), kept in meta "layout": a
 * store without one is new (it gets this one) or from before bind times
 * (*upgrade: store/lmdb/upgrade.h rewrites it). A layout this build does not
 * know is refused with MDB_VERSION_MISMATCH.
 */
static int check_layout(pb_lmdb_store *store, MDB_txn *txn, bool *upgrade)
{
    MDB_val key = {6, (void *)"layout"}, value;
    int rc = mdb_get(txn, store->meta, &key, &value);
    if (rc == 0)
        return value.mv_size == 1 && *(unsigned char *)value.mv_data == PB_LMDB_LAYOUT ? 0 : MDB_VERSION_MISMATCH;
    if (rc != MDB_NOTFOUND)
        return rc;
    if ((rc = pb_lmdb_upgrade_needed(store, txn)) != 0) {
        *upgrade = rc == 1;
        return rc == 1 ? 0 : rc;
    }
    unsigned char layout = PB_LMDB_LAYOUT;
    value = (MDB_val){1, &layout};
    return mdb_put(txn, store->meta, &key, &value, 0);
}

static int open_databases(pb_lmdb_store *store, bool *upgrade)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_dbi_open(txn, "apps", MDB_CREATE, &store->apps)) != 0 ||
        (rc = mdb_dbi_open(txn, "meta", MDB_CREATE, &store->meta)) != 0 ||
        (rc = mdb_dbi_open(txn, "tokens", MDB_CREATE | MDB_DUPSORT, &store->tokens)) != 0 ||
        (rc = mdb_dbi_open(txn, "accounts", MDB_CREATE | MDB_DUPSORT, &store->accounts)) != 0 ||
        (rc = mdb_dbi_open(txn, "keys", MDB_CREATE, &store->keys)) != 0 ||
        (rc = mdb_dbi_open(txn, "tags", MDB_CREATE, &store->tags)) != 0 ||
        (rc = mdb_dbi_open(txn, "tag_tokens", MDB_CREATE | MDB_DUPSORT, &store->tag_tokens)) != 0 ||
        (rc = mdb_dbi_open(txn, "token_tags", MDB_CREATE | MDB_DUPSORT, &store->token_tags)) != 0 ||
        (rc = mdb_dbi_open(txn, "tag_graves", MDB_CREATE, &store->tag_graves)) != 0 ||
        (rc = check_layout(store, txn, upgrade)) != 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

/*
 * Writer-preferring, so that a remap waiting for the lock is not starved by
 * sessions that keep taking it shared on a busy server.
 */
static int init_map_lock(pthread_rwlock_t *lock)
{
    pthread_rwlockattr_t attr;
    int rc = pthread_rwlockattr_init(&attr);
    if (rc != 0)
        return rc;
    rc = pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    if (rc == 0)
        rc = pthread_rwlock_init(lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    return rc;
}

pb_lmdb_store *pb_lmdb_open(const pb_store_config *config, char **err)
{
    const char *what = "invalid configuration";
    int rc = EINVAL, dead;
    bool lock_ready = false;
    pb_lmdb_store *store = NULL;

    if (config->data_dir == NULL)
        goto fail;
    what = "out of memory";
    rc = ENOMEM;
    if ((store = calloc(1, sizeof(*store))) == NULL)
        goto fail;
    store->limits = config->limits;
    store->binding_ttl = config->binding_ttl_seconds > 0 ? config->binding_ttl_seconds : 0;
    store->writer.metrics = config->metrics;
    what = "map lock";
    if ((rc = init_map_lock(&store->map_lock)) != 0)
        goto fail;
    lock_ready = true;
    what = "creating the data directory";
    if (mkdir(config->data_dir, 0700) != 0 && errno != EEXIST) {
        rc = errno;
        goto fail;
    }
    what = "opening the environment";
    if ((rc = mdb_env_create(&store->env)) != 0)
        goto fail;
    if ((rc = mdb_env_set_maxdbs(store->env, PB_STORE_MAX_DBS)) != 0)
        goto fail;
    if (config->map_size != 0 && (rc = mdb_env_set_mapsize(store->env, config->map_size)) != 0)
        goto fail;
    /* MDB_NOTLS: a session's read transaction is renewed on whatever thread
     * runs the session, not tied to the thread that created it. */
    if ((rc = mdb_env_open(store->env, config->data_dir, MDB_NOTLS, 0600)) != 0)
        goto fail;
    /* Frees the reader slots of processes that died without closing. */
    what = "checking readers";
    if ((rc = mdb_reader_check(store->env, &dead)) != 0)
        goto fail;
    what = "opening the databases";
    bool upgrade = false;
    if ((rc = open_databases(store, &upgrade)) != 0) {
        if (rc == MDB_VERSION_MISMATCH)
            what = "written by a later pushbind (a layout this one does not know): run that version";
        goto fail;
    }
    store->max_key = (size_t)mdb_env_get_maxkeysize(store->env);
    if (store->max_key > PB_LMDB_KEY_BUF)
        store->max_key = PB_LMDB_KEY_BUF;
    /* Before the writer thread: nothing else of this process may write meanwhile. */
    what = "upgrading the data directory (what is done stays done: open it again to go on)";
    if (upgrade && (rc = pb_lmdb_upgrade(store, pb_clock_unix_s())) != 0)
        goto fail;
    what = "starting the writer thread";
    if ((rc = pb_lmdb_writer_start(store)) != 0)
        goto fail;
    return store;

fail:
    if (err != NULL) {
        const char *dir = config->data_dir != NULL ? config->data_dir : "(none)";
        if (asprintf(err, "%s: %s: %s", dir, what, mdb_strerror(rc)) < 0)
            *err = NULL;
    }
    if (store != NULL) {
        if (store->env != NULL)
            mdb_env_close(store->env);
        if (lock_ready)
            pthread_rwlock_destroy(&store->map_lock);
        free(store);
    }
    return NULL;
}

void pb_lmdb_close(pb_lmdb_store *store)
{
    if (store == NULL)
        return;
    pb_lmdb_writer_stop(store);
    mdb_env_close(store->env);
    pthread_rwlock_destroy(&store->map_lock);
    free(store);
}
