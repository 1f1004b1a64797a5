/*
 * endpoints.h — the h2o handlers: authentication, decode, endpoint, encode.
 *
 * Internal to the HTTP layer. A handler finds its thread's state through the
 * h2o context it runs on (pb_worker embeds it).
 */
#ifndef PB_ENDPOINTS_H
#define PB_ENDPOINTS_H

#include <h2o.h>

#include "http/server.h"

/* The per-thread state of the server. */
typedef struct pb_worker {
    h2o_context_t h2o_ctx;
    const pb_server_config *config;
    pb_store_session *session;
    /* Finished writes come back to the loop through this (from the store's writer thread). */
    h2o_multithread_receiver_t writes_done;
    size_t writes_pending; /* handed to the store and not yet back; loop thread only */
} pb_worker;

/* Registers the API paths, /healthz and a 404 for everything else. */
void pb_endpoints_register(h2o_hostconf_t *host);

/*
 * Connects a worker whose h2o context is initialised to its loop, so that
 * the writes it hands to the store can finish there. Call on the thread that
 * will run the loop, or before it starts.
 */
void pb_worker_attach(pb_worker *worker);

/*
 * Undoes pb_worker_attach(). Only once writes_pending is 0: a write still in
 * the store would answer through the receiver this removes.
 */
void pb_worker_detach(pb_worker *worker);

#endif
