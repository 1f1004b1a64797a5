/* pushbind: the command line. Picks the subcommand; each reads its own flags (cli/cli.h). */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

/* The subcommands, in the order --help lists them. */
static const struct {
    const char *name;
    const char *summary; /* what --help says of it, in one short line */
    int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", "serve the HTTP API", pb_cli_serve},
    {"app", "add, list or remove apps", pb_cli_app},
    {"key", "add, list or revoke an app's named keys", pb_cli_key},
    {"import", "load bindings (NDJSON, CSV)", pb_cli_import},
    {"export", "write an app's bindings", pb_cli_export},
    {"pull", "bindings from a live TPNS", pb_cli_pull},
    {"backup", "copy the store while it runs", pb_cli_backup},
    {"stats", "bindings per app, store size", pb_cli_stats},
};

static void print_usage(FILE *out)
{
    fputs("usage: pushbind COMMAND [options]\n"
          "\n"
          "pushbind keeps the bindings between an app's accounts and device tokens and\n"
          "serves them over the TPNS v3 account API.\n"
          "\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-7s %-28s (pushbind %s --help)\n", commands[i].name, commands[i].summary, commands[i].name);
    fputs("\npushbind --version prints the version.\n", out);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return PB_EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        print_usage(stdout);
        return PB_EXIT_OK;
    }
    if (strcmp(command, "--version") == 0 || strcmp(command, "version") == 0) {
        puts("pushbind " PB_VERSION);
        return PB_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(command, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "pushbind: unknown command '%s' (see 'pushbind --help')\n", command);
    return PB_EXIT_USAGE;
}
