/*
 * `pushbind export`: an app's bindings as NDJSON, one binding a line, oldest
 * first: the format `pushbind import` reads, so export then import rebuilds
 * the same lists in the same order.
 */
#include <stdio.h>
#include <string.h>

#include "cli/options.h"
#include "common/json_writer.h"
#include "store/lmdb/tools.h"
#include "store/postgres/tools.h"

static const pb_setting export_rows[] = {
    PB_CLI_ROW_DATA(pb_cli_tool_args, data_dir, false),
    PB_CLI_ROW_STORE(pb_cli_tool_args, store_url),
    PB_CLI_ROW_ACCESS_ID(pb_cli_tool_args, access_id, "the app"),
};

/* The visitor's code for a failed write to stdout. */
#define EXPORT_WRITE_FAILED 1

typedef struct export_state {
    pb_json_writer json; /* one line at a time, in the same memory */
    FILE *out;
    uint64_t access_id; /* the app exported */
    uint64_t written;
    uint64_t tags;
} export_state;

/* Writes the line the writer holds, and counts it in *count. */
static int put_line(export_state *st, uint64_t *count)
{
    pb_str line = pb_json_text(&st->json);
    if (fwrite(line.base, 1, line.len, st->out) != line.len || putc('\n', st->out) == EOF)
        return EXPORT_WRITE_FAILED;
    (*count)++;
    return 0;
}

static int write_binding(void *arg, pb_str token, const pb_account *account, const pb_binding_times *times,
                         pb_platform platform)
{
    export_state *st = arg;
    pb_json_writer *w = &st->json;
    pb_json_reset(w);
    pb_json_object_open(w);
    PB_JSON_KEY(w, "token");
    pb_json_string(w, token);
    PB_JSON_KEY(w, "account");
    pb_json_string(w, account->name);
    PB_JSON_KEY(w, "account_type");
    pb_json_int(w, account->type);
    PB_JSON_KEY(w, "bind_time");
    pb_json_int(w, times->bind_time);
    PB_JSON_KEY(w, "last_bind_time");
    pb_json_int(w, times->last_bind_time);
    if (pb_platform_name(platform) != NULL) {
        PB_JSON_KEY(w, "platform");
        pb_json_string(w, pb_str_from_cstr(pb_platform_name(platform)));
    }
    pb_json_object_close(w);
    return put_line(st, &st->written);
}

static int write_tag(void *arg, pb_str token, pb_str tag)
{
    export_state *st = arg;
    pb_json_writer *w = &st->json;
    pb_json_reset(w);
    pb_json_object_open(w);
    PB_JSON_KEY(w, "token");
    pb_json_string(w, token);
    PB_JSON_KEY(w, "tag");
    pb_json_string(w, tag);
    pb_json_object_close(w);
    return put_line(st, &st->tags);
}

/* Writes the export's lines with `walk`, then says how it went: an exit code. */
static int export(const pb_cli_tool_args *args, int (*walk)(void *tool, export_state *st), void *tool,
                  const char *(*error)(const void *tool))
{
    pb_pool pool;
    pb_pool_init(&pool);
    export_state st = {.out = stdout, .access_id = args->access_id};
    pb_json_init(&st.json, &pool);
    int rc = walk(tool, &st);
    if (rc == 0 && fflush(stdout) != 0)
        rc = EXPORT_WRITE_FAILED;
    pb_pool_clear(&pool);
    switch (rc) {
    case 0:
        fprintf(stderr, "pushbind export: %llu bindings, %llu tags\n", (unsigned long long)st.written,
                (unsigned long long)st.tags);
        return PB_EXIT_OK;
    case PB_STORE_ENOTFOUND:
        fprintf(stderr, "pushbind: no app %llu\n", (unsigned long long)args->access_id);
        return PB_EXIT_FAILURE;
    case EXPORT_WRITE_FAILED:
        fprintf(stderr, "pushbind export: cannot write to stdout: %m\n");
        return PB_EXIT_FAILURE;
    default:
        fprintf(stderr, "pushbind: cannot export: %s\n", error(tool));
        return PB_EXIT_FAILURE;
    }
}

/* The store's bindings, then its tags. */
static int walk_lmdb(void *tool, export_state *st)
{
    int rc = pb_lmdb_export(tool, st->access_id, write_binding, st);
    return rc != 0 ? rc : pb_lmdb_export_tags(tool, st->access_id, write_tag, st);
}
static const char *lmdb_error(const void *tool) { return pb_lmdb_tool_error(tool); }

static int export_lmdb(pb_lmdb_tool *tool, const pb_cli_tool_args *args)
{
    return export(args, walk_lmdb, tool, lmdb_error);
}

static int walk_pg(void *tool, export_state *st)
{
    int rc = pb_pg_export(tool, st->access_id, write_binding, st);
    return rc != 0 ? rc : pb_pg_export_tags(tool, st->access_id, write_tag, st);
}
static const char *pg_error(const void *tool) { return pb_pg_tool_error(tool); }

static int export_pg(pb_pg_tool *tool, const pb_cli_tool_args *args)
{
    return export(args, walk_pg, tool, pg_error);
}

static const pb_command export_command = {
    .name = "export",
    .intro = "usage: pushbind export --data DIR|--store URL --access-id ID > FILE\n"
             "\n"
             "Writes every binding of app ID to stdout as NDJSON, oldest first, from one\n"
             "consistent snapshot (the server may keep running; on PostgreSQL, one COPY):\n"
             "  {\"token\":\"T\",\"account\":\"A\",\"account_type\":0,\"bind_time\":S,\"last_bind_time\":S,"
             "\"platform\":\"ios\"}\n"
             "(platform when known; times in Unix seconds), then every tag of every token:\n"
             "  {\"token\":\"T\",\"tag\":\"vip\"}\n"
             "'pushbind import' reads it back to the same state.\n"
             "\n",
    PB_ROWS(export_rows),
    .run = pb_cli_run_tool,
};

int pb_cli_export(int argc, char **argv)
{
    pb_cli_tool_args args = {.command = "export", .act = export_lmdb, .act_pg = export_pg};
    return pb_command_run(&export_command, argc, argv, &args);
}
