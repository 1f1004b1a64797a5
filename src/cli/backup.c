/* `pushbind backup`: a compacted, consistent copy of the store while it serves. */
#include <stdio.h>

#include "cli/cli.h"
#include "store/lmdb_tools.h"

static const char backup_usage[] =
    "usage: pushbind backup --data DIR DEST\n"
    "\n"
    "Copies the whole store (every app, secrets included) into directory DEST\n"
    "(created mode 0700; it must be new or empty) as DEST/data.mdb, compacted,\n"
    "from one snapshot: the copy holds every write acknowledged before the backup\n"
    "began. The server may keep serving meanwhile. To restore, stop the server and\n"
    "put DEST/data.mdb in place of DIR/data.mdb (remove DIR/lock.mdb).\n";

int pb_cli_backup(int argc, char **argv)
{
    pb_cli_tool_args args;
    bool help = false;
    int exit_code = pb_cli_parse_tool_args("backup", argc, argv, PB_CLI_WANTS_PATH, &args, &help);
    if (help) {
        fputs(backup_usage, stdout);
        return PB_EXIT_OK;
    }
    if (exit_code != PB_EXIT_OK)
        return exit_code;
    pb_store *store;
    pb_store_session *session = pb_cli_open_session(args.data_dir, &store);
    if (session == NULL)
        return PB_EXIT_FAILURE;
    exit_code = PB_EXIT_OK;
    if (pb_lmdb_backup(session, args.path) != PB_STORE_OK) {
        fprintf(stderr, "pushbind: cannot back up: %s\n", pb_store_session_error(session));
        exit_code = PB_EXIT_FAILURE;
    } else {
        printf("backed up %s to %s/data.mdb\n", args.data_dir, args.path);
    }
    pb_store_session_close(session);
    pb_store_close(store);
    return exit_code;
}
