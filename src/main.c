/* pushbind: the command line. Picks the subcommand; each parses its own flags. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char usage[] =
    "usage: pushbind COMMAND [options]\n"
    "\n"
    "pushbind keeps the bindings between an app's accounts and device tokens and\n"
    "serves them over the TPNS v3 account API.\n"
    "\n"
    "commands:\n"
    "  serve   serve the HTTP API           (pushbind serve --help)\n"
    "  app     add, list or remove apps     (pushbind app --help)\n"
    "  import  load bindings (NDJSON, CSV)  (pushbind import --help)\n"
    "  export  write an app's bindings      (pushbind export --help)\n"
    "  pull    bindings from a live TPNS    (pushbind pull --help)\n"
    "  backup  copy the store while it runs (pushbind backup --help)\n"
    "  stats   bindings per app, store size (pushbind stats --help)\n"
    "\n"
    "pushbind --version prints the version.\n";

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"serve", pb_cli_serve}, {"app", pb_cli_app},       {"import", pb_cli_import},
    {"export", pb_cli_export}, {"backup", pb_cli_backup}, {"stats", pb_cli_stats},
    {"pull", pb_cli_pull},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return PB_EXIT_USAGE;
    }
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0 || strcmp(command, "help") == 0) {
        fputs(usage, stdout);
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
