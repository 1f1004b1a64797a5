/*
 * lmdb_tools.h — what the operator's commands (import, export, backup,
 * stats) do directly to the embedded LMDB store, below store.h.
 *
 * These are LMDB-specific on purpose: a bulk load that bypasses per-request
 * transactions, a copy of the environment, the size of its file. The service
 * itself never calls them; store.h stays the contract between the service and
 * any backend.
 *
 * Threads: every function runs on the thread that owns `session`. Errors:
 * 0 or a negative PB_STORE_E* value, the message in
 * pb_store_session_error(session).
 */
#ifndef PB_STORE_LMDB_TOOLS_H
#define PB_STORE_LMDB_TOOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* ---- Import ------------------------------------------------------------ */

/* What pb_lmdb_import_bind() did with one binding. */
typedef enum pb_import_outcome {
    PB_IMPORT_BOUND = 0,      /* created, after every binding created before it */
    PB_IMPORT_PRESENT,        /* already bound: nothing changed (re-running an import is a no-op) */
    PB_IMPORT_TOKEN_FULL,     /* the token already has max_accounts_per_token accounts */
    PB_IMPORT_ACCOUNT_FULL,   /* the account already has max_tokens_per_account tokens */
    PB_IMPORT_TOO_LONG,       /* the token or account does not fit an LMDB key */
} pb_import_outcome;

typedef struct pb_lmdb_import pb_lmdb_import;

/*
 * Starts a bulk import into app `access_id`: one write transaction, open
 * until pb_lmdb_import_commit() or pb_lmdb_import_end(). While it is open,
 * other writers of the store (the server included) wait, so commit often
 * enough for them. Returns 0 and sets *import, PB_STORE_ENOTFOUND (no such
 * app) or PB_STORE_EIO.
 */
int pb_lmdb_import_begin(pb_store_session *session, uint64_t access_id, pb_lmdb_import **import);

/*
 * Binds `account` to `token` as an APPEND of one account would, under the
 * limits the store was opened with, and sets *outcome. Bindings created in
 * one import are created in call order. Nothing is durable before the next
 * commit. Returns 0 or PB_STORE_EIO (the transaction is then lost: every
 * binding since the last commit is undone; end the import).
 */
int pb_lmdb_import_bind(pb_lmdb_import *import, pb_str token, const pb_account *account,
                        pb_import_outcome *outcome);

/*
 * Makes every binding since the last commit durable and opens the next
 * transaction. Returns 0 or PB_STORE_EIO (the uncommitted bindings are lost;
 * end the import).
 */
int pb_lmdb_import_commit(pb_lmdb_import *import);

/* Ends the import, abandoning anything not committed, and frees it. */
void pb_lmdb_import_end(pb_lmdb_import *import);

/* ---- Export ------------------------------------------------------------ */

/*
 * Calls `visit` for every binding of app `access_id`, in creation order, from
 * one snapshot. The strings are valid during the call only. A non-zero return
 * from `visit` stops the walk and is returned. Holds one 32-byte entry per
 * binding in memory to sort them. Returns 0, PB_STORE_ENOTFOUND,
 * PB_STORE_EIO, or the visitor's code.
 */
int pb_lmdb_export(pb_store_session *session, uint64_t access_id,
                   int (*visit)(void *arg, pb_str token, const pb_account *account), void *arg);

/* ---- Backup ------------------------------------------------------------ */

/*
 * Writes a compacted copy of the whole store (every app) into directory
 * `dest_dir` (created mode 0700; it must not exist or be empty) as
 * dest_dir/data.mdb, from one snapshot: the copy holds every write committed
 * before the call and none after. Writers go on meanwhile. Returns 0,
 * PB_STORE_EINVAL (dest_dir is not usable) or PB_STORE_EIO.
 */
int pb_lmdb_backup(pb_store_session *session, const char *dest_dir);

/* ---- Statistics -------------------------------------------------------- */

typedef struct pb_lmdb_usage {
    uint64_t file_bytes;   /* size of data.mdb on disk */
    uint64_t used_bytes;   /* pages in use, free pages included */
    uint64_t map_bytes;    /* the address space reserved: the most the data may grow to */
    uint64_t bindings;     /* account–token pairs, every app */
} pb_lmdb_usage;

/* Fills *usage from one snapshot. Returns 0 or PB_STORE_EIO. */
int pb_lmdb_usage_read(pb_store_session *session, pb_lmdb_usage *usage);

#endif
