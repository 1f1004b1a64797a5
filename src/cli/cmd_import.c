/* `pushbind import`: flags → pb_import_run() (import/import.h), with a progress bar. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/options.h"
#include "common/progress.h"
#include "import/import.h"

static const char import_usage[] =
    "usage: pushbind import --data DIR --access-id ID [options] FILE\n"
    "\n"
    "Loads bindings into app ID from FILE ('-' for stdin), one a line, in file order:\n"
    "  NDJSON  {\"token\":\"T\",\"account\":\"A\",\"account_type\":0}   (account_type optional)\n"
    "  CSV     T,A[,TYPE]   (header line optional; RFC 4180 quotes)\n"
    "Each line is an append of one account to one token, judged by the API's rules.\n"
    "Lines already bound change nothing, so a re-run is harmless. Bad lines and lines\n"
    "over a limit are reported with their line number and skipped.\n"
    "\n"
    "  --data DIR                  data directory\n"
    "  --access-id ID              the app (it must exist: 'pushbind app add')\n"
    "  --format ndjson|csv         default: NDJSON when the first line starts with '{'\n"
    "  --batch-size N              lines per transaction (default 10000000); smaller when a\n"
    "                              server shares the store: its writes wait for each one\n"
    "  --max-accounts-per-token N  as for serve (default 32)\n"
    "  --max-tokens-per-account N  as for serve (default 100)\n"
    "  --max-account-bytes N       as for serve (default 128)\n"
    "  --max-token-bytes N         as for serve (default 256)\n"
    "  --map-size-mib N            as for serve (default 65536)\n"
    "  --help                      this text\n"
    "\n"
    "Exit status: 0 every line was bound or already present, 1 some were not (or the\n"
    "store failed; what was committed stays), 2 bad command line.\n";

typedef struct import_args {
    pb_import_config config;
    const char *file;
    uint64_t map_size_mib;
} import_args;

enum { OPT_DATA = 256, OPT_ACCESS_ID, OPT_FORMAT, OPT_BATCH, OPT_MAX_APT, OPT_MAX_TPA, OPT_MAX_AB, OPT_MAX_TB,
       OPT_MAP, OPT_HELP };

static int parse_import_args(int argc, char **argv, import_args *args, bool *help)
{
    static const struct option options[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"access-id", required_argument, NULL, OPT_ACCESS_ID},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"batch-size", required_argument, NULL, OPT_BATCH},
        {"max-accounts-per-token", required_argument, NULL, OPT_MAX_APT},
        {"max-tokens-per-account", required_argument, NULL, OPT_MAX_TPA},
        {"max-account-bytes", required_argument, NULL, OPT_MAX_AB},
        {"max-token-bytes", required_argument, NULL, OPT_MAX_TB},
        {"map-size-mib", required_argument, NULL, OPT_MAP},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    const char *access_id = NULL;
    uint64_t value;
    opterr = 0;
    optind = 1;
    int option;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case OPT_HELP: *help = true; return PB_EXIT_OK;
        case OPT_DATA: args->config.data_dir = optarg; continue;
        case OPT_ACCESS_ID: access_id = optarg; continue;
        case OPT_FORMAT:
            args->config.format_given = true;
            if (strcmp(optarg, "ndjson") == 0)
                args->config.format = PB_IMPORT_NDJSON;
            else if (strcmp(optarg, "csv") == 0)
                args->config.format = PB_IMPORT_CSV;
            else
                return pb_cli_usage_error("import", "--format: '%s' is not ndjson or csv", optarg);
            continue;
        case '?': return pb_cli_usage_error("import", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
        uint64_t max = option == OPT_MAX_AB ? PB_MAX_ACCOUNT_BYTES_CEILING
                       : option == OPT_MAX_TB ? PB_MAX_TOKEN_BYTES_CEILING
                       : option == OPT_MAP    ? 1u << 24
                                              : 10000000;
        if (pb_cli_parse_uint(optarg, 1, max, &value) != 0)
            return pb_cli_usage_error("import", "'%s' is not a number in 1..%llu", optarg, (unsigned long long)max);
        switch (option) {
        case OPT_BATCH: args->config.batch_size = value; break;
        case OPT_MAX_APT: args->config.limits.max_accounts_per_token = (uint32_t)value; break;
        case OPT_MAX_TPA: args->config.limits.max_tokens_per_account = (uint32_t)value; break;
        case OPT_MAX_AB: args->config.api.max_account_bytes = (uint32_t)value; break;
        case OPT_MAX_TB: args->config.api.max_token_bytes = (uint32_t)value; break;
        case OPT_MAP: args->map_size_mib = value; break;
        }
    }
    if (args->config.data_dir == NULL)
        return pb_cli_usage_error("import", "--data DIR is required");
    if (access_id == NULL || pb_auth_parse_access_id(pb_str_from_cstr(access_id), &args->config.access_id) != 0)
        return pb_cli_usage_error("import", "--access-id ID (1 to 18 decimal digits) is required");
    if (optind != argc - 1)
        return pb_cli_usage_error("import", "one FILE (or '-') is required");
    args->file = argv[optind];
    return PB_EXIT_OK;
}

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

int pb_cli_import(int argc, char **argv)
{
    import_args args = {
        .config = {.batch_size = PB_IMPORT_DEFAULT_BATCH,
                   .limits = {PB_DEFAULT_MAX_ACCOUNTS_PER_TOKEN, PB_DEFAULT_MAX_TOKENS_PER_ACCOUNT}},
        .map_size_mib = PB_DEFAULT_MAP_SIZE_MIB,
    };
    pb_api_config_defaults(&args.config.api);
    bool help = false;
    int exit_code = parse_import_args(argc, argv, &args, &help);
    if (help) {
        fputs(import_usage, stdout);
        return PB_EXIT_OK;
    }
    if (exit_code != PB_EXIT_OK)
        return exit_code;
    args.config.map_size = args.map_size_mib * 1024 * 1024;
    args.config.input_name = args.file;

    bool use_stdin = strcmp(args.file, "-") == 0;
    int fd = use_stdin ? STDIN_FILENO : open(args.file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "pushbind: cannot open %s: %m\n", args.file);
        return PB_EXIT_FAILURE;
    }
    struct stat st;
    uint64_t total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;

    pb_progress progress;
    pb_progress_start(&progress, "import", isatty(STDERR_FILENO), total);
    pb_import_observer observer = {on_refused, on_progress, on_failed, &progress};
    pb_import_counts counts;
    int rc = pb_import_run(&args.config, fd, &observer, &counts);
    pb_progress_clear(&progress);
    if (!use_stdin)
        close(fd);
    if (rc == PB_STORE_ENOTFOUND) {
        fprintf(stderr, "pushbind: no app %llu (create it with 'pushbind app add')\n",
                (unsigned long long)args.config.access_id);
        return PB_EXIT_FAILURE;
    }
    double seconds = pb_progress_now() - progress.start;
    printf("%llu lines: %llu bound, %llu already present, %llu rejected in %.2f s (%.0f lines/s)\n",
           (unsigned long long)counts.lines, (unsigned long long)counts.bound, (unsigned long long)counts.present,
           (unsigned long long)counts.rejected, seconds, seconds > 0 ? (double)counts.lines / seconds : 0.0);
    return rc == 0 && counts.rejected == 0 ? PB_EXIT_OK : PB_EXIT_FAILURE;
}
