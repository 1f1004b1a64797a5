/*
 * options.h — what the subcommands share: parsing helpers, opening the store,
 * and the rows several of them take. Private to cli/.
 */
#ifndef PB_CLI_OPTIONS_H
#define PB_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "cli/cli.h"
#include "cli/settings.h"
#include "store/lmdb/tools.h"
#include "store/postgres/tools.h"
#include "store/store.h"

/* LMDB reserves address space, not disk: 64 GiB holds several hundred million bindings. */
#define PB_DEFAULT_MAP_SIZE_MIB 65536

/*
 * Prints "pushbind COMMAND: MESSAGE (see 'pushbind COMMAND --help')" on stderr
 * and returns PB_EXIT_USAGE.
 */
int pb_cli_usage_error(const char *command, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* Parses a decimal integer in [min, max]. Returns 0 or -1. */
int pb_cli_parse_uint(const char *text, uint64_t min, uint64_t max, uint64_t *value);

/*
 * Parses "HOST:PORT" or "[IPV6]:PORT" into a malloc'ed host and a port.
 * Returns 0 or -1.
 */
int pb_cli_parse_listen(const char *text, char **host, uint16_t *port);

/*
 * Opens the store named on the command line: Redis at `url` when it is not
 * NULL, else the embedded store in `data_dir`; `metrics` (may be NULL) gets the
 * store's commit timings. Returns NULL after printing why.
 */
pb_store *pb_cli_open_store(const char *data_dir, const char *url, uint64_t map_size_mib,
                            const pb_store_limits *limits, int64_t binding_ttl_seconds, pb_metrics *metrics);

/*
 * Checks that exactly one of --data DIR and --store URL was given. Returns
 * PB_EXIT_OK or the usage error's exit code (after printing it).
 */
int pb_cli_check_store_flags(const char *command, const char *data_dir, const char *url);

/*
 * Opens the store (`data_dir`, or Redis at `url`) with default limits and a session, calls
 * run(session, arg) and closes both. Returns PB_EXIT_FAILURE (after printing
 * why) when the store does not open, else what `run` returns.
 */
int pb_cli_with_session(const char *data_dir, const char *url, int (*run)(pb_store_session *session, const void *arg),
                        const void *arg);

/*
 * What the stores' tools take: --data DIR (or, for those with act_pg,
 * --store URL), and --access-id ID or a path for some.
 */
typedef struct pb_cli_tool_args pb_cli_tool_args;
struct pb_cli_tool_args {
    const char *command; /* for usage errors: "export" */
    const char *data_dir;
    const char *store_url;
    uint64_t access_id;
    const char *path;
    int (*act)(pb_lmdb_tool *tool, const pb_cli_tool_args *args); /* the tool's work: an exit code */
    int (*act_pg)(pb_pg_tool *tool, const pb_cli_tool_args *args); /* the same on PostgreSQL; NULL: no --store */
};

/*
 * A tool's pb_command run: opens the embedded store in data_dir
 * (store/lmdb/tools.h) and calls act(tool, args), or PostgreSQL at store_url
 * (store/postgres/tools.h) and calls act_pg(tool, args); then closes it.
 * `settings` is a pb_cli_tool_args. Returns the usage error's code when both
 * or neither store is named, PB_EXIT_FAILURE (after printing why) when the
 * store does not open, else what the act returns.
 */
int pb_cli_run_tool(void *settings);

/* PB_SETTING_CUSTOM's parse for an AccessId (auth.h's form) into a uint64_t. */
const char *pb_cli_parse_access_id(const char *text, void *field);

/*
 * A new secret key as TPNS issues them: 32 random lowercase hex digits and a
 * NUL into out. Returns 0, or -1 (after saying so on stderr) when no
 * randomness can be had.
 */
int pb_cli_random_secret(char out[33]);

/*
 * Rows several commands share, with one wording and one range. `required_`:
 * true when the command has no other way to name the store.
 */
#define PB_CLI_ROW_DATA(type_, field_, required_)                                                                 \
    {.name = "data", .arg = "DIR", .type = PB_SETTING_STRING, .offset = offsetof(type_, field_),                  \
     .help = "data directory of the embedded store (created when missing)", .required = required_}
#define PB_CLI_ROW_STORE(type_, field_)                                                                           \
    PB_SETTING_S("store", "URL", type_, field_,                                                                    \
                 "Redis or PostgreSQL instead: redis://HOST:PORT or redis-cluster://HOST:PORT[,...][/NAMESPACE]"     \
                 "[?wait=N|all]; postgresql://... (a libpq URI, plus pushbind_schema=NAME)", NULL)
#define PB_CLI_ROW_ACCESS_ID(type_, field_, help_)                                                                \
    {.name = "access-id", .arg = "ID", .type = PB_SETTING_CUSTOM, .offset = offsetof(type_, field_),              \
     .parse = pb_cli_parse_access_id, .help = help_, .required = true}
/* 0 is never a useful limit, so ranges start at 1. `limits_` is a pb_store_limits. */
#define PB_CLI_ROWS_STORE_LIMITS(type_, limits_)                                                                  \
    PB_SETTING_U("max-accounts-per-token", "N", type_, limits_.max_accounts_per_token, 1, 100000,                  \
                 PB_DEFAULT_MAX_ACCOUNTS_PER_TOKEN, "accounts one token may be bound to", NULL),                   \
    PB_SETTING_U("max-tokens-per-account", "N", type_, limits_.max_tokens_per_account, 1, 100000,                  \
                 PB_DEFAULT_MAX_TOKENS_PER_ACCOUNT, "tokens one account may be bound to", NULL)
/* `api_` is a pb_api_config. */
#define PB_CLI_ROWS_BYTE_LIMITS(type_, api_)                                                                      \
    PB_SETTING_U("max-account-bytes", "N", type_, api_.max_account_bytes, 1, PB_MAX_ACCOUNT_BYTES_CEILING,         \
                 PB_DEFAULT_MAX_ACCOUNT_BYTES, "longest account, in bytes", NULL),                                 \
    PB_SETTING_U("max-token-bytes", "N", type_, api_.max_token_bytes, 1, PB_MAX_TOKEN_BYTES_CEILING,               \
                 PB_DEFAULT_MAX_TOKEN_BYTES, "longest token, in bytes", NULL)
/* The limits a tag write meets, wherever tags are written (serve, import, pull). `api_` is a pb_api_config. */
#define PB_CLI_ROWS_TAG_LIMITS(type_, api_)                                                                       \
    PB_SETTING_U("max-tags-per-token", "N", type_, api_.max_tags_per_token, 1, 100000,                            \
                 PB_DEFAULT_MAX_TAGS_PER_TOKEN, "tags one token may hold", NULL),                                  \
    PB_SETTING_U("max-tags-per-app", "N", type_, api_.max_tags_per_app, 1, 100000000, PB_DEFAULT_MAX_TAGS_PER_APP, \
                 "distinct tags one app may hold", NULL),                                                          \
    PB_SETTING_U("max-tag-chars", "N", type_, api_.max_tag_chars, 1, PB_MAX_TAG_CHARS_CEILING,                     \
                 PB_DEFAULT_MAX_TAG_CHARS, "characters in a tag", NULL)
#define PB_CLI_ROW_MAP_SIZE(type_, field_)                                                                        \
    PB_SETTING_U("map-size-mib", "N", type_, field_, 1, 1u << 24, PB_DEFAULT_MAP_SIZE_MIB,                         \
                 "address space reserved for the embedded store's data, in MiB", NULL)

#endif
