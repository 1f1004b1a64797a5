/* `pushbind import`: flags → pb_import_run() (import/import.h), with a progress bar. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/options.h"
#include "common/progress.h"
#include "import/import.h"
#include "store/postgres/tools.h"

typedef struct import_settings {
    pb_import_config config;
    int format; /* a pb_import_format, or -1: decided by the first line */
    const char *file;
    uint64_t map_size_mib;
} import_settings;

_Static_assert(sizeof(pb_import_format) == sizeof(int), "--format is stored as a choice's int");

static const char *const import_formats[] = {[PB_IMPORT_NDJSON] = "ndjson", [PB_IMPORT_CSV] = "csv", NULL};

#define S import_settings
static const pb_setting import_rows[] = {
    PB_CLI_ROW_DATA(S, config.data_dir, false),
    PB_CLI_ROW_STORE(S, config.store_url),
    PB_CLI_ROW_ACCESS_ID(S, config.access_id, "the app (it must exist: 'pushbind app add')"),
    PB_SETTING_C("format", "ndjson|csv", S, format, import_formats, "the input's format",
                 "NDJSON when the first line starts with '{'"),
    PB_SETTING_U("batch-size", "N", S, config.batch_size, 1, 10000000, PB_IMPORT_DEFAULT_BATCH,
                 "lines per transaction (fewer when a server shares the store)", NULL),
    PB_CLI_ROWS_STORE_LIMITS(S, config.limits),
    PB_CLI_ROWS_BYTE_LIMITS(S, config.api),
    PB_CLI_ROWS_TAG_LIMITS(S, config.api),
    PB_CLI_ROW_MAP_SIZE(S, map_size_mib),
};
#undef S

/* The command line's side of an import: refusals and failures on stderr, under the bar. */
static void on_refused(void *arg, uint64_t line, const char *reason)
{
    pb_progress_clear(arg);
    fprintf(stderr, "pushbind import: line %llu: %s\n", (unsigned long long)line, reason);
}

/* What the store is doing with the chunk in hand, for the bar ("" when nothing). */
static void describe_store(char *out, size_t size, const pb_import_progress *store)
{
    unsigned long long done = store->done, total = store->total;
    switch (store->stage) {
    case PB_IMPORT_SORTING: snprintf(out, size, "storing: sorting"); break;
    case PB_IMPORT_CHECKING: snprintf(out, size, "storing: %llu of %llu checked", done, total); break;
    case PB_IMPORT_WRITING: snprintf(out, size, "storing: %llu of %llu written", done, total); break;
    case PB_IMPORT_COMMITTING: snprintf(out, size, "storing: committing"); break;
    default: out[0] = '\0';
    }
}

static void on_progress(void *arg, const pb_import_counts *counts, bool waiting)
{
    pb_progress *progress = arg;
    describe_store(progress->note, sizeof(progress->note), &counts->store);
    /* Writing a chunk takes seconds, the last ones after reading is over: keep the bar in view. */
    if (waiting || counts->store.stage != PB_IMPORT_IDLE)
        pb_progress_show(progress, counts->lines, counts->bound, counts->bytes);
    pb_progress_update(progress, counts->lines, counts->bound, counts->bytes);
}

static void on_failed(void *arg, const char *message)
{
    pb_progress_clear(arg);
    fprintf(stderr, "pushbind import: %s\n", message);
}

static int run_import(void *settings)
{
    import_settings *args = settings;
    int usage = pb_cli_check_store_flags("import", args->config.data_dir, args->config.store_url);
    if (usage != PB_EXIT_OK)
        return usage;
    if (args->config.store_url != NULL && !pb_pg_tool_url_is(args->config.store_url))
        return pb_cli_usage_error("import", "--store takes a postgresql:// URL here");
    args->config.format_given = args->format >= 0;
    args->config.format = args->format >= 0 ? (pb_import_format)args->format : PB_IMPORT_NDJSON;
    args->config.map_size = args->map_size_mib * 1024 * 1024;
    args->config.input_name = args->file;
    bool use_stdin = strcmp(args->file, "-") == 0;
    int fd = use_stdin ? STDIN_FILENO : open(args->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "pushbind: cannot open %s: %m\n", args->file);
        return PB_EXIT_FAILURE;
    }
    struct stat st;
    uint64_t total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;

    pb_progress progress;
    pb_progress_start(&progress, "import", isatty(STDERR_FILENO), total);
    pb_import_observer observer = {on_refused, on_progress, on_failed, &progress};
    pb_import_counts counts;
    int rc = pb_import_run(&args->config, fd, &observer, &counts);
    pb_progress_clear(&progress);
    if (!use_stdin)
        close(fd);
    if (rc == PB_STORE_ENOTFOUND) {
        fprintf(stderr, "pushbind: no app %llu (create it with 'pushbind app add')\n",
                (unsigned long long)args->config.access_id);
        return PB_EXIT_FAILURE;
    }
    double seconds = pb_progress_now() - progress.start;
    printf("%llu lines: %llu bound, %llu already present, %llu rejected in %.2f s (%.0f lines/s)\n",
           (unsigned long long)counts.lines, (unsigned long long)counts.bound, (unsigned long long)counts.present,
           (unsigned long long)counts.rejected, seconds, seconds > 0 ? (double)counts.lines / seconds : 0.0);
    return rc == 0 && counts.rejected == 0 ? PB_EXIT_OK : PB_EXIT_FAILURE;
}

static const pb_command import_command = {
    .name = "import",
    .intro = "usage: pushbind import --data DIR|--store URL --access-id ID [options] FILE\n"
             "\n"
             "Loads bindings into app ID from FILE ('-' for stdin), one a line, in file order:\n"
             "  NDJSON  {\"token\":\"T\",\"account\":\"A\",\"account_type\":0}   (account_type optional)\n"
             "  CSV     T,A[,TYPE]   (header line optional; RFC 4180 quotes)\n"
             "Each line is an append of one account to one token, judged by the API's rules.\n"
             "Lines already bound change nothing, so a re-run is harmless. Bad lines and lines\n"
             "over a limit are reported with their line number and skipped. A tag line\n"
             "{\"token\":\"T\",\"tag\":\"G\"} (as export writes them) adds G to T as tag op 9 would.\n"
             "The limits are serve's: give the same values. On PostgreSQL each chunk goes in\n"
             "by COPY; the app's writes from servers wait while a chunk is stored.\n"
             "\n",
    .outro = "\n"
             "Exit status: 0 every line was bound or already present, 1 some were not (or the\n"
             "store failed; what was committed stays), 2 bad command line.\n",
    PB_ROWS(import_rows),
    .operand = "FILE",
    .operand_offset = offsetof(import_settings, file),
    .takes_config = true,
    .run = run_import,
};

int pb_cli_import(int argc, char **argv)
{
    import_settings s = {.format = -1};
    pb_api_config_defaults(&s.config.api);
    return pb_command_run(&import_command, argc, argv, &s);
}
