/* `pushbind stats`: how many bindings each app holds and how big the store is. */
#include <stdio.h>

#include "cli/options.h"
#include "store/lmdb/tools.h"
#include "store/postgres/tools.h"

static const pb_setting stats_rows[] = {
    PB_CLI_ROW_DATA(pb_cli_tool_args, data_dir, false),
    PB_CLI_ROW_STORE(pb_cli_tool_args, store_url),
};

#define MIB (1024.0 * 1024.0)

typedef struct totals {
    uint64_t apps, bindings;
} totals;

static void print_app(void *arg, const pb_app_info *app)
{
    totals *t = arg;
    t->apps++;
    t->bindings += app->bindings;
    printf("%-18llu  %llu\n", (unsigned long long)app->access_id, (unsigned long long)app->bindings);
}

/* Prints the table's head; the apps' rows follow from print_app. */
static void print_head(void)
{
    printf("%-18s  %s\n", "ACCESS_ID", "BINDINGS");
}

/* The totals under the table; `bindings` is the store's own count. */
static void print_totals(const totals *t, uint64_t bindings)
{
    printf("\napps: %llu\nbindings: %llu\n", (unsigned long long)t->apps, (unsigned long long)bindings);
}

static int read_failed(const char *error)
{
    fprintf(stderr, "pushbind: cannot read the store: %s\n", error);
    return PB_EXIT_FAILURE;
}

static int stats(pb_lmdb_tool *tool, const pb_cli_tool_args *args)
{
    totals t = {0};
    pb_lmdb_usage usage;
    print_head();
    if (pb_lmdb_tool_app_list(tool, print_app, &t) != PB_STORE_OK || pb_lmdb_usage_read(tool, &usage) != PB_STORE_OK)
        return read_failed(pb_lmdb_tool_error(tool));
    print_totals(&t, usage.bindings);
    printf("file: %.1f MiB (%llu bytes)\nused: %.1f MiB\nmap size: %.0f MiB\n", usage.file_bytes / MIB,
           (unsigned long long)usage.file_bytes, usage.used_bytes / MIB, usage.map_bytes / MIB);
    return PB_EXIT_OK;
}

static int stats_pg(pb_pg_tool *tool, const pb_cli_tool_args *args)
{
    (void)args;
    totals t = {0};
    pb_pg_usage usage;
    print_head();
    if (pb_pg_tool_app_list(tool, print_app, &t) != PB_STORE_OK || pb_pg_usage_read(tool, &usage) != PB_STORE_OK)
        return read_failed(pb_pg_tool_error(tool));
    print_totals(&t, usage.bindings);
    printf("table: %.1f MiB (%llu bytes)\nindexes: %.1f MiB (%llu bytes)\nschema: %.1f MiB (%llu bytes)\n",
           usage.table_bytes / MIB, (unsigned long long)usage.table_bytes, usage.index_bytes / MIB,
           (unsigned long long)usage.index_bytes, usage.total_bytes / MIB, (unsigned long long)usage.total_bytes);
    if (usage.bindings > 0)
        printf("bytes per binding: %.0f\n", (double)(usage.table_bytes + usage.index_bytes) / usage.bindings);
    return PB_EXIT_OK;
}

static const pb_command stats_command = {
    .name = "stats",
    .intro = "usage: pushbind stats --data DIR|--store URL\n"
             "\n"
             "Prints each app's bindings, the totals, and the store's size: the file on\n"
             "disk, the part of it in use, and the map size it may grow to (serve's\n"
             "--map-size-mib). On PostgreSQL: the bindings table's size, its indexes',\n"
             "and the whole schema's (pg_total_relation_size). Works while the server runs.\n"
             "\n",
    PB_ROWS(stats_rows),
    .run = pb_cli_run_tool,
};

int pb_cli_stats(int argc, char **argv)
{
    pb_cli_tool_args args = {.command = "stats", .act = stats, .act_pg = stats_pg};
    return pb_command_run(&stats_command, argc, argv, &args);
}
