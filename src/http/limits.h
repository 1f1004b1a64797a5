/*
 * limits.h — the server's guards against floods and slow or bloated clients.
 *
 * Connection cap: one counter shared by every event-loop thread (one atomic
 * add per accepted connection, none per request). A connection over the cap
 * is closed as soon as it is accepted, so it neither waits in the kernel's
 * backlog nor takes anything from the connections already open.
 *
 * Header cap: a handler placed ahead of each path's own handler answers 431
 * when the request line and headers are larger than the configured size.
 * h2o itself closes an HTTP/1 connection whose head grows past
 * H2O_MAX_REQLEN (417792 bytes in 2.2.5) before any handler runs; the cap
 * here is the one a client meets.
 *
 * Timeouts are h2o's (see PB_DEFAULT_REQUEST_TIMEOUT_SECONDS in server.h).
 */
#ifndef PB_LIMITS_H
#define PB_LIMITS_H

#include <stdatomic.h>
#include <stdbool.h>

#include <h2o.h>

/* File descriptors kept for listeners, the store and logs, beyond connections. */
#define PB_FD_RESERVE 64

/*
 * Connections the operator's listener (--admin-listen) takes, on top of
 * --max-connections: a flood of API connections must not lock out the
 * person who came to look at /metrics or the console.
 */
#define PB_ADMIN_MAX_CONNECTIONS 64

typedef struct pb_conn_limit {
    atomic_uint open;
    unsigned max;
} pb_conn_limit;

/* Sets the cap; no connection is counted yet. */
void pb_conn_limit_init(pb_conn_limit *limit, unsigned max);

/*
 * Admits a socket just accepted on any thread. Under the cap: returns true and
 * counts it; the caller calls pb_conn_limit_release() when the socket closes.
 * Over the cap: closes it and returns false.
 */
bool pb_conn_limit_admit(pb_conn_limit *limit, h2o_socket_t *sock);

/* Uncounts a connection admitted by pb_conn_limit_admit(). */
void pb_conn_limit_release(pb_conn_limit *limit);

/*
 * Raises this process's open-file limit to its hard limit and returns how
 * many of `wanted` connections fit in it, keeping PB_FD_RESERVE descriptors
 * for everything else. Prints a warning on stderr when fewer than wanted fit.
 */
unsigned pb_conn_limit_fit_fds(unsigned wanted);

/*
 * Places the header-size check ahead of the handlers registered next on
 * `pathconf`. The cap is read from the worker's configuration
 * (max_header_bytes) of the thread the request runs on.
 */
void pb_header_limit_register(h2o_pathconf_t *pathconf);

#endif
