/*
 * writeback.c — see writeback.h.
 */
#include <errno.h>
#include <fcntl.h>

#include "common/clock.h"
#include "common/writeback.h"

static void *writeback_main(void *arg)
{
    pb_writeback *w = arg;
    pthread_mutex_lock(&w->lock);
    while (!w->stop) {
        struct timespec until = pb_clock_deadline_ms(w->every_ms);
        if (pthread_cond_timedwait(&w->stop_changed, &w->lock, &until) == ETIMEDOUT && !w->stop) {
            pthread_mutex_unlock(&w->lock);
            sync_file_range(w->fd, 0, 0, SYNC_FILE_RANGE_WRITE); /* advice: a failure changes nothing */
            pthread_mutex_lock(&w->lock);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

bool pb_writeback_start(pb_writeback *w, int fd, unsigned every_ms)
{
    *w = (pb_writeback){.stop = false, .fd = fd, .every_ms = every_ms};
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->stop_changed, NULL);
    if (pthread_create(&w->thread, NULL, writeback_main, w) == 0)
        return true;
    pthread_cond_destroy(&w->stop_changed);
    pthread_mutex_destroy(&w->lock);
    return false;
}

void pb_writeback_stop(pb_writeback *w)
{
    pthread_mutex_lock(&w->lock);
    w->stop = true;
    pthread_cond_signal(&w->stop_changed);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->stop_changed);
    pthread_mutex_destroy(&w->lock);
}
