/*
 * Threads, sockets and the server's lifetime.
 *
 * Start-up binds every listening socket before any thread runs, so a bad
 * address fails at once with a clear message. The main thread then only waits
 * for SIGTERM/SIGINT (blocked in every thread, taken with sigwait) and tells
 * each event loop to stop through h2o's inter-thread queue.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/h2o_private.h"
#include "http/limits.h"
#include "http/ratelimit.h"
#include "http/routes.h"
#include "http/server.h"
#include "http/tls.h"
#include "http/worker.h"

/*
 * The two listeners: the API's (--listen) and the operator's
 * (--admin-listen, optional). Each has its own h2o host, so which paths a
 * connection reaches is decided once, when it is accepted.
 */
enum { API_LISTENER, ADMIN_LISTENER, LISTENERS };

/* What every worker shares; owned by pb_server_run(). */
typedef struct server_shared {
    pb_conn_limit conn_limits[LISTENERS]; /* each listener counts its own */
    SSL_CTX *ssl_ctx;              /* NULL: plain HTTP */
    pb_rate_limiter *rate_limiter; /* NULL: no rate limit */
    pb_throttle *throttle;         /* NULL: failed authentication is not throttled */
    pb_metrics *metrics; /* the caller's */
    pb_accesslog accesslog;
    /* NULL-terminated, one host each: what a connection accepted on each listener reaches. */
    h2o_hostconf_t *hosts[LISTENERS][2];
    sem_t ready; /* posted by each worker once its loop can take a stop message */
    sem_t log_flushed; /* posted by each worker once it wrote its log buffer for a SIGHUP */
} server_shared;

typedef struct worker_thread {
    pb_worker worker; /* first, so the h2o context leads to it */
    pthread_t thread;
    int listen_fd[LISTENERS]; /* -1: not opened */
    h2o_evloop_t *loop;
    h2o_socket_t *listener[LISTENERS];
    server_shared *shared;
    h2o_globalconf_t *globalconf;
    h2o_accept_ctx_t accept_ctx[LISTENERS];
    h2o_multithread_receiver_t stop_receiver;
    h2o_multithread_message_t stop_message;
    atomic_bool stopping;
} worker_thread;

/*
 * Opens a listening socket on `addr`. SO_REUSEPORT lets every thread own a
 * socket on the same port, and the kernel spreads new connections among
 * them. Returns the fd, or -1 with errno set.
 */
static int open_listener(const struct sockaddr *addr, socklen_t addrlen)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return -1;
    int on = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 || bind(fd, addr, addrlen) != 0 ||
        listen(fd, SOMAXCONN) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/*
 * Whether a socket without SO_REUSEPORT cannot bind `addr` because something
 * listens there. SO_REUSEPORT would let this process's sockets join another's
 * on the same address (a second `serve`, perhaps on other data, or our own
 * --listen for --admin-listen), and the kernel would then spread connections
 * between them at random: each address is checked with this first. Two
 * processes started at the same instant may both pass; one started after
 * another is refused.
 */
static bool address_in_use(const struct sockaddr *addr, socklen_t addrlen)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1)
        return false; /* the real bind will say why */
    int on = 1; /* a port left in TIME_WAIT by an earlier run is not in use */
    bool in_use = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0 && bind(fd, addr, addrlen) != 0 &&
                  errno == EADDRINUSE;
    close(fd);
    return in_use;
}

/* Closes the worker's listening sockets that are still open. */
static void close_listen_fds(worker_thread *self)
{
    for (int which = 0; which < LISTENERS; which++)
        if (self->listen_fd[which] != -1) {
            close(self->listen_fd[which]);
            self->listen_fd[which] = -1;
        }
}

/*
 * Binds one socket per thread on host:port for listener `which`. The first
 * bind resolves port 0 to a real port; the others bind to that port. Writes
 * the bound port to *bound. Returns 0, or -1 after printing why (the sockets
 * of `which` are then closed).
 */
static int open_listeners(const char *host, uint16_t port, int which, worker_thread *workers, unsigned n,
                          uint16_t *bound)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *found;
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    int rc = getaddrinfo(host, service, &hints, &found);
    if (rc != 0) {
        fprintf(stderr, "pushbind: cannot resolve %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    struct sockaddr_storage addr;
    socklen_t addrlen = found->ai_addrlen;
    memcpy(&addr, found->ai_addr, addrlen);
    freeaddrinfo(found);
    if (port != 0 && address_in_use((struct sockaddr *)&addr, addrlen)) {
        fprintf(stderr, "pushbind: cannot listen on %s:%u for %s: in use (%s)\n", host, (unsigned)port,
                which == ADMIN_LISTENER ? "--admin-listen" : "--listen",
                which == ADMIN_LISTENER ? "by --listen, or another process" : "another process serves it");
        return -1;
    }

    for (unsigned i = 0; i < n; i++) {
        workers[i].listen_fd[which] = open_listener((struct sockaddr *)&addr, addrlen);
        if (workers[i].listen_fd[which] == -1) {
            fprintf(stderr, "pushbind: cannot listen on %s:%u: %s\n", host, (unsigned)port, strerror(errno));
            while (i-- > 0) {
                close(workers[i].listen_fd[which]);
                workers[i].listen_fd[which] = -1;
            }
            return -1;
        }
        if (i == 0) /* learn the port the kernel chose, for the other sockets and the log */
            getsockname(workers[0].listen_fd[which], (struct sockaddr *)&addr, &addrlen);
    }
    *bound = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                             : ((struct sockaddr_in *)&addr)->sin_port);
    return 0;
}

/* Runs on the connection's own loop, so the worker's shard counts it. */
static void on_connection_close(void *data)
{
    pb_conn_limit_release(data);
    pb_metrics_connection_closed();
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    worker_thread *self = listener->data;
    int which = listener == self->listener[ADMIN_LISTENER] ? ADMIN_LISTENER : API_LISTENER;
    pb_conn_limit *limit = &self->shared->conn_limits[which];
    h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
    if (sock == NULL || !pb_conn_limit_admit(limit, sock))
        return;
    pb_metrics_connection_opened();
    sock->on_close.cb = on_connection_close;
    sock->on_close.data = limit;
    h2o_accept(&self->accept_ctx[which], sock);
}

/*
 * Runs on the worker's own loop when the main thread asks it to stop: no new
 * connections, and h2o answers the rest with "Connection: close".
 */
static void on_stop_message(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    worker_thread *self = H2O_STRUCT_FROM_MEMBER(worker_thread, stop_receiver, receiver);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    for (int which = 0; which < LISTENERS; which++)
        if (self->listener[which] != NULL) {
            h2o_socket_read_stop(self->listener[which]);
            h2o_socket_close(self->listener[which]);
            self->listener[which] = NULL;
        }
    h2o_context_request_shutdown(&self->worker.h2o_ctx);
    /*
     * HTTP/1 keep-alive connections idle between requests would otherwise
     * stay open until their request timeout; shortening it closes them within
     * a second while connections with a request in progress finish normally.
     */
    if (self->worker.h2o_ctx.http1.req_timeout.timeout > 1000)
        self->worker.h2o_ctx.http1.req_timeout.timeout = 1000;
    atomic_store(&self->stopping, true);
}

/*
 * The worker's thread, from start to end. The h2o context and its queues are
 * made and disposed of here, on the loop's own thread: h2o 2.2.5 recycles a
 * queue's read buffers through the creating thread's (thread-local,
 * unlocked) allocator, so a context made on the main thread would have every
 * loop share the main thread's. `ready` tells the main thread when the stop
 * receiver exists, so no stop message can be sent before it.
 */
static void *worker_main(void *arg)
{
    worker_thread *self = arg;
    h2o_context_t *ctx = &self->worker.h2o_ctx;
    self->loop = h2o_evloop_create();
    h2o_context_init(ctx, self->loop, self->globalconf);
    h2o_multithread_register_receiver(ctx->queue, &self->stop_receiver, on_stop_message);
    for (int which = 0; which < LISTENERS; which++) {
        if (self->listen_fd[which] == -1)
            continue;
        self->accept_ctx[which] =
            (h2o_accept_ctx_t){.ctx = ctx, .hosts = self->shared->hosts[which], .ssl_ctx = self->shared->ssl_ctx};
        /* The socket owns the fd from here on. */
        self->listener[which] = h2o_evloop_socket_create(self->loop, self->listen_fd[which], H2O_SOCKET_FLAG_DONT_READ);
        self->listen_fd[which] = -1;
        self->listener[which]->data = self;
        h2o_socket_read_start(self->listener[which], on_accept);
    }
    pb_worker_attach(&self->worker);
    if (pb_store_session_attach_loop(self->worker.session, self->loop) != PB_STORE_OK)
        fprintf(stderr, "pushbind: this thread's store session waits for the store: %s\n",
                pb_store_session_error(self->worker.session));
    pb_log_buffer_attach(&self->worker.log, &self->shared->accesslog, ctx, &self->shared->log_flushed);
    if (pb_metrics_thread_attach(self->worker.metrics) != 0)
        fprintf(stderr, "pushbind: metrics: too many threads, this one is not counted\n");
    sem_post(&self->shared->ready);

    while (!atomic_load(&self->stopping)) {
        h2o_evloop_run(self->loop, INT32_MAX);
        pb_store_session_turn_done(self->worker.session);
    }

    /* A write or a read handed to the store always comes back, and must find the loop. */
    uint64_t deadline = h2o_now(self->loop) + PB_SHUTDOWN_GRACE_MS;
    while ((pb_h2o_has_connections(ctx) && h2o_now(self->loop) < deadline) || self->worker.exchanges != 0) {
        h2o_evloop_run(self->loop, 100);
        pb_store_session_turn_done(self->worker.session);
    }
    pb_log_buffer_detach(&self->worker.log, ctx); /* every answered request has its line now */
    /*
     * The shutdown request armed h2o's one-second HTTP/2 GOAWAY timer; with no
     * connection left it has nothing to do, and the context cannot be
     * disposed of while it is armed.
     */
    pb_h2o_disarm_shutdown_timer(ctx);
    pb_store_session_detach_loop(self->worker.session);
    h2o_evloop_run(self->loop, 0); /* the connections' sockets are freed by the loop */
    pb_metrics_thread_detach();
    pb_worker_detach(&self->worker);
    h2o_multithread_unregister_receiver(ctx->queue, &self->stop_receiver);
    h2o_context_dispose(ctx);
    h2o_evloop_destroy(self->loop);
    return NULL;
}

/*
 * Opens the worker's store session and starts its thread. Returns 0, or -1
 * after printing why (the worker's listening socket is then closed).
 */
static int worker_start(worker_thread *self, const pb_server_config *config, h2o_globalconf_t *globalconf,
                        pb_store *store, server_shared *shared)
{
    self->worker.config = config;
    self->worker.rate_limiter = shared->rate_limiter;
    self->worker.throttle = shared->throttle;
    self->worker.metrics = shared->metrics;
    self->shared = shared;
    self->globalconf = globalconf;
    self->worker.session = pb_store_session_open(store);
    if (self->worker.session == NULL) {
        fprintf(stderr, "pushbind: cannot open a store session\n");
        close_listen_fds(self);
        return -1;
    }
    int rc = pthread_create(&self->thread, NULL, worker_main, self);
    if (rc != 0) {
        fprintf(stderr, "pushbind: cannot start thread: %s\n", strerror(rc));
        pb_store_session_close(self->worker.session);
        close_listen_fds(self);
        return -1;
    }
    return 0;
}

/*
 * Blocks until SIGTERM or SIGINT, reopening the access log on each SIGHUP
 * meanwhile. The signals are blocked in every thread. Before a reopen, every
 * loop writes its buffer, so the lines of requests answered before the
 * signal all go to the old file.
 */
static void wait_for_stop_signal(const sigset_t *signals, server_shared *shared, worker_thread *workers, unsigned n)
{
    pb_accesslog *accesslog = &shared->accesslog;
    for (;;) {
        int signal_number = 0;
        if (sigwait(signals, &signal_number) != 0)
            continue;
        if (signal_number != SIGHUP) {
            fprintf(stderr, "pushbind: %s received, finishing open requests\n",
                    signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
            return;
        }
        for (unsigned i = 0; i < n; i++)
            pb_log_buffer_request_flush(&workers[i].worker.log);
        for (unsigned i = 0; i < n; i++)
            sem_wait(&shared->log_flushed);
        if (pb_accesslog_reopen(accesslog) != 0)
            fprintf(stderr, "pushbind: cannot reopen %s: %s\n", accesslog->path, strerror(errno));
    }
}

/*
 * One h2o host per listener. With an operator's listener, its host has the
 * operator's paths and the API's; the API's host has the API alone.
 */
static void init_globalconf(h2o_globalconf_t *globalconf, const pb_server_config *config, server_shared *shared)
{
    h2o_config_init(globalconf);
    globalconf->max_request_entity_size = config->max_body_bytes;
    uint64_t timeout_ms = (uint64_t)config->request_timeout_seconds * 1000;
    globalconf->http1.req_timeout = timeout_ms;
    globalconf->http2.idle_timeout = timeout_ms;
    globalconf->handshake_timeout = timeout_ms;
    /* No Server header: h2o formats it with sprintf on every HTTP/1 answer, and no client reads it. */
    globalconf->server_name = h2o_iovec_init(NULL, 0);
    bool admin = config->admin_host != NULL;
    h2o_hostconf_t *host = h2o_config_register_host(globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    pb_routes_register(host, !admin);
    shared->hosts[API_LISTENER][0] = host;
    if (admin) {
        host = h2o_config_register_host(globalconf, h2o_iovec_init(H2O_STRLIT("admin")), 65535);
        pb_routes_register(host, true);
        shared->hosts[ADMIN_LISTENER][0] = host;
    }
}

/* "http://HOST:PORT", with brackets around an IPv6 literal, for the start-up lines. */
static void print_listening(const char *what, bool tls, const char *host, uint16_t port, const char *tail)
{
    bool bracket = strchr(host, ':') != NULL;
    fprintf(stderr, "pushbind: %slistening on %s://%s%s%s:%u%s\n", what, tls ? "https" : "http", bracket ? "[" : "",
            host, bracket ? "]" : "", (unsigned)port, tail);
}

/* Sets up what the workers share. Returns 0, or -1 after printing why. */
static int shared_init(server_shared *shared, const pb_server_config *config)
{
    *shared = (server_shared){.accesslog = {.fd = -1}};
    sem_init(&shared->ready, 0, 0);
    sem_init(&shared->log_flushed, 0, 0);
    shared->metrics = config->metrics;
    if (pb_accesslog_open(&shared->accesslog, config->log_format, config->log_file) != 0) {
        fprintf(stderr, "pushbind: cannot open %s: %s\n", config->log_file, strerror(errno));
        return -1;
    }
    /* The operator's connections first: what the descriptors cannot hold comes off the API's share. */
    unsigned admin = config->admin_host != NULL ? PB_ADMIN_MAX_CONNECTIONS : 0;
    unsigned fit = pb_conn_limit_fit_fds(config->max_connections + admin);
    pb_conn_limit_init(&shared->conn_limits[API_LISTENER], fit > admin ? fit - admin : 1);
    pb_conn_limit_init(&shared->conn_limits[ADMIN_LISTENER], admin);
    if (config->tls_cert_file != NULL &&
        (shared->ssl_ctx = pb_tls_context_new(config->tls_cert_file, config->tls_key_file)) == NULL)
        return -1;
    if (config->rate_limit != 0 &&
        (shared->rate_limiter = pb_rate_limiter_new(config->rate_limit, config->rate_burst)) == NULL) {
        fprintf(stderr, "pushbind: cannot set up the rate limiter\n");
        return -1;
    }
    if (config->auth_failures != 0 && (shared->throttle = pb_throttle_new(config->auth_failures)) == NULL) {
        fprintf(stderr, "pushbind: cannot set up the throttle on failed authentication\n");
        return -1;
    }
    return 0;
}

static void shared_dispose(server_shared *shared)
{
    sem_destroy(&shared->ready);
    sem_destroy(&shared->log_flushed);
    pb_accesslog_close(&shared->accesslog);
    pb_rate_limiter_free(shared->rate_limiter);
    pb_throttle_free(shared->throttle);
    if (shared->ssl_ctx != NULL)
        SSL_CTX_free(shared->ssl_ctx);
}

int pb_server_run(const pb_server_config *config, pb_store *store)
{
    server_shared shared;
    unsigned n = config->threads;
    worker_thread *workers = calloc(n, sizeof(*workers));
    h2o_globalconf_t globalconf;
    int exit_code = 1;
    unsigned started = 0;
    uint16_t port, admin_port = 0;
    if (workers == NULL) {
        fprintf(stderr, "pushbind: out of memory for %u threads\n", n);
        return 1;
    }
    for (unsigned i = 0; i < n; i++)
        workers[i].listen_fd[API_LISTENER] = workers[i].listen_fd[ADMIN_LISTENER] = -1;
    if (shared_init(&shared, config) != 0)
        goto out_free;
    if (open_listeners(config->listen_host, config->listen_port, API_LISTENER, workers, n, &port) != 0)
        goto out_free;
    if (config->admin_host != NULL && open_listeners(config->admin_host, config->admin_port, ADMIN_LISTENER,
                                                     workers, n, &admin_port) != 0) {
        for (unsigned i = 0; i < n; i++)
            close_listen_fds(&workers[i]);
        goto out_free;
    }
    init_globalconf(&globalconf, config, &shared);

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that hangs up must not kill the server */

    for (; started < n; started++)
        if (worker_start(&workers[started], config, &globalconf, store, &shared) != 0)
            break;
    for (unsigned i = 0; i < started; i++)
        sem_wait(&shared.ready);
    if (started == n) {
        /* The API's line last: a supervisor that waits for it finds both listeners open. */
        if (config->admin_host != NULL)
            print_listening("admin ", shared.ssl_ctx != NULL, config->admin_host, admin_port, "");
        char threads[32];
        snprintf(threads, sizeof(threads), " (%u threads)", n);
        print_listening("", shared.ssl_ctx != NULL, config->listen_host, port, threads);
        wait_for_stop_signal(&signals, &shared, workers, n);
        exit_code = 0;
    }

    for (unsigned i = 0; i < started; i++)
        h2o_multithread_send_message(&workers[i].stop_receiver, &workers[i].stop_message);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        pb_store_session_close(workers[i].worker.session);
    }
    for (unsigned i = started + 1; i < n; i++)
        close_listen_fds(&workers[i]);
    h2o_config_dispose(&globalconf);
    if (exit_code == 0)
        fprintf(stderr, "pushbind: stopped\n");
out_free:
    shared_dispose(&shared);
    free(workers);
    return exit_code;
}
