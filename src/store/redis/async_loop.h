/*
 * async_loop.h — hiredis's asynchronous API driven by an h2o event loop, so a
 * loop thread sends Redis commands and carries on with other work until the
 * replies arrive, instead of blocking in a round trip.
 *
 * A redisAsyncContext attached here is watched by the loop: hiredis's read
 * and write hooks become h2o socket notifications on the loop, and every
 * reply callback and the connect/disconnect callbacks run on the loop's
 * thread, from inside h2o_evloop_run. The context belongs to that loop and
 * thread only; nothing here takes a lock.
 *
 * Lifetime: the context is freed by hiredis — after redisAsyncFree, after
 * redisAsyncDisconnect once its pending replies arrived, or when the
 * connection fails. Either way every pending reply callback is called first
 * with a NULL reply, then the disconnect callback, and the attachment frees
 * itself (hiredis's cleanup hook). A caller who keeps a pointer to the context
 * clears it in the disconnect callback — and in the connect callback when its
 * status is REDIS_ERR: a connection that never opened gets no disconnect
 * callback.
 *
 * The loop watches a duplicate of hiredis's descriptor, so that h2o's close
 * and hiredis's close never close the same number twice (one of them might
 * otherwise close a descriptor another thread has just been given).
 */
#ifndef PB_STORE_REDIS_ASYNC_LOOP_H
#define PB_STORE_REDIS_ASYNC_LOOP_H

#include <h2o.h>
#include <hiredis/async.h>

/*
 * Attaches `ac` (fresh from redisAsyncConnect, not yet attached to any loop)
 * to `loop`. Returns 0, or -1 when `ac` is already attached, has failed
 * (ac->err) or a descriptor cannot be duplicated; on -1 the caller still owns
 * `ac` and frees it with redisAsyncFree.
 */
int pb_redis_async_attach(redisAsyncContext *ac, h2o_evloop_t *loop);

/*
 * Starts a non-blocking connection to host:port and attaches it to `loop`;
 * `on_connect` and `on_disconnect` (either may be NULL) get hiredis's status.
 * `data` is stored in ac->data for the callbacks. Returns the context, or
 * NULL when the connection cannot even be started (no memory, bad address,
 * no descriptor): nothing is left to free then.
 */
redisAsyncContext *pb_redis_async_connect(h2o_evloop_t *loop, const char *host, int port,
                                          redisConnectCallback *on_connect,
                                          redisDisconnectCallback *on_disconnect, void *data);

#endif
