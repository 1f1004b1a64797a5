/*
 * apps.c — the embedded store's apps: reading and writing an app's record,
 * and the app commands (put, remove with all its bindings, list), each in
 * its own write or read transaction.
 */
#include <stdio.h>

#include "common/clock.h"
#include "store/lmdb/internal.h"

int pb_lmdb_app_read(const pb_lmdb_store *store, MDB_txn *txn, uint64_t access_id, unsigned char *buf,
                     struct app_record *app)
{
    unsigned char id[PB_LMDB_ID_LEN];
    be64_put(id, access_id);
    MDB_val key = {sizeof(id), id}, value;
    int rc = mdb_get(txn, store->apps, &key, &value);
    if (rc != 0)
        return rc;
    if (value.mv_size > PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX ||
        !app_record_parse(value.mv_data, value.mv_size, app))
        return MDB_CORRUPTED;
    memcpy(buf, value.mv_data, value.mv_size);
    app->secret.base = (const char *)buf + PB_LMDB_APP_HEAD;
    return 0;
}

int pb_lmdb_app_write(const pb_lmdb_store *store, MDB_txn *txn, uint64_t access_id, const struct app_record *app)
{
    unsigned char id[PB_LMDB_ID_LEN], buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    be64_put(id, access_id);
    MDB_val key = {sizeof(id), id}, value = {app_record_build(buf, app), buf};
    return mdb_put(txn, store->apps, &key, &value, 0);
}

int pb_lmdb_app_put(pb_lmdb_session *session, uint64_t access_id, pb_str secret, bool *created)
{
    unsigned char buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    MDB_txn *txn;

    if (secret.len > PB_STORE_SECRET_MAX) {
        snprintf(session->error, sizeof(session->error), "app put: secret longer than %d bytes",
                 PB_STORE_SECRET_MAX);
        return PB_STORE_EINVAL;
    }
    int rc = pb_lmdb_txn_start(session, 0, &txn);
    if (rc != 0)
        goto fail;
    rc = pb_lmdb_app_read(session->store, txn, access_id, buf, &app);
    *created = rc == MDB_NOTFOUND;
    if (*created)
        app = (struct app_record){.created_at = pb_clock_unix_s(), .bindings = 0};
    else if (rc != 0)
        goto fail_txn;
    app.secret = secret;
    if ((rc = pb_lmdb_app_write(session->store, txn, access_id, &app)) != 0)
        goto fail_txn;
    if ((rc = pb_lmdb_txn_done(session, txn, true)) != 0)
        goto fail;
    return 0;

fail_txn:
    pb_lmdb_txn_done(session, txn, false);
fail:
    pb_lmdb_set_error(session, "app put", rc);
    return PB_STORE_EIO;
}

/*
 * Deletes every key of `dbi` that starts with `prefix`, adding the number of
 * dups deleted to *dups. Every key of an app starts with its access_id, so
 * they are one contiguous range starting at the prefix itself.
 */
static int delete_prefix(MDB_txn *txn, MDB_dbi dbi, const unsigned char *prefix, uint64_t *dups)
{
    MDB_cursor *cursor;
    unsigned flags;
    int rc = mdb_dbi_flags(txn, dbi, &flags);
    if (rc != 0 || (rc = mdb_cursor_open(txn, dbi, &cursor)) != 0)
        return rc;
    for (;;) {
        MDB_val key = {PB_LMDB_ID_LEN, (void *)prefix}, dup;
        size_t count = 1; /* a database without dups (the tags ones) holds one value a key */
        if ((rc = mdb_cursor_get(cursor, &key, &dup, MDB_SET_RANGE)) != 0)
            break;
        if (key.mv_size < PB_LMDB_ID_LEN || memcmp(key.mv_data, prefix, PB_LMDB_ID_LEN) != 0)
            break;
        if (((flags & MDB_DUPSORT) && (rc = mdb_cursor_count(cursor, &count)) != 0) ||
            (rc = mdb_cursor_del(cursor, MDB_NODUPDATA)) != 0)
            break;
        *dups += count;
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int pb_lmdb_app_remove(pb_lmdb_session *session, uint64_t access_id, uint64_t *bindings_removed)
{
    unsigned char id[PB_LMDB_ID_LEN];
    uint64_t token_side = 0, account_side = 0;
    MDB_txn *txn;

    be64_put(id, access_id);
    MDB_val key = {sizeof(id), id};
    int rc = pb_lmdb_txn_start(session, 0, &txn);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_del(txn, session->store->apps, &key, NULL)) == MDB_NOTFOUND) {
        pb_lmdb_txn_done(session, txn, false);
        return PB_STORE_ENOTFOUND;
    }
    /* Each binding is one dup on each side; the token side is the count. */
    uint64_t uncounted = 0; /* the keys' and tags' rows: nobody counts them */
    if (rc != 0 || (rc = delete_prefix(txn, session->store->tokens, id, &token_side)) != 0 ||
        (rc = delete_prefix(txn, session->store->accounts, id, &account_side)) != 0 ||
        (rc = delete_prefix(txn, session->store->keys, id, &uncounted)) != 0 ||
        (rc = delete_prefix(txn, session->store->tags, id, &uncounted)) != 0 ||
        (rc = delete_prefix(txn, session->store->tag_tokens, id, &uncounted)) != 0 ||
        (rc = delete_prefix(txn, session->store->token_tags, id, &uncounted)) != 0 ||
        (rc = delete_prefix(txn, session->store->tag_graves, id, &uncounted)) != 0) {
        pb_lmdb_txn_done(session, txn, false);
        goto fail;
    }
    if ((rc = pb_lmdb_txn_done(session, txn, true)) != 0)
        goto fail;
    *bindings_removed = token_side;
    return 0;

fail:
    pb_lmdb_set_error(session, "app remove", rc);
    return PB_STORE_EIO;
}

int pb_lmdb_app_list(pb_lmdb_session *session, void (*visit)(void *arg, const pb_app_info *app), void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cursor;
    MDB_val key, value;
    struct app_record app;

    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    if ((rc = mdb_cursor_open(txn, session->store->apps, &cursor)) != 0) {
        pb_lmdb_txn_done(session, txn, false);
        goto fail;
    }
    while ((rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) == 0) {
        if (key.mv_size != PB_LMDB_ID_LEN || !app_record_parse(value.mv_data, value.mv_size, &app)) {
            rc = MDB_CORRUPTED;
            break;
        }
        pb_app_info info = {be64_get(key.mv_data), app.created_at, app.bindings};
        visit(arg, &info);
    }
    mdb_cursor_close(cursor);
    pb_lmdb_txn_done(session, txn, false);
    if (rc != MDB_NOTFOUND)
        goto fail;
    return 0;

fail:
    pb_lmdb_set_error(session, "app list", rc);
    return PB_STORE_EIO;
}
