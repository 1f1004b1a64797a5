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

static int backup(pb_store_session *session, const void *arg)
{
    const pb_cli_tool_args *args = arg;
    if (pb_lmdb_backup(pb_store_session_lmdb(session), args->path) != PB_STORE_OK) {
        fprintf(stderr, "pushbind: cannot back up: %s\n", pb_store_session_error(session));
        return PB_EXIT_FAILURE;
    }
    printf("backed up %s to %s/data.mdb\n", args->data_dir, args->path);
    return PB_EXIT_OK;
}

int pb_cli_backup(int argc, char **argv)
{
    return pb_cli_run_tool("backup", backup_usage, PB_CLI_WANTS_PATH, argc, argv, backup);
}
