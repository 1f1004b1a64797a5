/*
 * `pushbind export`: an app's bindings as NDJSON, one binding a line, oldest
 * first: the format `pushbind import` reads, so export then import rebuilds
 * the same lists in the same order.
 */
#include <stdio.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "cli/options.h"
#include "store/lmdb/tools.h"

static const pb_setting export_rows[] = {
    PB_CLI_ROW_DATA(pb_cli_tool_args, data_dir, true),
    PB_CLI_ROW_ACCESS_ID(pb_cli_tool_args, access_id, "the app"),
};

/* The visitor's code for a failed write to stdout. */
#define EXPORT_WRITE_FAILED 1

typedef struct export_state {
    yajl_gen gen;
    FILE *out;
    uint64_t written;
} export_state;

static void gen_key_string(yajl_gen gen, const char *key, pb_str value)
{
    yajl_gen_string(gen, (const unsigned char *)key, strlen(key));
    yajl_gen_string(gen, (const unsigned char *)value.base, value.len);
}

static void gen_key_integer(yajl_gen gen, const char *key, long long value)
{
    yajl_gen_string(gen, (const unsigned char *)key, strlen(key));
    yajl_gen_integer(gen, value);
}

static int write_binding(void *arg, pb_str token, const pb_account *account, const pb_binding_times *times,
                         pb_platform platform)
{
    export_state *st = arg;
    const unsigned char *json;
    size_t len;
    yajl_gen_clear(st->gen);
    yajl_gen_map_open(st->gen);
    gen_key_string(st->gen, "token", token);
    gen_key_string(st->gen, "account", account->name);
    gen_key_integer(st->gen, "account_type", account->type);
    gen_key_integer(st->gen, "bind_time", times->bind_time);
    gen_key_integer(st->gen, "last_bind_time", times->last_bind_time);
    if (pb_platform_name(platform) != NULL)
        gen_key_string(st->gen, "platform", pb_str_from_cstr(pb_platform_name(platform)));
    yajl_gen_map_close(st->gen);
    yajl_gen_get_buf(st->gen, &json, &len);
    if (fwrite(json, 1, len, st->out) != len || putc('\n', st->out) == EOF)
        return EXPORT_WRITE_FAILED;
    yajl_gen_reset(st->gen, NULL);
    st->written++;
    return 0;
}

static int export(pb_lmdb_tool *tool, const pb_cli_tool_args *args)
{
    export_state st = {.gen = yajl_gen_alloc(NULL), .out = stdout};
    int rc = st.gen == NULL ? PB_STORE_EIO : pb_lmdb_export(tool, args->access_id, write_binding, &st);
    if (rc == 0 && fflush(stdout) != 0)
        rc = EXPORT_WRITE_FAILED;
    if (st.gen != NULL)
        yajl_gen_free(st.gen);
    switch (rc) {
    case 0:
        fprintf(stderr, "pushbind export: %llu bindings\n", (unsigned long long)st.written);
        return PB_EXIT_OK;
    case PB_STORE_ENOTFOUND:
        fprintf(stderr, "pushbind: no app %llu\n", (unsigned long long)args->access_id);
        return PB_EXIT_FAILURE;
    case EXPORT_WRITE_FAILED:
        fprintf(stderr, "pushbind export: cannot write to stdout: %m\n");
        return PB_EXIT_FAILURE;
    default:
        fprintf(stderr, "pushbind: cannot export: %s\n", pb_lmdb_tool_error(tool));
        return PB_EXIT_FAILURE;
    }
}

static const pb_command export_command = {
    .name = "export",
    .intro = "usage: pushbind export --data DIR --access-id ID > FILE\n"
             "\n"
             "Writes every binding of app ID to stdout as NDJSON, oldest first, from one\n"
             "consistent snapshot (the server may keep running):\n"
             "  {\"token\":\"T\",\"account\":\"A\",\"account_type\":0,\"bind_time\":S,\"last_bind_time\":S,"
             "\"platform\":\"ios\"}\n"
             "(platform when known; times in Unix seconds).\n"
             "'pushbind import' reads it back to the same state.\n"
             "\n",
    PB_ROWS(export_rows),
    .run = pb_cli_run_tool,
};

int pb_cli_export(int argc, char **argv)
{
    pb_cli_tool_args args = {.act = export};
    return pb_command_run(&export_command, argc, argv, &args);
}
