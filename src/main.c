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
    "  app     add, list or remove apps     (pushbind app --help)\n";

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
    if (strcmp(command, "serve") == 0)
        return pb_cli_serve(argc - 1, argv + 1);
    if (strcmp(command, "app") == 0)
        return pb_cli_app(argc - 1, argv + 1);
    fprintf(stderr, "pushbind: unknown command '%s' (see 'pushbind --help')\n", command);
    return PB_EXIT_USAGE;
}
