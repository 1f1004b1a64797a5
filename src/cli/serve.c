/* `pushbind serve`: flags → configuration → store → server. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/cli.h"
#include "cli/config.h"
#include "http/server.h"
#include "metrics/metrics.h"

static const char serve_usage[] =
    "usage: pushbind serve (--data DIR | --store URL) --listen HOST:PORT [options]\n"
    "\n"
    "Serves the TPNS v3 account API until SIGTERM or SIGINT.\n"
    "\n"
    "  --data DIR                  data directory of the embedded store (created when missing)\n"
    "  --store URL                 Redis instead: redis://HOST:PORT or\n"
    "                              redis-cluster://HOST:PORT[,HOST:PORT...], optionally\n"
    "                              followed by /NAMESPACE and ?wait=N (see README)\n"
    "  --listen HOST:PORT          address to listen on; port 0 picks a free port\n"
    "  --threads N                 event-loop threads (default: one per CPU)\n"
    "  --max-query-items N         items in a query list (default 1000)\n"
    "  --max-batch-items N         token_accounts elements in a batchoperate (default 20)\n"
    "  --max-list-items N          token_list / account_list items in a batchoperate (default 100)\n"
    "  --max-accounts-per-token N  accounts one token may be bound to (default 32)\n"
    "  --max-tokens-per-account N  tokens one account may be bound to (default 100)\n"
    "  --max-account-bytes N       longest account, in bytes (default 128, at most 400)\n"
    "  --max-token-bytes N         longest token, in bytes (default 256, at most 400)\n"
    "  --max-body-bytes N          largest request body; larger is answered 413 (default 1048576)\n"
    "  --timestamp-window N        seconds a Signature's TimeStamp may differ from the clock (default 600)\n"
    "  --one-account-per-type      TPNS 2020 mode: one account per type per token, append acts as overwrite\n"
    "  --map-size-mib N            address space reserved for the data, in MiB (default 65536)\n"
    "  --max-connections N         open connections; more are closed at once (default 10000)\n"
    "  --request-timeout N         seconds a connection may take to send a whole request, counted\n"
    "                              from its opening or previous answer; also the keep-alive idle\n"
    "                              timeout and the TLS handshake timeout (default 10)\n"
    "  --max-header-bytes N        request line and headers; larger is answered 431 (default 8192)\n"
    "  --rate-limit N              requests per second per app; over it, 1008028 (default: off)\n"
    "  --rate-burst N              requests an idle app may send at once (default: the rate)\n"
    "  --tls-cert FILE             PEM certificate chain: serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN)\n"
    "  --tls-key FILE              PEM private key of --tls-cert\n"
    "  --log-format text|json|off  access log: one line per request (default text)\n"
    "  --log-file PATH             access log file, reopened on SIGHUP (default stderr)\n"
    "  --console on|off            the web console at /console/ (default on)\n"
    "  --config FILE               settings as 'key = value' lines, keys as these flags;\n"
    "                              flags on the command line win\n"
    "  --help                      this text\n";

enum {
    OPT_DATA = 256,
    OPT_STORE,
    OPT_LISTEN,
    OPT_THREADS,
    OPT_MAX_QUERY_ITEMS,
    OPT_MAX_BATCH_ITEMS,
    OPT_MAX_LIST_ITEMS,
    OPT_MAX_ACCOUNTS_PER_TOKEN,
    OPT_MAX_TOKENS_PER_ACCOUNT,
    OPT_MAX_ACCOUNT_BYTES,
    OPT_MAX_TOKEN_BYTES,
    OPT_MAX_BODY_BYTES,
    OPT_TIMESTAMP_WINDOW,
    OPT_ONE_ACCOUNT_PER_TYPE,
    OPT_MAP_SIZE_MIB,
    OPT_MAX_CONNECTIONS,
    OPT_REQUEST_TIMEOUT,
    OPT_MAX_HEADER_BYTES,
    OPT_RATE_LIMIT,
    OPT_RATE_BURST,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_LOG_FORMAT,
    OPT_LOG_FILE,
    OPT_CONSOLE,
    OPT_CONFIG,
    OPT_HELP,
};

static const struct option serve_options[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"store", required_argument, NULL, OPT_STORE},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-query-items", required_argument, NULL, OPT_MAX_QUERY_ITEMS},
    {"max-batch-items", required_argument, NULL, OPT_MAX_BATCH_ITEMS},
    {"max-list-items", required_argument, NULL, OPT_MAX_LIST_ITEMS},
    {"max-accounts-per-token", required_argument, NULL, OPT_MAX_ACCOUNTS_PER_TOKEN},
    {"max-tokens-per-account", required_argument, NULL, OPT_MAX_TOKENS_PER_ACCOUNT},
    {"max-account-bytes", required_argument, NULL, OPT_MAX_ACCOUNT_BYTES},
    {"max-token-bytes", required_argument, NULL, OPT_MAX_TOKEN_BYTES},
    {"max-body-bytes", required_argument, NULL, OPT_MAX_BODY_BYTES},
    {"timestamp-window", required_argument, NULL, OPT_TIMESTAMP_WINDOW},
    {"one-account-per-type", no_argument, NULL, OPT_ONE_ACCOUNT_PER_TYPE},
    {"map-size-mib", required_argument, NULL, OPT_MAP_SIZE_MIB},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
    {"max-header-bytes", required_argument, NULL, OPT_MAX_HEADER_BYTES},
    {"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
    {"rate-burst", required_argument, NULL, OPT_RATE_BURST},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"log-file", required_argument, NULL, OPT_LOG_FILE},
    {"console", required_argument, NULL, OPT_CONSOLE},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* The range each numeric flag takes; 0 is never a useful limit. */
static const struct {
    int option;
    uint64_t min, max;
} numeric_ranges[] = {
    {OPT_THREADS, 1, 64},
    {OPT_MAX_QUERY_ITEMS, 1, 100000},
    {OPT_MAX_BATCH_ITEMS, 1, 100000},
    {OPT_MAX_LIST_ITEMS, 1, 100000},
    {OPT_MAX_ACCOUNTS_PER_TOKEN, 1, 100000},
    {OPT_MAX_TOKENS_PER_ACCOUNT, 1, 100000},
    {OPT_MAX_ACCOUNT_BYTES, 1, PB_MAX_ACCOUNT_BYTES_CEILING},
    {OPT_MAX_TOKEN_BYTES, 1, PB_MAX_TOKEN_BYTES_CEILING},
    {OPT_MAX_BODY_BYTES, 1, 1u << 30},
    {OPT_TIMESTAMP_WINDOW, 0, 365u * 24 * 3600},
    {OPT_MAP_SIZE_MIB, 1, 1u << 24},
    {OPT_MAX_CONNECTIONS, 1, 1000000},
    {OPT_REQUEST_TIMEOUT, 1, 3600},
    {OPT_MAX_HEADER_BYTES, 256, 256 * 1024},
    {OPT_RATE_LIMIT, 1, 1000000000},
    {OPT_RATE_BURST, 1, 1000000000},
};

static int parse_numeric(int option, const char *text, uint64_t *value)
{
    for (size_t i = 0; i < sizeof(numeric_ranges) / sizeof(numeric_ranges[0]); i++)
        if (numeric_ranges[i].option == option)
            return pb_cli_parse_uint(text, numeric_ranges[i].min, numeric_ranges[i].max, value);
    return -1;
}

static const char *option_name(int option)
{
    for (const struct option *o = serve_options; o->name != NULL; o++)
        if (o->val == option)
            return o->name;
    return "?";
}

static int parse_log_format(const char *text, pb_log_format *format)
{
    static const char *const names[] = {[PB_LOG_TEXT] = "text", [PB_LOG_JSON] = "json", [PB_LOG_OFF] = "off"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(text, names[i]) == 0) {
            *format = (pb_log_format)i;
            return 0;
        }
    return -1;
}

static int serve(int argc, char **argv)
{
    const char *data_dir = NULL, *url = NULL, *listen = NULL;
    uint64_t map_size_mib = PB_DEFAULT_MAP_SIZE_MIB;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    pb_server_config config = {
        .threads = cpus < 1 ? 1 : cpus > 64 ? 64 : (unsigned)cpus,
        .max_body_bytes = PB_DEFAULT_MAX_BODY_BYTES,
        .timestamp_window = PB_AUTH_DEFAULT_WINDOW_SECONDS,
        .max_connections = PB_DEFAULT_MAX_CONNECTIONS,
        .request_timeout_seconds = PB_DEFAULT_REQUEST_TIMEOUT_SECONDS,
        .max_header_bytes = PB_DEFAULT_MAX_HEADER_BYTES,
    };
    pb_api_config_defaults(&config.api);
    pb_store_limits limits = {.max_accounts_per_token = PB_DEFAULT_MAX_ACCOUNTS_PER_TOKEN,
                              .max_tokens_per_account = PB_DEFAULT_MAX_TOKENS_PER_ACCOUNT};

    opterr = 0;
    optind = 1;
    int option;
    while ((option = getopt_long(argc, argv, "", serve_options, NULL)) != -1) {
        uint64_t value = 0;
        switch (option) {
        case OPT_HELP:
            fputs(serve_usage, stdout);
            return PB_EXIT_OK;
        case OPT_DATA:
            data_dir = optarg;
            continue;
        case OPT_STORE:
            url = optarg;
            continue;
        case OPT_LISTEN:
            listen = optarg;
            continue;
        case OPT_ONE_ACCOUNT_PER_TYPE:
            config.api.one_account_per_type = true;
            continue;
        case OPT_TLS_CERT:
            config.tls_cert_file = optarg;
            continue;
        case OPT_TLS_KEY:
            config.tls_key_file = optarg;
            continue;
        case OPT_LOG_FORMAT:
            if (parse_log_format(optarg, &config.log_format) != 0)
                return pb_cli_usage_error("serve", "--log-format: '%s' is not text, json or off", optarg);
            continue;
        case OPT_LOG_FILE:
            config.log_file = optarg;
            continue;
        case OPT_CONSOLE:
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0)
                return pb_cli_usage_error("serve", "--console: '%s' is not on or off", optarg);
            config.console_off = strcmp(optarg, "off") == 0;
            continue;
        case OPT_CONFIG: /* spliced in by pb_cli_config_apply() */
            continue;
        case '?':
            return pb_cli_usage_error("serve", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
        if (parse_numeric(option, optarg, &value) != 0)
            return pb_cli_usage_error("serve", "--%s: '%s' is not a number in range", option_name(option), optarg);
        switch (option) {
        case OPT_THREADS: config.threads = (unsigned)value; break;
        case OPT_MAX_QUERY_ITEMS: config.api.max_query_items = (uint32_t)value; break;
        case OPT_MAX_BATCH_ITEMS: config.api.max_batch_items = (uint32_t)value; break;
        case OPT_MAX_LIST_ITEMS: config.api.max_list_items = (uint32_t)value; break;
        case OPT_MAX_ACCOUNTS_PER_TOKEN: config.api.max_accounts_per_token = limits.max_accounts_per_token = (uint32_t)value; break;
        case OPT_MAX_TOKENS_PER_ACCOUNT: limits.max_tokens_per_account = (uint32_t)value; break;
        case OPT_MAX_ACCOUNT_BYTES: config.api.max_account_bytes = (uint32_t)value; break;
        case OPT_MAX_TOKEN_BYTES: config.api.max_token_bytes = (uint32_t)value; break;
        case OPT_MAX_BODY_BYTES: config.max_body_bytes = (size_t)value; break;
        case OPT_TIMESTAMP_WINDOW: config.timestamp_window = (uint32_t)value; break;
        case OPT_MAP_SIZE_MIB: map_size_mib = value; break;
        case OPT_MAX_CONNECTIONS: config.max_connections = (unsigned)value; break;
        case OPT_REQUEST_TIMEOUT: config.request_timeout_seconds = (uint32_t)value; break;
        case OPT_MAX_HEADER_BYTES: config.max_header_bytes = (size_t)value; break;
        case OPT_RATE_LIMIT: config.rate_limit = (uint32_t)value; break;
        case OPT_RATE_BURST: config.rate_burst = (uint32_t)value; break;
        }
    }
    if (optind < argc)
        return pb_cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    int store_flags = pb_cli_check_store_flags("serve", data_dir, url);
    if (store_flags != PB_EXIT_OK)
        return store_flags;
    if (listen == NULL)
        return pb_cli_usage_error("serve", "--listen HOST:PORT is required");
    if ((config.tls_cert_file == NULL) != (config.tls_key_file == NULL))
        return pb_cli_usage_error("serve", "--tls-cert and --tls-key go together");
    if (config.rate_burst != 0 && config.rate_limit == 0)
        return pb_cli_usage_error("serve", "--rate-burst needs --rate-limit");
    if (config.rate_burst == 0)
        config.rate_burst = config.rate_limit;
    char *host;
    if (pb_cli_parse_listen(listen, &host, &config.listen_port) != 0)
        return pb_cli_usage_error("serve", "--listen: '%s' is not HOST:PORT", listen);
    config.listen_host = host;
    config.store_limits = limits;

    int exit_code = PB_EXIT_FAILURE;
    /* Created first and freed last: the store's writer thread reports into it too. */
    config.metrics = pb_metrics_new();
    pb_store *store = config.metrics == NULL ? NULL
                                             : pb_cli_open_store(data_dir, url, map_size_mib, &limits, config.metrics);
    if (store != NULL) {
        exit_code = pb_server_run(&config, store);
        pb_store_close(store);
    }
    pb_metrics_free(config.metrics);
    free(host);
    return exit_code;
}

int pb_cli_serve(int argc, char **argv)
{
    pb_cli_argv args;
    int exit_code = pb_cli_config_apply("serve", serve_options, argc, argv, &args);
    if (exit_code != PB_EXIT_OK)
        return exit_code;
    exit_code = serve(args.argc, args.argv);
    pb_cli_argv_free(&args);
    return exit_code;
}
