/*
 * expiry.c — the embedded store's background deletion of expired bindings
 * (--binding-ttl).
 *
 * Reads hide an expired binding at once (queries.c), and a write deletes the
 * expired bindings of what it touches first (apply.c); this file deletes the
 * rest. The writer thread calls pb_lmdb_sweep_step() when it has nothing
 * queued: one write transaction that walks at most PB_LMDB_SWEEP_KEYS token
 * keys from where the last step stopped, so a write that arrives meanwhile
 * waits for one small step at most. A pass over the whole tokens database
 * wraps around to its start. The layout is in store/lmdb/keys.h.
 */
#include <errno.h>
#include <stdlib.h>

#include "common/clock.h"
#include "store/lmdb/internal.h"

/* An expired binding found by the walk, copied out of the map before anything is deleted. */
struct victim {
    unsigned char key[PB_LMDB_KEY_BUF]; /* the tokens key: access_id | token */
    size_t key_len;
    uint64_t seq;
    pb_account account;
    char name[PB_LMDB_KEY_BUF];
};

/* Most expired bindings one step deletes: bounds the step's dirty pages and its time. */
#define SWEEP_VICTIMS_MAX 1024

/*
 * Walks up to PB_LMDB_SWEEP_KEYS keys after `sweep->last` (from it with
 * `again`; from the start when it is empty), collecting expired bindings into
 * `victims`. Sets sweep->last to the last key walked, or empties it at the end
 * of the database.
 */
static int collect(const pb_lmdb_store *store, MDB_txn *txn, struct pb_lmdb_sweep *sweep, int64_t now,
                   struct victim *victims, size_t *n)
{
    MDB_cursor *cursor;
    MDB_val key, dup;
    int rc = mdb_cursor_open(txn, store->tokens, &cursor);
    if (rc != 0)
        return rc;
    *n = 0;
    if (sweep->last_len == 0) {
        rc = mdb_cursor_get(cursor, &key, &dup, MDB_FIRST);
    } else {
        key = (MDB_val){sweep->last_len, sweep->last};
        rc = mdb_cursor_get(cursor, &key, &dup, MDB_SET_RANGE);
        if (rc == 0 && !sweep->again && key.mv_size == sweep->last_len &&
            memcmp(key.mv_data, sweep->last, key.mv_size) == 0)
            rc = mdb_cursor_get(cursor, &key, &dup, MDB_NEXT_NODUP);
    }
    for (size_t keys = 0; rc == 0 && keys < PB_LMDB_SWEEP_KEYS; keys++) {
        for (; rc == 0 && *n < SWEEP_VICTIMS_MAX; rc = mdb_cursor_get(cursor, &key, &dup, MDB_NEXT_DUP)) {
            struct victim *v = &victims[*n];
            struct binding_info info;
            if (key.mv_size > PB_LMDB_KEY_BUF ||
                !account_dup_parse(dup.mv_data, dup.mv_size, &v->seq, &info, &v->account)) {
                rc = MDB_CORRUPTED;
                break;
            }
            if (!binding_expired(info.last_bind_time, store->binding_ttl, now))
                continue;
            memcpy(v->key, key.mv_data, key.mv_size);
            v->key_len = key.mv_size;
            memcpy(v->name, v->account.name.base, v->account.name.len);
            v->account.name.base = v->name;
            (*n)++;
        }
        if (rc != 0 && rc != MDB_NOTFOUND)
            break;
        memcpy(sweep->last, key.mv_data, key.mv_size);
        sweep->last_len = key.mv_size;
        sweep->again = *n == SWEEP_VICTIMS_MAX; /* the rest of this key's dups in the next step */
        if (sweep->again)
            break;
        rc = mdb_cursor_get(cursor, &key, &dup, MDB_NEXT_NODUP);
    }
    mdb_cursor_close(cursor);
    if (rc == MDB_NOTFOUND) {
        sweep->last_len = 0;
        sweep->wrapped = true;
        rc = 0;
    }
    return rc;
}

/* Deletes one victim's two sides. Returns 0 (a side already gone included) or an LMDB error. */
static int delete_victim(const pb_lmdb_store *store, MDB_txn *txn, MDB_cursor *tokens, struct victim *v)
{
    unsigned char kbuf[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    MDB_val key = {v->key_len, v->key}, dup;
    int rc = pb_lmdb_seek_binding(tokens, &key, v->seq, &dup);
    if (rc == 0)
        rc = mdb_cursor_del(tokens, 0);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    uint64_t access_id = be64_get(v->key);
    pb_str token = {(const char *)v->key + PB_LMDB_ID_LEN, v->key_len - PB_LMDB_ID_LEN};
    key = (MDB_val){account_key(kbuf, access_id, &v->account), kbuf};
    dup = (MDB_val){token_dup(dbuf, v->seq, token), dbuf};
    rc = mdb_del(txn, store->accounts, &key, &dup);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Lowers app `access_id`'s bindings count by `removed` (an app removed meanwhile is skipped). */
static int count_removed(const pb_lmdb_store *store, MDB_txn *txn, uint64_t access_id, uint64_t removed)
{
    unsigned char buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    int rc = pb_lmdb_app_read(store, txn, access_id, buf, &app);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    app.bindings = app.bindings > removed ? app.bindings - removed : 0;
    return pb_lmdb_app_write(store, txn, access_id, &app);
}

int pb_lmdb_sweep_step(pb_lmdb_session *session, struct pb_lmdb_sweep *sweep, uint64_t *expired)
{
    const pb_lmdb_store *store = session->store;
    struct victim *victims = malloc(SWEEP_VICTIMS_MAX * sizeof(*victims));
    MDB_cursor *tokens = NULL;
    MDB_txn *txn;
    size_t n = 0;
    *expired = 0;
    if (victims == NULL)
        return ENOMEM;
    int rc = pb_lmdb_txn_start(session, 0, &txn);
    if (rc != 0)
        goto out;
    if ((rc = collect(store, txn, sweep, pb_clock_unix_s(), victims, &n)) != 0 || n == 0 ||
        (rc = mdb_cursor_open(txn, store->tokens, &tokens)) != 0)
        goto done;
    uint64_t app = be64_get(victims[0].key), removed = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t access_id = be64_get(victims[i].key);
        if (access_id != app) {
            if ((rc = count_removed(store, txn, app, removed)) != 0)
                break;
            app = access_id;
            removed = 0;
        }
        if ((rc = delete_victim(store, txn, tokens, &victims[i])) == 0)
            removed++;
    }
    if (rc == 0)
        rc = count_removed(store, txn, app, removed);

done:
    if (tokens != NULL)
        mdb_cursor_close(tokens);
    if (rc == 0 && n != 0) {
        rc = pb_lmdb_txn_done(session, txn, true);
        if (rc == 0)
            *expired = n;
    } else {
        pb_lmdb_txn_done(session, txn, false);
    }
out:
    free(victims);
    return rc;
}
