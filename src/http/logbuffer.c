/* One loop's access-log buffer and what writes it; see logbuffer.h. */
#include "http/logbuffer.h"

static void flush(pb_log_buffer *buffer)
{
    if (buffer->len != 0)
        pb_accesslog_write(buffer->log, buffer->data, buffer->len);
    buffer->len = 0;
    if (h2o_timeout_is_linked(&buffer->deadline))
        h2o_timeout_unlink(&buffer->deadline);
}

static void on_deadline(h2o_timeout_entry_t *entry)
{
    flush(H2O_STRUCT_FROM_MEMBER(pb_log_buffer, deadline, entry));
}

static void on_flush_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    pb_log_buffer *buffer = H2O_STRUCT_FROM_MEMBER(pb_log_buffer, flush_receiver, receiver);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    flush(buffer);
    sem_post(buffer->flushed);
}

void pb_log_buffer_attach(pb_log_buffer *buffer, const pb_accesslog *log, h2o_context_t *ctx, sem_t *flushed)
{
    buffer->log = log;
    buffer->loop = ctx->loop;
    buffer->flushed = flushed;
    buffer->len = 0;
    buffer->clock = (pb_accesslog_clock){0};
    buffer->deadline = (h2o_timeout_entry_t){.cb = on_deadline};
    buffer->flush_message = (h2o_multithread_message_t){{NULL, NULL}};
    h2o_timeout_init(ctx->loop, &buffer->timeout, PB_LOG_FLUSH_MS);
    h2o_multithread_register_receiver(ctx->queue, &buffer->flush_receiver, on_flush_message);
}

void pb_log_buffer_add(pb_log_buffer *buffer, const pb_request_record *record)
{
    if (buffer->log->format == PB_LOG_OFF)
        return;
    if (sizeof(buffer->data) - buffer->len < PB_ACCESSLOG_MAX_LINE)
        flush(buffer);
    buffer->len += pb_accesslog_format(buffer->log, &buffer->clock, record, buffer->data + buffer->len);
    if (!h2o_timeout_is_linked(&buffer->deadline))
        h2o_timeout_link(buffer->loop, &buffer->timeout, &buffer->deadline);
}

void pb_log_buffer_request_flush(pb_log_buffer *buffer)
{
    h2o_multithread_send_message(&buffer->flush_receiver, &buffer->flush_message);
}

void pb_log_buffer_detach(pb_log_buffer *buffer, h2o_context_t *ctx)
{
    flush(buffer);
    h2o_multithread_unregister_receiver(ctx->queue, &buffer->flush_receiver);
    h2o_timeout_dispose(buffer->loop, &buffer->timeout);
}
