/*
 * lmdb_tools.c — bulk import, export, backup and usage of the embedded store.
 * The key layout is described in store/lmdb_keys.h.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "store/lmdb_internal.h"
#include "store/lmdb_tools.h"

/* ---- Import ------------------------------------------------------------ */

/*
 * One write transaction at a time, with a cursor per side kept open across
 * bindings: a binding costs two lookups and two puts, and no nested
 * transaction, because every check happens before anything is written.
 */
struct pb_lmdb_import {
    pb_store_session *session;
    uint64_t access_id;
    MDB_txn *txn; /* NULL after a failure */
    MDB_cursor *tokens, *accounts;
    unsigned char app_buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    uint64_t next_seq;
    uint64_t created; /* since the transaction began */
};

/* Begins the next transaction; the app and the seq are read afresh because
 * other writers (the server) may have moved them in between. */
static int import_open_txn(pb_lmdb_import *import)
{
    pb_store *store = import->session->store;
    int rc = pb_lmdb_txn_start(import->session, 0, &import->txn);
    if (rc != 0) {
        import->txn = NULL;
        return rc;
    }
    import->created = 0;
    if ((rc = pb_lmdb_app_read(store, import->txn, import->access_id, import->app_buf, &import->app)) != 0 ||
        (rc = pb_lmdb_seq_read(store, import->txn, &import->next_seq)) != 0 ||
        (rc = mdb_cursor_open(import->txn, store->tokens, &import->tokens)) != 0 ||
        (rc = mdb_cursor_open(import->txn, store->accounts, &import->accounts)) != 0) {
        pb_lmdb_txn_done(import->session, import->txn, false);
        import->txn = NULL;
    }
    return rc;
}

int pb_lmdb_import_begin(pb_store_session *session, uint64_t access_id, pb_lmdb_import **out)
{
    pb_lmdb_import *import = calloc(1, sizeof(*import));
    if (import == NULL) {
        snprintf(session->error, sizeof(session->error), "import: out of memory");
        return PB_STORE_EIO;
    }
    import->session = session;
    import->access_id = access_id;
    int rc = import_open_txn(import);
    if (rc != 0) {
        free(import);
        if (rc == MDB_NOTFOUND)
            return PB_STORE_ENOTFOUND;
        pb_lmdb_set_error(session, "import begin", rc);
        return PB_STORE_EIO;
    }
    *out = import;
    return 0;
}

static int import_fail(pb_lmdb_import *import, const char *what, int rc)
{
    if (import->txn != NULL)
        pb_lmdb_txn_done(import->session, import->txn, false);
    import->txn = NULL;
    pb_lmdb_set_error(import->session, what, rc);
    return PB_STORE_EIO;
}

/*
 * Scans the token's accounts (at most max_accounts_per_token of them) for
 * `account`; *count is how many it has. Returns 0, or an LMDB error.
 */
static int token_scan(pb_lmdb_import *import, MDB_val *key, const pb_account *account, bool *present,
                      size_t *count)
{
    MDB_val dup;
    *present = false;
    int rc = pb_lmdb_seek_dups(import->tokens, key, &dup, count);
    for (size_t i = 0; rc == 0 && i < *count; i++) {
        uint64_t seq;
        pb_account bound;
        if (i != 0 && (rc = mdb_cursor_get(import->tokens, key, &dup, MDB_NEXT_DUP)) != 0)
            break;
        if (!account_dup_parse(dup.mv_data, dup.mv_size, &seq, &bound))
            return MDB_CORRUPTED;
        if (pb_account_eq(&bound, account)) {
            *present = true;
            break;
        }
    }
    return rc;
}

int pb_lmdb_import_bind(pb_lmdb_import *import, pb_str token, const pb_account *account, pb_import_outcome *outcome)
{
    const pb_store *store = import->session->store;
    unsigned char tkey[PB_LMDB_KEY_BUF], akey[PB_LMDB_KEY_BUF], dbuf[PB_LMDB_KEY_BUF];
    bool present;
    size_t accounts_of_token, tokens_of_account;

    if (import->txn == NULL)
        return import_fail(import, "import bind", EINVAL);
    if (!pb_lmdb_token_fits(store, token) || !pb_lmdb_account_fits(store, account)) {
        *outcome = PB_IMPORT_TOO_LONG;
        return 0;
    }
    MDB_val token_key_val = {token_key(tkey, import->access_id, token), tkey};
    int rc = token_scan(import, &token_key_val, account, &present, &accounts_of_token);
    if (rc != 0)
        return import_fail(import, "import: tokens", rc);
    if (present) {
        *outcome = PB_IMPORT_PRESENT;
        return 0;
    }
    if (accounts_of_token >= store->limits.max_accounts_per_token) {
        *outcome = PB_IMPORT_TOKEN_FULL;
        return 0;
    }
    MDB_val account_key_val = {account_key(akey, import->access_id, account), akey}, dup;
    if ((rc = pb_lmdb_seek_dups(import->accounts, &account_key_val, &dup, &tokens_of_account)) != 0)
        return import_fail(import, "import: accounts", rc);
    if (tokens_of_account >= store->limits.max_tokens_per_account) {
        *outcome = PB_IMPORT_ACCOUNT_FULL;
        return 0;
    }

    MDB_val key = {token_key_val.mv_size, tkey};
    dup = (MDB_val){account_dup(dbuf, import->next_seq, account), dbuf};
    if ((rc = mdb_cursor_put(import->tokens, &key, &dup, 0)) != 0)
        return import_fail(import, "import: put token", rc);
    key = (MDB_val){account_key_val.mv_size, akey};
    dup = (MDB_val){token_dup(dbuf, import->next_seq, token), dbuf};
    if ((rc = mdb_cursor_put(import->accounts, &key, &dup, 0)) != 0)
        return import_fail(import, "import: put account", rc);
    import->next_seq++;
    import->created++;
    *outcome = PB_IMPORT_BOUND;
    return 0;
}

int pb_lmdb_import_commit(pb_lmdb_import *import)
{
    pb_store *store = import->session->store;
    int rc;
    if (import->txn == NULL)
        return import_fail(import, "import commit", EINVAL);
    if (import->created != 0) {
        import->app.bindings += import->created;
        if ((rc = pb_lmdb_app_write(store, import->txn, import->access_id, &import->app)) != 0 ||
            (rc = pb_lmdb_seq_write(store, import->txn, import->next_seq)) != 0)
            return import_fail(import, "import: update app", rc);
    }
    /* A write transaction's cursors end with it. */
    rc = pb_lmdb_txn_done(import->session, import->txn, true);
    import->txn = NULL;
    if (rc != 0)
        return import_fail(import, "import: commit", rc);
    if ((rc = import_open_txn(import)) != 0)
        return import_fail(import, rc == MDB_NOTFOUND ? "import: the app was removed" : "import: begin", rc);
    return 0;
}

void pb_lmdb_import_end(pb_lmdb_import *import)
{
    if (import == NULL)
        return;
    if (import->txn != NULL)
        pb_lmdb_txn_done(import->session, import->txn, false);
    free(import);
}

/* ---- Export ------------------------------------------------------------ */

/* One binding, pointing into the snapshot's map. */
struct export_entry {
    uint64_t seq;
    const unsigned char *key; /* accounts key: access_id | type | name */
    const unsigned char *dup; /* accounts dup: seq | token */
    uint32_t key_len, dup_len;
};

static int by_seq(const void *a, const void *b)
{
    uint64_t x = ((const struct export_entry *)a)->seq, y = ((const struct export_entry *)b)->seq;
    return x < y ? -1 : x > y;
}

struct export_list {
    struct export_entry *entries;
    size_t n, capacity;
};

static int export_collect(MDB_cursor *cursor, const unsigned char *prefix, struct export_list *list)
{
    MDB_val key = {PB_LMDB_ID_LEN, (void *)prefix}, dup;
    int rc;
    for (rc = mdb_cursor_get(cursor, &key, &dup, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cursor, &key, &dup, MDB_NEXT)) {
        if (key.mv_size < PB_LMDB_ID_LEN || memcmp(key.mv_data, prefix, PB_LMDB_ID_LEN) != 0)
            return 0;
        if (key.mv_size <= PB_LMDB_ACCOUNT_OVERHEAD || dup.mv_size <= PB_LMDB_SEQ_LEN)
            return MDB_CORRUPTED;
        if (list->n == list->capacity) {
            size_t capacity = list->capacity == 0 ? 4096 : list->capacity * 2;
            struct export_entry *grown = realloc(list->entries, capacity * sizeof(*grown));
            if (grown == NULL)
                return ENOMEM;
            list->entries = grown;
            list->capacity = capacity;
        }
        list->entries[list->n++] = (struct export_entry){
            be64_get(dup.mv_data), key.mv_data, dup.mv_data, (uint32_t)key.mv_size, (uint32_t)dup.mv_size};
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * The accounts side is walked in key order and sorted by seq: the store keeps
 * no index in creation order across tokens, and one sort of the whole app is
 * cheaper than merging its per-key lists.
 */
int pb_lmdb_export(pb_store_session *session, uint64_t access_id,
                   int (*visit)(void *arg, pb_str token, const pb_account *account), void *arg)
{
    pb_store *store = session->store;
    unsigned char prefix[PB_LMDB_ID_LEN], app_buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    struct export_list list = {NULL, 0, 0};
    MDB_cursor *cursor = NULL;
    MDB_txn *txn;
    int result = PB_STORE_EIO;

    be64_put(prefix, access_id);
    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    if ((rc = pb_lmdb_app_read(store, txn, access_id, app_buf, &app)) == MDB_NOTFOUND) {
        result = PB_STORE_ENOTFOUND;
        goto out;
    }
    if (rc != 0 || (rc = mdb_cursor_open(txn, store->accounts, &cursor)) != 0 ||
        (rc = export_collect(cursor, prefix, &list)) != 0)
        goto out;
    qsort(list.entries, list.n, sizeof(*list.entries), by_seq);
    result = 0;
    for (size_t i = 0; i < list.n && result == 0; i++) {
        const struct export_entry *e = &list.entries[i];
        pb_account account = {
            .name = {(const char *)e->key + PB_LMDB_ACCOUNT_OVERHEAD, e->key_len - PB_LMDB_ACCOUNT_OVERHEAD},
            .type = be32_get(e->key + PB_LMDB_ID_LEN),
        };
        pb_str token = {(const char *)e->dup + PB_LMDB_SEQ_LEN, e->dup_len - PB_LMDB_SEQ_LEN};
        result = visit(arg, token, &account);
    }

out:
    if (cursor != NULL)
        mdb_cursor_close(cursor);
    pb_lmdb_txn_done(session, txn, false);
    free(list.entries);
    if (result != PB_STORE_EIO)
        return result;
fail:
    pb_lmdb_set_error(session, "export", rc);
    return PB_STORE_EIO;
}

/* ---- Backup ------------------------------------------------------------ */

static bool dir_is_empty(const char *path)
{
    DIR *dir = opendir(path);
    if (dir == NULL)
        return false;
    struct dirent *entry;
    bool empty = true;
    while (empty && (entry = readdir(dir)) != NULL)
        empty = strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0;
    closedir(dir);
    return empty;
}

int pb_lmdb_backup(pb_store_session *session, const char *dest_dir)
{
    if (mkdir(dest_dir, 0700) != 0 && (errno != EEXIST || !dir_is_empty(dest_dir))) {
        snprintf(session->error, sizeof(session->error), "backup: %s must be a new or empty directory",
                 dest_dir);
        return PB_STORE_EINVAL;
    }
    /* The snapshot held here keeps the map lock, so the copy runs on a
     * mapping that follows any growth by other processes. */
    MDB_txn *txn;
    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_env_copy2(session->store->env, dest_dir, MDB_CP_COMPACT);
        pb_lmdb_txn_done(session, txn, false);
    }
    if (rc != 0) {
        pb_lmdb_set_error(session, "backup", rc);
        return PB_STORE_EIO;
    }
    return 0;
}

/* ---- Statistics -------------------------------------------------------- */

int pb_lmdb_usage_read(pb_store_session *session, pb_lmdb_usage *usage)
{
    pb_store *store = session->store;
    MDB_envinfo info;
    MDB_stat env_stat, tokens_stat;
    const char *dir;
    char path[4096];
    struct stat file;
    MDB_txn *txn;

    int rc = pb_lmdb_txn_start(session, MDB_RDONLY, &txn);
    if (rc != 0)
        goto fail;
    rc = mdb_stat(txn, store->tokens, &tokens_stat);
    pb_lmdb_txn_done(session, txn, false);
    if (rc != 0 || (rc = mdb_env_info(store->env, &info)) != 0 || (rc = mdb_env_stat(store->env, &env_stat)) != 0 ||
        (rc = mdb_env_get_path(store->env, &dir)) != 0)
        goto fail;
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (stat(path, &file) != 0) {
        rc = errno;
        goto fail;
    }
    *usage = (pb_lmdb_usage){
        .file_bytes = (uint64_t)file.st_size,
        .used_bytes = ((uint64_t)info.me_last_pgno + 1) * env_stat.ms_psize,
        .map_bytes = info.me_mapsize,
        .bindings = tokens_stat.ms_entries,
    };
    return 0;

fail:
    pb_lmdb_set_error(session, "usage", rc);
    return PB_STORE_EIO;
}
