/* `pushbind pull`: the flags of a pull; the pull itself is pull/pull.h's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/options.h"
#include "pull/pull.h"

typedef struct pull_settings {
    pb_pull_config config;
    const char *accounts, *tokens;
    uint64_t rate;
} pull_settings;

_Static_assert(sizeof(pb_pull_auth) == sizeof(int), "--auth is stored as a choice's int");

static const char *const auth_methods[] = {[PB_PULL_AUTH_SIGNATURE] = "signature", [PB_PULL_AUTH_BASIC] = "basic",
                                           NULL};

#define S pull_settings
static const pb_setting pull_rows[] = {
    PB_SETTING_REQUIRED_S("from", "URL", S, config.source_url, "the source's base URL (http:// or https://)"),
    PB_CLI_ROW_ACCESS_ID(S, config.access_id, "the app, on the source and here"),
    PB_SETTING_REQUIRED_S("secret-key", "KEY", S, config.secret_key, "its SecretKey on the source"),
    PB_SETTING_C("auth", "signature|basic", S, config.auth, auth_methods, "how to authenticate", "signature"),
    PB_SETTING_S("cacert", "FILE", S, config.ca_file, "CA certificates (PEM) for an https source", NULL),
    PB_SETTING_S("accounts", "FILE", S, accounts, "the accounts to ask about, one a line ('-': stdin)", NULL),
    PB_SETTING_S("tokens", "FILE", S, tokens, "the tokens to ask about, one a line ('-': stdin)", NULL),
    PB_CLI_ROW_DATA(S, config.store.data_dir, false),
    PB_CLI_ROW_STORE(S, config.store.url),
    PB_SETTING_U("rate", "N", S, rate, 1, 100000, PB_PULL_DEFAULT_RATE, "requests per second, never more", NULL),
    PB_SETTING_U("batch", "N", S, config.batch, 1, PB_PULL_MAX_BATCH, PB_PULL_DEFAULT_BATCH, "items per request",
                 NULL),
    PB_SETTING_S("resume", "FILE", S, config.resume_path, "record finished lines in FILE, skip those it holds", NULL),
    PB_SETTING_S("report", "FILE", S, config.report_path, "write the failed lines there: number, reason, line", NULL),
    PB_CLI_ROWS_STORE_LIMITS(S, config.store.limits),
    PB_CLI_ROWS_TAG_LIMITS(S, config.api),
};
#undef S

static int check_pull(const pb_command *command, void *settings)
{
    pull_settings *s = settings;
    pb_pull_config *c = &s->config;
    if (strncmp(c->source_url, "http://", 7) != 0 && strncmp(c->source_url, "https://", 8) != 0)
        return pb_cli_usage_error("pull", "--from: '%s' is not an http:// or https:// URL", c->source_url);
    if (c->secret_key[0] == '\0')
        return pb_cli_usage_error("pull", "--secret-key KEY is required");
    if ((s->accounts == NULL) == (s->tokens == NULL))
        return pb_cli_usage_error("pull", "one of --accounts FILE and --tokens FILE is required");
    c->kind = s->accounts != NULL ? PB_PULL_BY_ACCOUNT : PB_PULL_BY_TOKEN;
    c->input_path = s->accounts != NULL ? s->accounts : s->tokens;
    c->rate = (double)s->rate;
    return pb_cli_check_store_flags("pull", c->store.data_dir, c->store.url);
}

static int run_pull(void *settings)
{
    const pull_settings *s = settings;
    return pb_pull_run(&s->config, NULL) == PB_PULL_OK ? PB_EXIT_OK : PB_EXIT_FAILURE;
}

static const pb_command pull_command = {
    .name = "pull",
    .intro = "usage: pushbind pull --from URL --access-id ID --secret-key KEY\n"
             "                     (--accounts FILE | --tokens FILE) (--data DIR | --store URL) [options]\n"
             "\n"
             "Asks a live TPNS-compatible service (TPNS itself, or another pushbind) about the\n"
             "accounts or tokens in FILE ('-' for stdin), one a line, and binds what it answers\n"
             "into the local store under the same app, in the source's creation order:\n"
             "  --accounts  A   or   {\"account\":\"A\",\"account_type\":N}\n"
             "  --tokens    T\n"
             "From a pushbind source the tokens' tags come too, in their order (TPNS keeps\n"
             "none it can read). The app must exist locally ('pushbind app add'). Re-running\n"
             "is harmless.\n"
             "A --config file keeps the secret key off the command line.\n"
             "\n",
    .outro = "\n"
             "Transport errors, HTTP 5xx, 1008004 and 1008028 are retried 5 times with back-off;\n"
             "then the batch fails (nothing of it is written) and the run goes on. 1008003 stops.\n"
             "Exit status: 0 every line was pulled (or was empty on the source), 1 some were\n"
             "not or the run stopped, 2 bad command line.\n",
    PB_ROWS(pull_rows),
    .takes_config = true,
    .check = check_pull,
    .run = run_pull,
};

int pb_cli_pull(int argc, char **argv)
{
    pull_settings s = {0};
    pb_pull_config_defaults(&s.config);
    s.config.store.map_size = (uint64_t)PB_DEFAULT_MAP_SIZE_MIB << 20;
    s.config.tty = isatty(STDERR_FILENO);
    return pb_command_run(&pull_command, argc, argv, &s);
}
