/*
 * writeback.h — asking the kernel, every so often, to start writing a file's
 * dirty pages to disk while a long write goes on.
 *
 * A bulk load dirties gigabytes in the page cache before its one fsync, and
 * the kernel starts writeback on its own only past dirty_background_ratio
 * (10% of memory by default): the fsync then waits for the whole disk write,
 * with the CPU idle. Started early, the disk works beside the CPU and the
 * fsync finds little left. This only starts writeback
 * (sync_file_range(SYNC_FILE_RANGE_WRITE)): it makes nothing durable, and
 * the caller's fsync is still what does.
 */
#ifndef PB_WRITEBACK_H
#define PB_WRITEBACK_H

#include <pthread.h>
#include <stdbool.h>

typedef struct pb_writeback {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t stop_changed;
    bool stop;
    int fd;
    unsigned every_ms;
} pb_writeback;

/*
 * Starts a thread that starts writeback of `fd` every `every_ms` until
 * pb_writeback_stop(). Returns false when the thread could not start (the
 * caller goes on without it; nothing to stop).
 */
bool pb_writeback_start(pb_writeback *writeback, int fd, unsigned every_ms);

/* Stops and joins the thread. */
void pb_writeback_stop(pb_writeback *writeback);

#endif
