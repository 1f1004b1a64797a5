/*
 * common/progress.h — how far a long command (import, pull) has come, on stderr.
 *
 * On a terminal a bar redrawn in place: done, rate, percent and ETA (when the
 * total is known). Elsewhere (a log, a pipe) one plain line every
 * PB_PROGRESS_PLAIN_SECONDS, so logs stay readable.
 */
#ifndef PB_PROGRESS_H
#define PB_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#define PB_PROGRESS_TTY_SECONDS 0.2
#define PB_PROGRESS_PLAIN_SECONDS 10.0

typedef struct pb_progress {
    const char *what;     /* "import" */
    bool tty;
    uint64_t total_bytes; /* 0: unknown (a pipe), no percent or ETA */
    double start, last;   /* monotonic seconds */
    bool drawn;           /* a bar is on the terminal's last line */
    uint64_t errors;      /* shown when not 0; the caller keeps it current */
    bool show_items;      /* the bar with a percent shows the items done too */
    char note[64];        /* shown after the rest when not ""; the caller keeps it current */
} pb_progress;

/* Starts the clock. `tty` says whether stderr is a terminal. */
void pb_progress_start(pb_progress *progress, const char *what, bool tty, uint64_t total_bytes);

/* Monotonic seconds. */
double pb_progress_now(void);

/*
 * Reports `lines` read (`bytes` of the total) and `items` done, when the last
 * report is old enough. Cheap to call often.
 */
void pb_progress_update(pb_progress *progress, uint64_t lines, uint64_t items, uint64_t bytes);

/*
 * On a terminal, draws the bar now however recent the last one was: what to
 * keep in view through a long wait with nothing new to report. Elsewhere it
 * does nothing, so that a log gets its periodic lines only.
 */
void pb_progress_show(pb_progress *progress, uint64_t lines, uint64_t items, uint64_t bytes);

/* Clears the bar, if one is drawn, so that the next line starts clean. */
void pb_progress_clear(pb_progress *progress);

#endif
