/* `pushbind backup`: a compacted, consistent copy of the store while it serves. */
#include <stdio.h>

#include "cli/options.h"
#include "store/lmdb/tools.h"

static const char backup_usage[] =
    "usage: pushbind backup --data DIR DEST\n"
    "\n"
    "Copies the whole store (every app, secrets included) into directory DEST\n"
    "(created mode 0700; it must be new or empty) as DEST/data.mdb, compacted,\n"
    "from one snapshot: the copy holds every write acknowledged before the backup\n"
    "began. The server may keep serving meanwhile. To restore, stop the server and\n"
    "put DEST/data.mdb in place of DIR/data.mdb (remove DIR/lock.mdb).\n";

static int backup(pb_lmdb_tool *tool, const pb_cli_tool_args *args)
{
    if (pb_lmdb_backup(tool, args->path) != PB_STORE_OK) {
        fprintf(stderr, "pushbind: cannot back up: %s\n", pb_lmdb_tool_error(tool));
        return PB_EXIT_FAILURE;
    }
    printf("backed up %s to %s/data.mdb\n", args->data_dir, args->path);
    return PB_EXIT_OK;
}

int pb_cli_backup(int argc, char **argv)
{
    return pb_cli_run_tool("backup", backup_usage, PB_CLI_WANTS_PATH, argc, argv, backup);
}
