/*
 * cli.h — the subcommands behind `pushbind COMMAND`: what main.c calls. Each
 * is a table of settings rows (cli/settings.h: flags, --help, --config keys,
 * range checks) and one call into the layer that does the work.
 *
 * Exit codes: 0 success, 1 the command ran and failed (message on stderr),
 * 2 the command line was wrong (one line on stderr naming the problem).
 */
#ifndef PB_CLI_H
#define PB_CLI_H

#define PB_EXIT_OK 0
#define PB_EXIT_FAILURE 1
#define PB_EXIT_USAGE 2

/* `pushbind serve …`; argv[0] is "serve". */
int pb_cli_serve(int argc, char **argv);

/* `pushbind app add|list|remove …`; argv[0] is "app". */
int pb_cli_app(int argc, char **argv);

/* `pushbind key add|list|revoke …`: an app's named keys; argv[0] is "key". */
int pb_cli_key(int argc, char **argv);

/* `pushbind import …`: bindings from NDJSON or CSV into the store. */
int pb_cli_import(int argc, char **argv);

/* `pushbind export …`: an app's bindings as NDJSON, in creation order. */
int pb_cli_export(int argc, char **argv);

/* `pushbind pull …`: bindings from a live TPNS-compatible service (pull/pull.h). */
int pb_cli_pull(int argc, char **argv);

/* `pushbind backup …`: a compacted, consistent copy of the store. */
int pb_cli_backup(int argc, char **argv);

/* `pushbind stats …`: apps, bindings and the store's size. */
int pb_cli_stats(int argc, char **argv);

#endif
