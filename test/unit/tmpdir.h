/*
 * tmpdir.h — the unit tests' throwaway data directories: removed with the
 * files the store left in them (data.mdb, lock.mdb), however many there are.
 */
#ifndef PB_TEST_TMPDIR_H
#define PB_TEST_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

static inline void pb_test_remove_dir(const char *dir_path)
{
    DIR *dir = opendir(dir_path);
    for (struct dirent *e; dir != NULL && (e = readdir(dir)) != NULL;) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", dir_path, e->d_name);
        if (e->d_name[0] != '.')
            unlink(path);
    }
    if (dir != NULL)
        closedir(dir);
    rmdir(dir_path);
}

#endif
