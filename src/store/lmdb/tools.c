/*
 * tools.c — the tool handle, export, backup and usage of the embedded store
 * (the bulk import is in load.c). The key layout is described in store/lmdb/keys.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/lmdb/internal.h"
#include "store/lmdb/tools.h"

/* ---- The handle -------------------------------------------------------- */

pb_lmdb_tool *pb_lmdb_tool_open(const pb_lmdb_tool_config *config, char **err)
{
    pb_lmdb_tool *tool = calloc(1, sizeof(*tool));
    if (tool == NULL) {
        *err = strdup("out of memory");
        return NULL;
    }
    pb_store_config store_config = {.data_dir = config->data_dir, .map_size = config->map_size,
                                    .limits = config->limits};
    tool->store = pb_lmdb_open(&store_config, err);
    if (tool->store != NULL && (tool->session = pb_lmdb_session_open(tool->store)) == NULL)
        *err = strdup("cannot open a store session");
    if (tool->session == NULL) {
        pb_lmdb_close(tool->store);
        free(tool);
        return NULL;
    }
    return tool;
}

void pb_lmdb_tool_close(pb_lmdb_tool *tool)
{
    if (tool == NULL)
        return;
    pb_lmdb_session_close(tool->session);
    pb_lmdb_close(tool->store);
    free(tool);
}

const char *pb_lmdb_tool_error(const pb_lmdb_tool *tool)
{
    return pb_lmdb_session_error(tool->session);
}

int pb_lmdb_tool_app_list(pb_lmdb_tool *tool, void (*visit)(void *arg, const pb_app_info *app), void *arg)
{
    return pb_lmdb_app_list(tool->session, visit, arg);
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
int pb_lmdb_export(pb_lmdb_tool *tool, uint64_t access_id, pb_lmdb_export_visit *visit, void *arg)
{
    pb_lmdb_session *session = tool->session;
    pb_lmdb_store *store = session->store;
    unsigned char prefix[PB_LMDB_ID_LEN], app_buf[PB_LMDB_APP_HEAD + PB_STORE_SECRET_MAX];
    struct app_record app;
    struct export_list list = {NULL, 0, 0};
    MDB_cursor *cursor = NULL, *tokens = NULL;
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
        (rc = export_collect(cursor, prefix, &list)) != 0 || (rc = mdb_cursor_open(txn, store->tokens, &tokens)) != 0)
        goto out;
    qsort(list.entries, list.n, sizeof(*list.entries), by_seq);
    result = 0;
    for (size_t i = 0; i < list.n && result == 0; i++) {
        unsigned char kbuf[PB_LMDB_KEY_BUF];
        const struct export_entry *e = &list.entries[i];
        pb_account account = {
            .name = {(const char *)e->key + PB_LMDB_ACCOUNT_OVERHEAD, e->key_len - PB_LMDB_ACCOUNT_OVERHEAD},
            .type = be32_get(e->key + PB_LMDB_ID_LEN),
        };
        pb_str token = {(const char *)e->dup + PB_LMDB_SEQ_LEN, e->dup_len - PB_LMDB_SEQ_LEN};
        /* The times and platform are on the tokens side; a binding missing there is half of one: skipped. */
        MDB_val key = {token_key(kbuf, access_id, token), kbuf}, dup;
        struct binding_info info;
        pb_account bound;
        uint64_t seq;
        if ((rc = pb_lmdb_seek_binding(tokens, &key, e->seq, &dup)) == MDB_NOTFOUND)
            continue;
        if (rc == 0 && !account_dup_parse(dup.mv_data, dup.mv_size, &seq, &info, &bound))
            rc = MDB_CORRUPTED;
        if (rc != 0) {
            result = PB_STORE_EIO;
            break;
        }
        pb_binding_times times = {info.bind_time, info.last_bind_time};
        result = visit(arg, token, &account, &times, info.platform);
    }

out:
    if (tokens != NULL)
        mdb_cursor_close(tokens);
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

/*
 * The copy holds every app's secret: readable by its owner only, like the
 * store. And on disk before the command says it is done.
 */
static int seal_copy(const char *dest_dir)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/data.mdb", dest_dir);
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1 || fchmod(fd, 0600) != 0 || fsync(fd) != 0)
        rc = errno;
    if (fd != -1)
        close(fd);
    int dir = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir == -1 || fsync(dir) != 0)
        rc = rc != 0 ? rc : errno;
    if (dir != -1)
        close(dir);
    return rc;
}

int pb_lmdb_backup(pb_lmdb_tool *tool, const char *dest_dir)
{
    pb_lmdb_session *session = tool->session;
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
    if (rc == 0)
        rc = seal_copy(dest_dir);
    if (rc != 0) {
        pb_lmdb_set_error(session, "backup", rc);
        return PB_STORE_EIO;
    }
    return 0;
}

/* ---- Statistics -------------------------------------------------------- */

int pb_lmdb_usage_read(pb_lmdb_tool *tool, pb_lmdb_usage *usage)
{
    pb_lmdb_session *session = tool->session;
    pb_lmdb_store *store = session->store;
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
