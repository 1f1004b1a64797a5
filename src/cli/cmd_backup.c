/* `pushbind backup`: a compacted, consistent copy of the store while it serves. */
#include <stdio.h>

#include "cli/options.h"
#include "store/lmdb/tools.h"

static const pb_setting backup_rows[] = {
    PB_CLI_ROW_DATA(pb_cli_tool_args, data_dir, true),
};

static int backup(pb_lmdb_tool *tool, const pb_cli_tool_args *args)
{
    if (pb_lmdb_backup(tool, args->path) != PB_STORE_OK) {
        fprintf(stderr, "pushbind: cannot back up: %s\n", pb_lmdb_tool_error(tool));
        return PB_EXIT_FAILURE;
    }
    printf("backed up %s to %s/data.mdb\n", args->data_dir, args->path);
    return PB_EXIT_OK;
}

static const pb_command backup_command = {
    .name = "backup",
    .intro = "usage: pushbind backup --data DIR DEST\n"
             "\n"
             "Copies the whole store (every app, secrets included) into directory DEST\n"
             "(created mode 0700; it must be new or empty) as DEST/data.mdb, compacted,\n"
             "from one snapshot: the copy holds every write acknowledged before the backup\n"
             "began. The server may keep serving meanwhile. To restore, stop the server and\n"
             "put DEST/data.mdb in place of DIR/data.mdb (remove DIR/lock.mdb).\n"
             "\n",
    PB_ROWS(backup_rows),
    .operand = "DEST",
    .operand_offset = offsetof(pb_cli_tool_args, path),
    .run = pb_cli_run_tool,
};

int pb_cli_backup(int argc, char **argv)
{
    pb_cli_tool_args args = {.act = backup};
    return pb_command_run(&backup_command, argc, argv, &args);
}
