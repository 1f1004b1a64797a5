/*
 * store/redis/net/h2o_adapter.c — hiredis's event hooks on h2o's evloop. See h2o_adapter.h.
 *
 * h2o 2.2.5's socket with H2O_SOCKET_FLAG_DONT_READ only tells us the
 * descriptor is readable; hiredis does the read itself. Write readiness is a
 * one-shot notification in h2o (h2o_socket_notify_write may not be called
 * while one is pending), while hiredis asks for writes with idempotent
 * add/del hooks: addWrite arms the notification unless it is armed already,
 * and delWrite leaves an armed one in place — a spurious call of
 * redisAsyncHandleWrite with an empty output buffer writes nothing.
 */
#include "store/redis/net/h2o_adapter.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct pb_redis_async_io {
    redisAsyncContext *ac;
    h2o_socket_t *sock; /* watches a dup of ac->c.fd */
} pb_redis_async_io;

static void on_readable(h2o_socket_t *sock, const char *err)
{
    pb_redis_async_io *io = sock->data;
    /* an error shows in hiredis's own read; it then frees the context */
    redisAsyncHandleRead(io->ac);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    pb_redis_async_io *io = sock->data;
    redisAsyncHandleWrite(io->ac);
}

static void add_read(void *privdata)
{
    pb_redis_async_io *io = privdata;
    h2o_socket_read_start(io->sock, on_readable);
}

static void del_read(void *privdata)
{
    pb_redis_async_io *io = privdata;
    h2o_socket_read_stop(io->sock);
}

static void add_write(void *privdata)
{
    pb_redis_async_io *io = privdata;
    if (!h2o_socket_is_writing(io->sock))
        h2o_socket_notify_write(io->sock, on_writable);
}

static void del_write(void *privdata)
{
}

/* hiredis calls this while freeing the context, before it closes its own
 * descriptor; h2o closes the duplicate. */
static void cleanup(void *privdata)
{
    pb_redis_async_io *io = privdata;
    io->ac->ev.data = NULL;
    h2o_socket_read_stop(io->sock);
    h2o_socket_close(io->sock);
    free(io);
}

int pb_redis_async_attach(redisAsyncContext *ac, h2o_evloop_t *loop)
{
    if (ac->ev.data != NULL || ac->err != 0)
        return -1;
    pb_redis_async_io *io = malloc(sizeof *io);
    if (io == NULL)
        return -1;
    int fd = fcntl(ac->c.fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        free(io);
        return -1;
    }
    io->ac = ac;
    io->sock = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    io->sock->data = io;
    ac->ev.data = io;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}

redisAsyncContext *pb_redis_async_connect(h2o_evloop_t *loop, const char *host, int port,
                                          redisConnectCallback *on_connect,
                                          redisDisconnectCallback *on_disconnect, void *data)
{
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (ac == NULL)
        return NULL;
    if (pb_redis_async_attach(ac, loop) != 0) {
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = data;
    if (on_connect != NULL)
        redisAsyncSetConnectCallback(ac, on_connect);
    if (on_disconnect != NULL)
        redisAsyncSetDisconnectCallback(ac, on_disconnect);
    return ac;
}
