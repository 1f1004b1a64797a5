/* worker.c — an event loop's message queue and spare blocks (see worker.h). */
#include <stdlib.h>

#include "http/worker.h"

/* Runs on the loop: each message's own work. */
static void on_messages(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    while (!h2o_linklist_is_empty(messages)) {
        pb_worker_message *message = H2O_STRUCT_FROM_MEMBER(pb_worker_message, super.link, messages->next);
        h2o_linklist_unlink(&message->super.link);
        message->on_loop(message);
    }
}

void pb_worker_post(pb_worker *worker, pb_worker_message *message)
{
    h2o_multithread_send_message(&worker->receiver, &message->super);
}

void pb_worker_attach(pb_worker *worker)
{
    worker->queue = h2o_multithread_create_queue(worker->h2o_ctx.loop);
    h2o_multithread_register_receiver(worker->queue, &worker->receiver, on_messages);
    worker->spare_exchanges = (h2o_mem_recycle_t){.max = PB_EXCHANGE_SPARES};
}

/*
 * The writer thread's last touch of the queue is the write() that wakes the
 * loop, and the loop sees a message only after that write: once every write
 * has come back, nothing else can reach the queue.
 */
void pb_worker_detach(pb_worker *worker)
{
    h2o_multithread_unregister_receiver(worker->queue, &worker->receiver);
    h2o_multithread_destroy_queue(worker->queue);
    worker->queue = NULL;
    while (worker->spare_exchanges.cnt != 0)
        free(h2o_mem_alloc_recycle(&worker->spare_exchanges, PB_EXCHANGE_BYTES));
}
