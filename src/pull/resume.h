/*
 * resume.h — the resume file: which input lines earlier runs finished.
 *
 * Append-only text, one range of line numbers a line ("17" or "17-42"),
 * after a comment line naming the file's purpose. A record counts only once
 * its newline is there, so a run killed while writing loses at most the
 * record it was writing (those lines are pulled again, harmlessly).
 */
#ifndef PB_PULL_RESUME_H
#define PB_PULL_RESUME_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct pb_pull_range {
    uint64_t first, last;
} pb_pull_range;

typedef struct pb_pull_resume {
    pb_pull_range *ranges; /* sorted by first, merged */
    size_t n, next;        /* next: where the lookup of increasing lines stands */
    int fd;                /* -1: no file */
} pb_pull_resume;

/*
 * Opens (creating) `path` for appending and loads what it records. `path`
 * NULL gives an empty record that writes nothing. Returns 0, or -1 after
 * printing why on stderr.
 */
int pb_pull_resume_open(pb_pull_resume *resume, const char *path);

/*
 * Whether line `number` was finished by an earlier run. Numbers must be
 * asked in increasing order.
 */
bool pb_pull_resume_done(pb_pull_resume *resume, uint64_t number);

/*
 * Records lines numbers[0..n-1] (increasing) as finished, and fsyncs.
 * Returns 0, or -1 with errno set.
 */
int pb_pull_resume_record(pb_pull_resume *resume, const uint64_t *numbers, size_t n);

void pb_pull_resume_close(pb_pull_resume *resume);

#endif
