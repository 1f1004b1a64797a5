/*
 * keys_db.c — the embedded store's named keys (store.h, "Named keys"):
 * add, revoke and list, each in its own transaction. An app's keys are the
 * range of the keys database that starts with its access_id (keys.h), read
 * with its secret by pb_lmdb_app_keys() (queries.c) and deleted with it by
 * pb_lmdb_app_remove() (apps.c).
 */
#include <stdio.h>

#include "store/app_keys.h"
#include "store/lmdb/internal.h"

/* The key access_id | name into buf; returns it. */
static MDB_val key_of(unsigned char *buf, uint64_t access_id, pb_str name)
{
    be64_put(buf, access_id);
    return (MDB_val){bytes_put(buf, PB_LMDB_ID_LEN, name.base, name.len), buf};
}

static int app_exists(pb_lmdb_session *session, MDB_txn *txn, uint64_t access_id)
{
    unsigned char id[PB_LMDB_ID_LEN];
    be64_put(id, access_id);
    MDB_val key = {sizeof(id), id}, value;
    return mdb_get(txn, session->store->apps, &key, &value);
}

/*
 * Calls each(arg, cursor, key, value) for the keys of app `access_id` in
 * name order, until it returns non-zero (which this returns) or the app's
 * range ends (0).
 */
static int walk_app_keys(MDB_txn *txn, MDB_dbi dbi, uint64_t access_id,
                         int (*each)(void *arg, MDB_cursor *cursor, const MDB_val *key, const MDB_val *value),
                         void *arg)
{
    MDB_cursor *cursor;
    unsigned char id[PB_LMDB_ID_LEN];
    be64_put(id, access_id);
    int rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc != 0)
        return rc;
    MDB_val key = {sizeof(id), id}, value;
    for (MDB_cursor_op op = MDB_SET_RANGE;; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(cursor, &key, &value, op)) != 0)
            break;
        if (key.mv_size <= PB_LMDB_ID_LEN || memcmp(key.mv_data, id, PB_LMDB_ID_LEN) != 0 ||
            (rc = each(arg, cursor, &key, &value)) != 0)
            break;
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Counts the app's keys: at most PB_KEYS_PER_APP, as key_put() sees to. */
static int count_one(void *arg, MDB_cursor *cursor, const MDB_val *key, const MDB_val *value)
{
    ++*(size_t *)arg;
    return 0;
}

int pb_lmdb_key_put(pb_lmdb_session *session, uint64_t access_id, const pb_app_key *key)
{
    unsigned char kbuf[PB_LMDB_ID_LEN + PB_KEY_NAME_MAX], record[PB_KEY_RECORD_MAX];
    MDB_txn *txn;
    size_t n;
    if (!pb_key_check(key, session->error, sizeof(session->error)))
        return PB_STORE_EINVAL;
    int rc = pb_lmdb_txn_start(session, 0, &txn);
    if (rc != 0)
        goto fail;
    n = 0;
    if ((rc = app_exists(session, txn, access_id)) != 0 ||
        (rc = walk_app_keys(txn, session->store->keys, access_id, count_one, &n)) != 0)
        goto fail_txn;
    if (n >= PB_KEYS_PER_APP) {
        pb_lmdb_txn_done(session, txn, false);
        snprintf(session->error, sizeof(session->error), "the app has %d keys, the most it may", PB_KEYS_PER_APP);
        return PB_STORE_EINVAL;
    }
    MDB_val k = key_of(kbuf, access_id, key->name), v = {pb_key_record_build(record, key), record};
    if ((rc = mdb_put(txn, session->store->keys, &k, &v, MDB_NOOVERWRITE)) == MDB_KEYEXIST) {
        pb_lmdb_txn_done(session, txn, false);
        snprintf(session->error, sizeof(session->error), "the app has a key named %.*s already",
                 (int)key->name.len, key->name.base);
        return PB_STORE_EINVAL;
    }
    if (rc != 0)
        goto fail_txn;
    if ((rc = pb_lmdb_txn_done(session, txn, true)) != 0)
        goto fail;
    return 0;

fail_txn:
    pb_lmdb_txn_done(session, txn, false);
    if (rc == MDB_NOTFOUND)
        return PB_STORE_ENOTFOUND;
fail:
    pb_lmdb_set_error(session, "key add", rc);
    return PB_STORE_EIO;
}

int pb_lmdb_key_revoke(pb_lmdb_session *session, uint64_t access_id, pb_str name)
{
    unsigned char kbuf[PB_LMDB_ID_LEN + PB_KEY_NAME_MAX];
    MDB_txn *txn;
    if (!pb_store_key_name_valid(name))
        return PB_STORE_ENOTFOUND;
    int rc = pb_lmdb_txn_start(session, 0, &txn);
    if (rc != 0)
        goto fail;
    MDB_val k = key_of(kbuf, access_id, name);
    if ((rc = mdb_del(txn, session->store->keys, &k, NULL)) != 0) {
        pb_lmdb_txn_done(session, txn, false);
        if (rc == MDB_NOTFOUND)
            return PB_STORE_ENOTFOUND;
        goto fail;
    }
    if ((rc = pb_lmdb_txn_done(session, txn, true)) != 0)
        goto fail;
    return 0;
fail:
    pb_lmdb_set_error(session, "key revoke", rc);
    return PB_STORE_EIO;
}

/* What key_list() hands each key to. */
struct key_visit {
    void (*visit)(void *arg, const pb_app_key *key);
    void *arg;
};

static int visit_one(void *arg, MDB_cursor *cursor, const MDB_val *key, const MDB_val *value)
{
    struct key_visit *v = arg;
    pb_app_key found;
    if (!pb_key_record_parse(value->mv_data, value->mv_size, &found))
        return MDB_CORRUPTED;
    found.name = (pb_str){(const char *)key->mv_data + PB_LMDB_ID_LEN, key->mv_size - PB_LMDB_ID_LEN};
    found.secret = (pb_str){NULL, 0};
    v->visit(v->arg, &found);
    return 0;
}

int pb_lmdb_key_list(pb_lmdb_session *session, uint64_t access_id, void (*visit)(void *arg, const pb_app_key *key),
                     void *arg)
{
    MDB_txn *txn;
    struct key_visit v = {visit, arg};
    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    if ((rc = app_exists(session, txn, access_id)) == 0)
        rc = walk_app_keys(txn, session->store->keys, access_id, visit_one, &v);
    pb_lmdb_txn_done(session, txn, false);
    if (rc == 0)
        return 0;
    if (rc == MDB_NOTFOUND)
        return PB_STORE_ENOTFOUND;
fail:
    pb_lmdb_set_error(session, "key list", rc);
    return PB_STORE_EIO;
}

