/*
 * logbuffer.h — the access log's buffer of one event loop.
 *
 * Each loop formats its lines into its own buffer, with no lock, and writes
 * the buffer with one write(2) when the next line would not fit in its
 * PB_LOG_BUFFER_BYTES, when its oldest line is PB_LOG_FLUSH_MS old (a timer
 * on the loop), when another thread asks (pb_log_buffer_request_flush(),
 * before a SIGHUP reopen) and when the loop ends (pb_log_buffer_detach()). A line is never split between two
 * writes, and one loop's lines reach the file in the order it answered them.
 * A crash loses what the buffers hold: at most PB_LOG_FLUSH_MS of lines per loop.
 *
 * Threads: everything but pb_log_buffer_request_flush() runs on the loop's
 * own thread.
 */
#ifndef PB_LOGBUFFER_H
#define PB_LOGBUFFER_H

#include <h2o.h>
#include <semaphore.h>

#include "http/accesslog.h"

/* A buffer is written once it is this full, less one line (a write never exceeds it). */
#define PB_LOG_BUFFER_BYTES (64 * 1024)

/* ...or once its oldest line is this old. */
#define PB_LOG_FLUSH_MS 100

typedef struct pb_log_buffer {
    const pb_accesslog *log; /* shared by every loop */
    h2o_loop_t *loop;
    h2o_timeout_t timeout;        /* PB_LOG_FLUSH_MS */
    h2o_timeout_entry_t deadline; /* linked while the buffer holds a line */
    h2o_multithread_receiver_t flush_receiver;
    h2o_multithread_message_t flush_message;
    sem_t *flushed; /* posted after each flush another thread asked for */
    pb_accesslog_clock clock;
    size_t len;
    char data[PB_LOG_BUFFER_BYTES];
} pb_log_buffer;

/*
 * Makes `buffer` the log buffer of the loop of `ctx`, writing to `log`;
 * `flushed` is posted each time a pb_log_buffer_request_flush() is done. Call
 * on the loop's thread once the context is initialised; `log` and `flushed`
 * outlive the buffer.
 */
void pb_log_buffer_attach(pb_log_buffer *buffer, const pb_accesslog *log, h2o_context_t *ctx, sem_t *flushed);

/* Adds the line for `record` (nothing when the log is off); may write the buffer. */
void pb_log_buffer_add(pb_log_buffer *buffer, const pb_request_record *record);

/*
 * From any thread: asks the loop to write its buffer; the loop posts
 * `flushed` once it has. Do not ask again before that post.
 */
void pb_log_buffer_request_flush(pb_log_buffer *buffer);

/* Writes what is left and undoes pb_log_buffer_attach(), on the loop's thread, after its last request. */
void pb_log_buffer_detach(pb_log_buffer *buffer, h2o_context_t *ctx);

#endif
