/*
 * options.h — the small parsing helpers the subcommands share. Private to cli/.
 */
#ifndef PB_CLI_OPTIONS_H
#define PB_CLI_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"
#include "store/lmdb/tools.h"
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

/* The flags the store tools share: --data DIR, optionally --access-id ID and one path. */
typedef struct pb_cli_tool_args {
    const char *data_dir;
    uint64_t access_id;
    const char *path;
} pb_cli_tool_args;

#define PB_CLI_WANTS_ACCESS_ID 1u
#define PB_CLI_WANTS_PATH 2u

/*
 * Parses `argv` (argv[0] is the command) for the tool flags named in `wants`
 * (PB_CLI_WANTS_*), plus --help (sets *help). Returns PB_EXIT_OK or
 * PB_EXIT_USAGE after printing the problem.
 */
int pb_cli_parse_tool_args(const char *command, int argc, char **argv, unsigned wants, pb_cli_tool_args *args,
                           bool *help);

/*
 * Opens the store (`data_dir`, or Redis at `url`) with default limits and a session, calls
 * run(session, arg) and closes both. Returns PB_EXIT_FAILURE (after printing
 * why) when the store does not open, else what `run` returns.
 */
int pb_cli_with_session(const char *data_dir, const char *url, int (*run)(pb_store_session *session, const void *arg),
                        const void *arg);

/*
 * Runs a tool of the embedded store: parses the flags named in `wants`
 * (printing `usage` for --help), opens the store in --data DIR
 * (store/lmdb/tools.h), calls run(tool, args) with the parsed
 * pb_cli_tool_args, and closes it. Returns PB_EXIT_USAGE for a bad command
 * line, PB_EXIT_FAILURE (after printing why) when the store does not open,
 * else what `run` returns.
 */
int pb_cli_run_tool(const char *command, const char *usage, unsigned wants, int argc, char **argv,
                    int (*run)(pb_lmdb_tool *tool, const pb_cli_tool_args *args));

#endif
