/*
 * store/redis/net/h2o_adapter.h — hiredis's asynchronous API driven by an h2o
 * event loop, so a loop thread sends Redis commands and carries on with other
 * work until the replies arrive, instead of blocking in a round trip.
 *
 * The shape, for any client library that does its own reads and writes on a
 * descriptor it owns (hiredis here): the loop watches that descriptor with an
 * h2o socket created with H2O_SOCKET_FLAG_DONT_READ, so h2o only says
 * "readable" or "writable" and the library does the I/O itself;
 *   - the library's "want to read" hook starts h2o's read notification and
 *     the callback calls the library's read handler (redisAsyncHandleRead);
 *   - its "want to write" hook arms h2o's one-shot write notification
 *     (h2o_socket_notify_write), whose callback calls its write handler;
 *   - its cleanup hook closes the h2o socket.
 * h2o_adapter.c says why each hook is shaped as it is.
 *
 * A redisAsyncContext attached here is watched by the loop: every reply
 * callback and the connect/disconnect callbacks run on the loop's thread,
 * from inside h2o_evloop_run. The context belongs to that loop and thread
 * only; nothing here takes a lock.
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
#ifndef PB_STORE_REDIS_NET_H2O_ADAPTER_H
#define PB_STORE_REDIS_NET_H2O_ADAPTER_H

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
