/*
 * config_file.h — `--config FILE`: the same settings as the flags, one per line.
 *
 *   # comment
 *   listen = 0.0.0.0:8080
 *   data = /var/lib/pushbind
 *   one-account-per-type = true
 *
 * A key is a long flag's name without "--"; a flag that takes no value takes
 * true or false. The file's settings are placed before the command line's
 * flags, so a flag given on the command line wins (the last value of a flag
 * counts).
 */
#ifndef PB_CLI_CONFIG_FILE_H
#define PB_CLI_CONFIG_FILE_H

#include <getopt.h>

/* The command line with the config file's settings spliced in. */
typedef struct pb_cli_argv {
    int argc;
    char **argv;   /* argv[argc] is NULL */
    char **owned;  /* the strings made from the file */
    int n_owned;
} pb_cli_argv;

/*
 * Looks for `--config FILE` (or `--config=FILE`) in argv[1..] and builds
 * out: argv[0], the file's settings as flags, then the rest of argv without
 * --config. Keys are checked against `options` (getopt's table). Without
 * --config, out is argv as given. Returns 0, or PB_EXIT_USAGE / PB_EXIT_FAILURE
 * after printing "pushbind COMMAND: FILE:LINE: problem".
 */
int pb_cli_config_apply(const char *command, const struct option *options, int argc, char **argv, pb_cli_argv *out);

/* Frees what pb_cli_config_apply() built (not the original strings). */
void pb_cli_argv_free(pb_cli_argv *args);

#endif
