/* Connection cap, open-file limit and header-size cap; see limits.h. */
#include <stdio.h>
#include <sys/resource.h>

#include "http/limits.h"
#include "http/worker.h"

void pb_conn_limit_init(pb_conn_limit *limit, unsigned max)
{
    atomic_init(&limit->open, 0);
    limit->max = max;
}

void pb_conn_limit_release(pb_conn_limit *limit)
{
    atomic_fetch_sub_explicit(&limit->open, 1, memory_order_relaxed);
}

bool pb_conn_limit_admit(pb_conn_limit *limit, h2o_socket_t *sock)
{
    /* Counting first and undoing on refusal keeps the check race-free across threads. */
    if (atomic_fetch_add_explicit(&limit->open, 1, memory_order_relaxed) >= limit->max) {
        atomic_fetch_sub_explicit(&limit->open, 1, memory_order_relaxed);
        h2o_socket_close(sock);
        return false;
    }
    return true;
}

unsigned pb_conn_limit_fit_fds(unsigned wanted)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return wanted;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= (rlim_t)wanted + PB_FD_RESERVE)
        return wanted;
    unsigned fit = rl.rlim_cur > PB_FD_RESERVE ? (unsigned)(rl.rlim_cur - PB_FD_RESERVE) : 1;
    fprintf(stderr, "pushbind: warning: the open-file limit (%llu) holds %u connections, not %u\n",
            (unsigned long long)rl.rlim_cur, fit, wanted);
    return fit;
}

/* Request line and headers as a client sent them: "NAME: VALUE\r\n" each. */
static size_t header_bytes(const h2o_req_t *req)
{
    size_t n = req->method.len + req->path.len + req->authority.len;
    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return n;
}

static int on_req_check_headers(h2o_handler_t *self, h2o_req_t *req)
{
    pb_worker *worker = pb_worker_of(req);
    if (header_bytes(req) <= worker->config->max_header_bytes)
        return -1; /* on to the path's own handler */
    h2o_send_error_generic(req, 431, "Request Header Fields Too Large", "request header fields too large\n",
                           H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
    return 0;
}

void pb_header_limit_register(h2o_pathconf_t *pathconf)
{
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = on_req_check_headers;
}
