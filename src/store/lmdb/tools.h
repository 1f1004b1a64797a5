/*
 * store/lmdb/tools.h — the embedded store as the operator's commands (import,
 * export, backup, stats) see it: the whole interface they need, and all they
 * may include of the embedded backend, as LMDB's own mdb_copy and mdb_stat
 * need nothing beyond lmdb.h.
 *
 * These are LMDB-specific on purpose: a bulk load that bypasses per-request
 * transactions, a copy of the environment, the size of its file. The service
 * itself never calls them; store.h stays the contract between the service and
 * any backend.
 *
 * Objects and threads
 * -------------------
 *   pb_lmdb_tool  the store in one data directory, opened for a tool. The
 *                 server may have the same directory open meanwhile: LMDB's
 *                 lock file coordinates the processes. One thread uses a tool
 *                 at a time (import hands it to its writer thread, and back).
 *
 * Errors: 0 or a negative PB_STORE_E* value (store/store.h), the message in
 * pb_lmdb_tool_error().
 */
#ifndef PB_STORE_LMDB_TOOLS_H
#define PB_STORE_LMDB_TOOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

typedef struct pb_lmdb_tool pb_lmdb_tool;

typedef struct pb_lmdb_tool_config {
    const char *data_dir; /* created (mode 0700) when missing */
    uint64_t map_size;    /* bytes of address space to reserve, as pb_store_config's */
    pb_store_limits limits; /* what import enforces */
} pb_lmdb_tool_config;

/*
 * Opens (creating when needed) the store in config->data_dir. On failure
 * returns NULL and points *err at a malloc'ed message the caller frees.
 */
pb_lmdb_tool *pb_lmdb_tool_open(const pb_lmdb_tool_config *config, char **err);

/* Closes the tool; NULL is allowed. */
void pb_lmdb_tool_close(pb_lmdb_tool *tool);

/* A human-readable message for the tool's last failure ("" when none). */
const char *pb_lmdb_tool_error(const pb_lmdb_tool *tool);

/*
 * Calls `visit` for each app in increasing access_id order, as
 * pb_store_app_list() does. Returns 0 or PB_STORE_EIO.
 */
int pb_lmdb_tool_app_list(pb_lmdb_tool *tool, void (*visit)(void *arg, const pb_app_info *app), void *arg);

/* ---- Import ------------------------------------------------------------ */

/* What pb_lmdb_import_chunk() did with one binding. */
typedef enum pb_import_outcome {
    PB_IMPORT_BOUND = 0,      /* created, after every binding created before it */
    PB_IMPORT_PRESENT,        /* already bound: nothing changed (re-running an import is a no-op) */
    PB_IMPORT_TOKEN_FULL,     /* the token already has max_accounts_per_token accounts */
    PB_IMPORT_ACCOUNT_FULL,   /* the account already has max_tokens_per_account tokens */
    PB_IMPORT_TOO_LONG,       /* the token or account does not fit an LMDB key */
    PB_IMPORT_TAG_TOKEN_FULL, /* a tag line: the token already has max_tags_per_token tags */
    PB_IMPORT_TAG_APP_FULL,   /* a tag line: the app already has max_tags_per_app distinct tags */
    PB_IMPORT_TAG_NO_SPACE,   /* a tag line that would eat into the store's reserve */
} pb_import_outcome;

/*
 * One binding to import: `account` bound to `token`, with the times and the
 * platform the line gave (last_bind_time 0: none, the import's own time;
 * bind_time 0: last_bind_time). A binding already present is left as it is.
 */
typedef struct pb_import_item {
    pb_str token;
    pb_account account;
    pb_binding_times times;
    pb_platform platform;
    bool is_tag; /* a tag line: account.name is the tag, the rest unused (pb_lmdb_import_tags()) */
} pb_import_item;

/*
 * Binds items[0..n-1] in app `access_id`, in one write transaction, with
 * exactly the outcome each would have had as an APPEND of one account sent
 * one after the other in item order, under the limits the store was opened
 * with: outcomes[i] says what happened to items[i]. New bindings are created
 * in item order (their place in every list follows it).
 *
 * It decides in item order but reads and writes in key order, so that a large
 * chunk touches each page of the store once: that is what makes a bulk load
 * fast. Other writers of the store (the server included) wait while a chunk
 * runs. It allocates about 72 bytes an item (two sort entries and a seq) and
 * runs two short-lived threads of its own: one sorts the accounts side, one
 * starts the disk's writeback of the pages written so far. Another thread
 * may follow it with pb_lmdb_import_progress().
 *
 * Returns 0 once the chunk is durable, PB_STORE_ENOTFOUND (no such app;
 * nothing changed) or PB_STORE_EIO (nothing changed).
 */
int pb_lmdb_import_chunk(pb_lmdb_tool *tool, uint64_t access_id, const pb_import_item *items, size_t n,
                         pb_import_outcome *outcomes);

/* Where a chunk is in pb_lmdb_import_chunk(), in order. */
typedef enum pb_import_stage {
    PB_IMPORT_IDLE = 0,   /* no chunk in progress */
    PB_IMPORT_SORTING,    /* the items sorted by token and by account */
    PB_IMPORT_CHECKING,   /* each item judged: by its token, then by its account */
    PB_IMPORT_WRITING,    /* the new bindings put: two records each, one per side */
    PB_IMPORT_COMMITTING, /* the transaction made durable */
} pb_import_stage;

/* How far the chunk in progress has come; done of total counts steps in CHECKING and WRITING only. */
typedef struct pb_import_progress {
    pb_import_stage stage;
    uint64_t done, total;
} pb_import_progress;

/*
 * How far the chunk that pb_lmdb_import_chunk() is running on `tool` has come,
 * for a progress display while it runs (seconds for millions of items): any
 * thread may call it at any time, without waiting. The three fields are read
 * one after the other, so a reading taken as the stage changes may mix two
 * stages' counts; done never exceeds total.
 */
pb_import_progress pb_lmdb_import_progress(const pb_lmdb_tool *tool);

/* ---- Export ------------------------------------------------------------ */

/* One exported binding: its token and account, its times, and the token's platform (NONE: never given). */
typedef int pb_lmdb_export_visit(void *arg, pb_str token, const pb_account *account, const pb_binding_times *times,
                                 pb_platform platform);

/*
 * Calls `visit` for every binding of app `access_id`, in creation order, from
 * one snapshot, expired ones included. The strings are valid during the call only. A non-zero return
 * from `visit` stops the walk and is returned. Holds one 32-byte entry per
 * binding in memory to sort them. Returns 0, PB_STORE_ENOTFOUND,
 * PB_STORE_EIO, or the visitor's code.
 */
int pb_lmdb_export(pb_lmdb_tool *tool, uint64_t access_id, pb_lmdb_export_visit *visit, void *arg);

/* ---- Tags (tag_tools.c) ------------------------------------------------- */

/*
 * Gives each tag line items[i] (is_tag: account.name the tag) its token, in
 * item order, in one write transaction, each as POST /v3/device/tag op 9
 * would with the limits given: outcomes[i] is PB_IMPORT_BOUND (added, or
 * there already) or why not. Returns 0 once durable, PB_STORE_ENOTFOUND or
 * PB_STORE_EIO (nothing changed).
 */
int pb_lmdb_import_tags(pb_lmdb_tool *tool, uint64_t access_id, const pb_import_item *items, size_t n,
                        uint32_t max_tags_per_token, uint32_t max_tags_per_app, pb_import_outcome *outcomes);

/* One exported (tag, token) pair. */
typedef int pb_lmdb_export_tag_visit(void *arg, pb_str token, pb_str tag);

/*
 * Calls `visit` for every (tag, token) pair of app `access_id` from one
 * snapshot, token by token in key order, each token's tags in the order they
 * were added. Returns as pb_lmdb_export().
 */
int pb_lmdb_export_tags(pb_lmdb_tool *tool, uint64_t access_id, pb_lmdb_export_tag_visit *visit, void *arg);

/* ---- Backup ------------------------------------------------------------ */

/*
 * Writes a compacted copy of the whole store (every app) into directory
 * `dest_dir` (created mode 0700; it must not exist or be empty) as
 * dest_dir/data.mdb, from one snapshot: the copy holds every write committed
 * before the call and none after. Writers go on meanwhile. Returns 0,
 * PB_STORE_EINVAL (dest_dir is not usable) or PB_STORE_EIO.
 */
int pb_lmdb_backup(pb_lmdb_tool *tool, const char *dest_dir);

/* ---- Statistics -------------------------------------------------------- */

typedef struct pb_lmdb_usage {
    uint64_t file_bytes;   /* size of data.mdb on disk */
    uint64_t used_bytes;   /* pages in use, free pages included */
    uint64_t map_bytes;    /* the address space reserved: the most the data may grow to */
    uint64_t bindings;     /* account–token pairs, every app */
} pb_lmdb_usage;

/* Fills *usage from one snapshot. Returns 0 or PB_STORE_EIO. */
int pb_lmdb_usage_read(pb_lmdb_tool *tool, pb_lmdb_usage *usage);

#endif
