/* `pushbind serve`: flags → configuration → store → server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "cli/options.h"
#include "cli/settings.h"
#include "common/duration.h"
#include "http/server.h"
#include "metrics/metrics.h"

typedef struct serve_settings {
    const char *data_dir, *url, *listen, *admin_listen;
    char *listen_host, *admin_host; /* malloc'ed from listen and admin_listen */
    int console; /* CONSOLE_ON or CONSOLE_OFF */
    uint64_t map_size_mib;
    pb_store_limits limits;
    int64_t binding_ttl_seconds; /* 0: off */
    pb_server_config server;
} serve_settings;

_Static_assert(sizeof(pb_log_format) == sizeof(int), "--log-format is stored as a choice's int");

static const char *const log_formats[] = {[PB_LOG_TEXT] = "text", [PB_LOG_JSON] = "json", [PB_LOG_OFF] = "off",
                                          NULL};

enum { CONSOLE_ON, CONSOLE_OFF };
static const char *const console_modes[] = {[CONSOLE_ON] = "on", [CONSOLE_OFF] = "off", NULL};

/* --binding-ttl: common/duration.h's form (30s, 45m, 12h, 270d). */
static const char *parse_binding_ttl(const char *text, void *field)
{
    return pb_duration_parse(text, field);
}

/* --trusted-proxy: parsed into the server's config (the field is a pb_trusted_proxies). */
static const char *parse_trusted_proxies(const char *text, void *field)
{
    return pb_trusted_proxies_parse(text, field);
}

#define S serve_settings
/* Every setting of `serve`, once. 0 is never a useful limit, so ranges start at 1 (but --auth-failures 0: off). */
static const pb_setting serve_rows[] = {
    PB_CLI_ROW_DATA(S, data_dir, false),
    PB_CLI_ROW_STORE(S, url),
    PB_SETTING_REQUIRED_S("listen", "HOST:PORT", S, listen, "address to listen on; port 0 picks a free port"),
    PB_SETTING_S("admin-listen", "HOST:PORT", S, admin_listen,
                 "operator's address: /console/, /metrics, /healthz move there from --listen", NULL),
    PB_SETTING_U("threads", "N", S, server.threads, 1, 64, 0, "event-loop threads", "one per CPU"),
    PB_SETTING_U("max-query-items", "N", S, server.api.max_query_items, 1, 100000, PB_DEFAULT_MAX_QUERY_ITEMS,
                 "items in a query list", NULL),
    PB_SETTING_U("max-batch-items", "N", S, server.api.max_batch_items, 1, 100000, PB_DEFAULT_MAX_BATCH_ITEMS,
                 "token_accounts elements in a batchoperate", NULL),
    PB_SETTING_U("max-list-items", "N", S, server.api.max_list_items, 1, 100000, PB_DEFAULT_MAX_LIST_ITEMS,
                 "token_list / account_list items in a batchoperate", NULL),
    PB_SETTING_U("max-tag-items", "N", S, server.api.max_tag_items, 1, 100000, PB_DEFAULT_MAX_TAG_ITEMS,
                 "items in a tag request's token_list / tag_list / tag_token_list", NULL),
    PB_CLI_ROWS_TAG_LIMITS(S, server.api),
    PB_CLI_ROWS_STORE_LIMITS(S, limits),
    PB_CLI_ROWS_BYTE_LIMITS(S, server.api),
    PB_SETTING_U("max-body-bytes", "N", S, server.max_body_bytes, 1, 1u << 30, PB_DEFAULT_MAX_BODY_BYTES,
                 "largest request body; larger is answered 413", NULL),
    PB_SETTING_U("timestamp-window", "N", S, server.timestamp_window, 0, 365u * 24 * 3600,
                 PB_AUTH_DEFAULT_WINDOW_SECONDS, "seconds a Signature's TimeStamp may differ from the clock", NULL),
    PB_SETTING_F("one-account-per-type", S, server.api.one_account_per_type,
                 "TPNS 2020 mode: one account per type per token, append acts as overwrite"),
    {.name = "binding-ttl", .arg = "DURATION", .type = PB_SETTING_CUSTOM, .offset = offsetof(S, binding_ttl_seconds),
     .parse = parse_binding_ttl,
     .help = "bindings not re-bound for this long expire (30s, 45m, 12h, 270d; at most 3650d)", .default_text = "off"},
    PB_CLI_ROW_MAP_SIZE(S, map_size_mib),
    PB_SETTING_U("max-connections", "N", S, server.max_connections, 1, 1000000, PB_DEFAULT_MAX_CONNECTIONS,
                 "open connections; more are closed at once", NULL),
    PB_SETTING_U("request-timeout", "N", S, server.request_timeout_seconds, 1, 3600,
                 PB_DEFAULT_REQUEST_TIMEOUT_SECONDS,
                 "seconds to send a whole request (also keep-alive idle and TLS handshake timeout)", NULL),
    PB_SETTING_U("max-header-bytes", "N", S, server.max_header_bytes, 256, 256 * 1024, PB_DEFAULT_MAX_HEADER_BYTES,
                 "request line and headers; larger is answered 431", NULL),
    PB_SETTING_U("rate-limit", "N", S, server.rate_limit, 1, 1000000000, 0,
                 "requests per second per app; over it, 1008028", "off"),
    PB_SETTING_U("rate-burst", "N", S, server.rate_burst, 1, 1000000000, 0, "requests an idle app may send at once",
                 "the rate"),
    PB_SETTING_U("auth-failures", "N", S, server.auth_failures, 0, 65534, PB_DEFAULT_AUTH_FAILURES,
                 "failed authentications a minute per client address; past it, 1008028 until the minute ends (0: off)",
                 NULL),
    {.name = "trusted-proxy", .arg = "CIDR[,CIDR...]", .type = PB_SETTING_CUSTOM,
     .offset = offsetof(S, server.trusted_proxies), .parse = parse_trusted_proxies,
     .help = "peers whose first X-Forwarded-For hop is the client (logs, --auth-failures)", .default_text = "none"},
    PB_SETTING_S("tls-cert", "FILE", S, server.tls_cert_file,
                 "PEM certificate chain: serve HTTPS (HTTP/2 and HTTP/1.1 by ALPN)", NULL),
    PB_SETTING_S("tls-key", "FILE", S, server.tls_key_file, "PEM private key of --tls-cert", NULL),
    PB_SETTING_C("log-format", "text|json|off", S, server.log_format, log_formats, "access log: one line per request",
                 "text"),
    PB_SETTING_S("log-file", "PATH", S, server.log_file, "access log file, reopened on SIGHUP", "stderr"),
    PB_SETTING_C("console", "on|off", S, console, console_modes, "the web console at /console/", "on"),
    PB_SETTING_S("environment", "NAME", S, server.api.environment,
                 "this deployment's name for people (production, staging…): the console's banner and tab title", "none"),
};
#undef S

/* An environment's name: 1 to 32 printable ASCII characters, so that it is safe in any log and page. */
static bool environment_is_valid(const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (name[i] < 0x20 || name[i] > 0x7e)
            return false;
    return n >= 1 && n <= 32;
}

/* The checks that tie settings together. Returns PB_EXIT_OK or the usage error's code. */
static int check_serve(const pb_command *command, void *settings)
{
    serve_settings *s = settings;
    int store_flags = pb_cli_check_store_flags("serve", s->data_dir, s->url);
    if (store_flags != PB_EXIT_OK)
        return store_flags;
    if ((s->server.tls_cert_file == NULL) != (s->server.tls_key_file == NULL))
        return pb_cli_usage_error("serve", "--tls-cert and --tls-key go together");
    if (s->server.rate_burst != 0 && s->server.rate_limit == 0)
        return pb_cli_usage_error("serve", "--rate-burst needs --rate-limit");
    if (s->server.rate_burst == 0)
        s->server.rate_burst = s->server.rate_limit;
    s->server.console_off = s->console == CONSOLE_OFF;
    if (s->server.api.environment != NULL && !environment_is_valid(s->server.api.environment))
        return pb_cli_usage_error("serve", "--environment: 1 to 32 printable ASCII characters");
    if (s->server.threads == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        s->server.threads = cpus < 1 ? 1 : cpus > 64 ? 64 : (unsigned)cpus;
    }
    if (pb_cli_parse_listen(s->listen, &s->listen_host, &s->server.listen_port) != 0)
        return pb_cli_usage_error("serve", "--listen: '%s' is not HOST:PORT", s->listen);
    s->server.listen_host = s->listen_host;
    if (s->admin_listen != NULL && pb_cli_parse_listen(s->admin_listen, &s->admin_host, &s->server.admin_port) != 0)
        return pb_cli_usage_error("serve", "--admin-listen: '%s' is not HOST:PORT", s->admin_listen);
    s->server.admin_host = s->admin_host;
    return PB_EXIT_OK;
}

static int run_serve(void *settings)
{
    serve_settings *s = settings;
    int exit_code = PB_EXIT_FAILURE;
    /* Created first and freed last: the store's writer thread reports into it too. */
    s->server.metrics = pb_metrics_new();
    pb_store *store = s->server.metrics == NULL
                          ? NULL
                          : pb_cli_open_store(s->data_dir, s->url, s->map_size_mib, &s->limits, s->binding_ttl_seconds,
                                              s->server.metrics);
    if (store != NULL) {
        exit_code = pb_server_run(&s->server, store);
        pb_store_close(store);
    }
    pb_metrics_free(s->server.metrics);
    return exit_code;
}

static const pb_command serve_command = {
    .name = "serve",
    .intro = "usage: pushbind serve (--data DIR | --store URL) --listen HOST:PORT [options]\n"
             "\n"
             "Serves the TPNS v3 account API until SIGTERM or SIGINT.\n"
             "\n",
    PB_ROWS(serve_rows),
    .takes_config = true,
    .check = check_serve,
    .run = run_serve,
};

int pb_cli_serve(int argc, char **argv)
{
    serve_settings s = {0};
    int exit_code = pb_command_run(&serve_command, argc, argv, &s);
    free(s.admin_host);
    free(s.listen_host);
    return exit_code;
}
