/* `pushbind pull`: the flags of a pull; the pull itself is pull/pull.h's. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/options.h"
#include "pull/pull.h"

static const char pull_usage[] =
    "usage: pushbind pull --from URL --access-id ID --secret-key KEY\n"
    "                     (--accounts FILE | --tokens FILE) (--data DIR | --store URL) [options]\n"
    "\n"
    "Asks a live TPNS-compatible service (TPNS itself, or another pushbind) about the\n"
    "accounts or tokens in FILE ('-' for stdin), one a line, and binds what it answers\n"
    "into the local store under the same app, in the source's creation order:\n"
    "  --accounts  A   or   {\"account\":\"A\",\"account_type\":N}\n"
    "  --tokens    T\n"
    "The app must exist locally ('pushbind app add'). Re-running is harmless.\n"
    "\n"
    "  --from URL                  the source's base URL (http:// or https://)\n"
    "  --access-id ID              the app, on the source and here\n"
    "  --secret-key KEY            its SecretKey on the source\n"
    "  --auth signature|basic      how to authenticate (default signature)\n"
    "  --cacert FILE               CA certificates (PEM) for an https source\n"
    "  --rate N                    requests per second, never more (default 10)\n"
    "  --batch N                   items per request, 1..1000 (default 100)\n"
    "  --resume FILE               record finished lines in FILE, skip those it holds\n"
    "  --report FILE               write the failed lines there: number, reason, line\n"
    "  --max-accounts-per-token N  as for serve (default 32)\n"
    "  --max-tokens-per-account N  as for serve (default 100)\n"
    "  --help                      this text\n"
    "\n"
    "Transport errors, HTTP 5xx, 1008004 and 1008028 are retried 5 times with back-off;\n"
    "then the batch fails (nothing of it is written) and the run goes on. 1008003 stops.\n"
    "Exit status: 0 every line was pulled (or was empty on the source), 1 some were\n"
    "not or the run stopped, 2 bad command line.\n";

enum { OPT_FROM = 256, OPT_ACCESS_ID, OPT_SECRET, OPT_AUTH, OPT_CACERT, OPT_ACCOUNTS, OPT_TOKENS, OPT_DATA,
       OPT_STORE, OPT_RATE, OPT_BATCH, OPT_RESUME, OPT_REPORT, OPT_MAX_APT, OPT_MAX_TPA, OPT_HELP };

static int parse_number(const char *flag, const char *text, uint64_t max, uint64_t *value)
{
    if (pb_cli_parse_uint(text, 1, max, value) != 0)
        return pb_cli_usage_error("pull", "%s: '%s' is not a number in 1..%llu", flag, text, (unsigned long long)max);
    return PB_EXIT_OK;
}

static int parse_pull_args(int argc, char **argv, pb_pull_config *c, bool *help)
{
    static const struct option options[] = {
        {"from", required_argument, NULL, OPT_FROM},       {"access-id", required_argument, NULL, OPT_ACCESS_ID},
        {"secret-key", required_argument, NULL, OPT_SECRET}, {"auth", required_argument, NULL, OPT_AUTH},
        {"cacert", required_argument, NULL, OPT_CACERT},   {"accounts", required_argument, NULL, OPT_ACCOUNTS},
        {"tokens", required_argument, NULL, OPT_TOKENS},   {"data", required_argument, NULL, OPT_DATA},
        {"store", required_argument, NULL, OPT_STORE},     {"rate", required_argument, NULL, OPT_RATE},
        {"batch", required_argument, NULL, OPT_BATCH},     {"resume", required_argument, NULL, OPT_RESUME},
        {"report", required_argument, NULL, OPT_REPORT},
        {"max-accounts-per-token", required_argument, NULL, OPT_MAX_APT},
        {"max-tokens-per-account", required_argument, NULL, OPT_MAX_TPA},
        {"help", no_argument, NULL, OPT_HELP},             {NULL, 0, NULL, 0},
    };
    const char *access_id = NULL, *accounts = NULL, *tokens = NULL;
    uint64_t value = 0;
    int rc = PB_EXIT_OK;
    opterr = 0;
    optind = 1;
    int option;
    while (rc == PB_EXIT_OK && (option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (option) {
        case OPT_HELP: *help = true; return PB_EXIT_OK;
        case OPT_FROM: c->source_url = optarg; break;
        case OPT_ACCESS_ID: access_id = optarg; break;
        case OPT_SECRET: c->secret_key = optarg; break;
        case OPT_CACERT: c->ca_file = optarg; break;
        case OPT_ACCOUNTS: accounts = optarg; break;
        case OPT_TOKENS: tokens = optarg; break;
        case OPT_DATA: c->store.data_dir = optarg; break;
        case OPT_STORE: c->store.url = optarg; break;
        case OPT_RESUME: c->resume_path = optarg; break;
        case OPT_REPORT: c->report_path = optarg; break;
        case OPT_AUTH:
            if (strcmp(optarg, "signature") == 0)
                c->auth = PB_PULL_AUTH_SIGNATURE;
            else if (strcmp(optarg, "basic") == 0)
                c->auth = PB_PULL_AUTH_BASIC;
            else
                rc = pb_cli_usage_error("pull", "--auth: '%s' is not signature or basic", optarg);
            break;
        case OPT_RATE:
            if ((rc = parse_number("--rate", optarg, 100000, &value)) == PB_EXIT_OK)
                c->rate = (double)value;
            break;
        case OPT_BATCH:
            if ((rc = parse_number("--batch", optarg, PB_PULL_MAX_BATCH, &value)) == PB_EXIT_OK)
                c->batch = (uint32_t)value;
            break;
        case OPT_MAX_APT:
            if ((rc = parse_number("--max-accounts-per-token", optarg, 10000000, &value)) == PB_EXIT_OK)
                c->store.limits.max_accounts_per_token = (uint32_t)value;
            break;
        case OPT_MAX_TPA:
            if ((rc = parse_number("--max-tokens-per-account", optarg, 10000000, &value)) == PB_EXIT_OK)
                c->store.limits.max_tokens_per_account = (uint32_t)value;
            break;
        default: rc = pb_cli_usage_error("pull", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (rc != PB_EXIT_OK)
        return rc;
    if (optind < argc)
        return pb_cli_usage_error("pull", "unexpected argument '%s'", argv[optind]);
    if (c->source_url == NULL || (strncmp(c->source_url, "http://", 7) != 0 && strncmp(c->source_url, "https://", 8) != 0))
        return pb_cli_usage_error("pull", "--from URL (http:// or https://) is required");
    if (access_id == NULL || pb_auth_parse_access_id(pb_str_from_cstr(access_id), &c->access_id) != 0)
        return pb_cli_usage_error("pull", "--access-id ID (1 to 18 decimal digits) is required");
    if (c->secret_key == NULL || c->secret_key[0] == '\0')
        return pb_cli_usage_error("pull", "--secret-key KEY is required");
    if ((accounts == NULL) == (tokens == NULL))
        return pb_cli_usage_error("pull", "one of --accounts FILE and --tokens FILE is required");
    c->kind = accounts != NULL ? PB_PULL_BY_ACCOUNT : PB_PULL_BY_TOKEN;
    c->input_path = accounts != NULL ? accounts : tokens;
    return pb_cli_check_store_flags("pull", c->store.data_dir, c->store.url);
}

int pb_cli_pull(int argc, char **argv)
{
    pb_pull_config config;
    pb_pull_config_defaults(&config);
    config.store.map_size = (uint64_t)PB_DEFAULT_MAP_SIZE_MIB << 20;
    config.tty = isatty(STDERR_FILENO);
    bool help = false;
    int exit_code = parse_pull_args(argc, argv, &config, &help);
    if (help) {
        fputs(pull_usage, stdout);
        return PB_EXIT_OK;
    }
    if (exit_code != PB_EXIT_OK)
        return exit_code;
    return pb_pull_run(&config, NULL) == PB_PULL_OK ? PB_EXIT_OK : PB_EXIT_FAILURE;
}
