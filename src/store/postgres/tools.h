/*
 * store/postgres/tools.h — the PostgreSQL store as the operator's commands
 * (import, export, stats) see it: bulk loads and reads through COPY, and the
 * sizes PostgreSQL reports. Backups are PostgreSQL's own (pg_dump,
 * pg_basebackup): there is no backup here.
 *
 * The items, outcomes, progress and export visitor are the embedded store's
 * (store/lmdb/tools.h), with the same rules: a command drives either store
 * with the same code and gets the same answers.
 *
 * Objects and threads
 * -------------------
 *   pb_pg_tool  one connection to the store a postgresql:// URL names (its
 *               schema created or upgraded on open, as the server does).
 *               Servers may use the store meanwhile. One thread uses a tool
 *               at a time (import hands it to its writer thread, and back).
 *
 * Errors: 0 or a negative PB_STORE_E* value (store/store.h), the message in
 * pb_pg_tool_error().
 */
#ifndef PB_STORE_POSTGRES_TOOLS_H
#define PB_STORE_POSTGRES_TOOLS_H

#include <stdbool.h>
#include <stdint.h>

#include "store/lmdb/tools.h"
#include "store/store.h"

typedef struct pb_pg_tool pb_pg_tool;

/* Whether `url` names a PostgreSQL store (postgresql:// or postgres://). */
bool pb_pg_tool_url_is(const char *url);

/*
 * Connects to the store at `url` (postgresql:// or postgres://, as
 * pb_store_open takes it); `limits` are what import enforces. On failure
 * returns NULL and points *err at a malloc'ed message the caller frees.
 */
pb_pg_tool *pb_pg_tool_open(const char *url, const pb_store_limits *limits, char **err);

/* Closes the tool; NULL is allowed. */
void pb_pg_tool_close(pb_pg_tool *tool);

/* A human-readable message for the tool's last failure ("" when none). */
const char *pb_pg_tool_error(const pb_pg_tool *tool);

/* Calls `visit` for each app in increasing access_id order. Returns 0 or PB_STORE_EIO. */
int pb_pg_tool_app_list(pb_pg_tool *tool, void (*visit)(void *arg, const pb_app_info *app), void *arg);

/*
 * pb_lmdb_import_chunk()'s contract on PostgreSQL: items[0..n-1] bound in app
 * `access_id` in one transaction, each with the outcome it would have had as
 * an APPEND of one account sent one after the other in item order, new
 * bindings created in item order. The items go to a temporary table by COPY;
 * set-wise statements judge them against the limits (exactly, in item
 * order); one INSERT … SELECT writes the new ones. The app's batches from
 * servers wait while a chunk runs (it holds the app's lock). n = 0 checks
 * that the app exists. PB_IMPORT_TOO_LONG never happens (PostgreSQL's keys
 * hold any token the API accepts).
 *
 * Returns 0 once the chunk is committed, PB_STORE_ENOTFOUND (no such app;
 * nothing changed) or PB_STORE_EIO (nothing changed).
 */
int pb_pg_import_chunk(pb_pg_tool *tool, uint64_t access_id, const pb_import_item *items, size_t n,
                       pb_import_outcome *outcomes);

/* As pb_lmdb_import_progress(): WRITING while the items are copied, COMMITTING while the server judges and writes them. */
pb_import_progress pb_pg_import_progress(const pb_pg_tool *tool);

/*
 * pb_lmdb_export()'s contract on PostgreSQL: every binding of app
 * `access_id` in creation order, from one statement's snapshot (one COPY),
 * expired ones included. Returns 0, PB_STORE_ENOTFOUND, PB_STORE_EIO, or the
 * visitor's code.
 */
int pb_pg_export(pb_pg_tool *tool, uint64_t access_id, pb_lmdb_export_visit *visit, void *arg);

/*
 * pb_lmdb_import_tags()'s contract on PostgreSQL: each tag line in item order
 * as op 9 of one pair would add it, in one transaction holding the app's
 * lock exclusively (one call of tag_import(): one round trip a chunk).
 */
int pb_pg_import_tags(pb_pg_tool *tool, uint64_t access_id, const pb_import_item *items, size_t n,
                      uint32_t max_tags_per_token, uint32_t max_tags_per_app, pb_import_outcome *outcomes);

/*
 * pb_lmdb_export_tags()'s contract on PostgreSQL: every live (tag, token)
 * pair of app `access_id` from one COPY, token by token in byte order, each
 * token's tags in the order they were added.
 */
int pb_pg_export_tags(pb_pg_tool *tool, uint64_t access_id, pb_lmdb_export_tag_visit *visit, void *arg);

typedef struct pb_pg_usage {
    uint64_t bindings;      /* rows, every app */
    uint64_t table_bytes;   /* the bindings table alone: heap, free space map, visibility map */
    uint64_t index_bytes;   /* its two indexes */
    uint64_t total_bytes;   /* pg_total_relation_size() of every table in the schema (TOAST included) */
} pb_pg_usage;

/* Fills *usage. Returns 0 or PB_STORE_EIO. */
int pb_pg_usage_read(pb_pg_tool *tool, pb_pg_usage *usage);

#endif
