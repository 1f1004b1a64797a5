/*
 * latency_proxy: a TCP proxy that holds every chunk it reads for a fixed
 * delay before forwarding it, so that a benchmark on one machine can see a
 * network round trip (the kernel here has no netem).
 *
 *   latency_proxy --listen 127.0.0.1:31100 --to 127.0.0.1:6379 --delay-us 1000 [--threads N]
 *
 * A round trip through the proxy costs 2 × delay plus the proxy's own work.
 * Each thread owns an epoll loop and a SO_REUSEPORT listener of its own, so
 * the kernel spreads connections over threads and no state is shared.
 *
 * Timing: a chunk read at time t is due at t + delay. The delay is the same
 * for every chunk, so chunks fall due in the order they were read: one FIFO
 * per thread (in arrival order) and one timerfd armed, with nanosecond
 * resolution, for the FIFO's head. epoll's own timeout (milliseconds) is
 * never used for timing. A chunk that is due is written after any earlier
 * chunk of the same direction; a direction whose peer does not drain stops
 * being read (EPOLLIN off) until its backlog falls under PROXY_MAX_BACKLOG.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define PROXY_CHUNK 16384
#define PROXY_MAX_BACKLOG (1 << 20) /* bytes held per direction before its reads pause */

typedef struct chunk chunk;
typedef struct direction direction;
typedef struct pair pair;

struct chunk {
    chunk *next_due;  /* the thread's FIFO, arrival order */
    chunk *next_out;  /* the direction's queue */
    direction *dir;
    uint64_t due_ns;
    int ready;        /* due time passed: may be written */
    size_t len, off;  /* len 0: end of stream, shut the peer's write side */
    char data[];
};

struct direction {
    int from, to;
    chunk *out_head, *out_tail;
    size_t backlog;
    int reading, want_write, done; /* done: EOF forwarded */
    pair *pair;
};

struct pair {
    direction up, down; /* up: client → server */
    int dead;
    size_t chunks;      /* chunks still referencing the pair */
    pair *next_dead;    /* freed at the end of the epoll round, once chunks is 0 */
};

/* epoll's data for a pair's fd is the pair's address, + 1 for the server
 * side (pairs are malloc-aligned, so the low bit is free); the listener and
 * the timer have addresses of their own (loop.tags). */
#define SIDE_TAG(p, server_side) ((void *)((char *)(p) + (server_side)))

typedef struct loop {
    int ep, timer, listener;
    chunk *due_head, *due_tail;
    uint64_t armed_ns;
    char tags[2];
    pair *dead;
    char buf[PROXY_CHUNK];
} loop;

static struct sockaddr_in listen_addr, target_addr;
static uint64_t delay_ns;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int parse_addr(const char *s, struct sockaddr_in *out)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (colon == NULL || (size_t)(colon - s) >= sizeof host)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)atoi(colon + 1));
    return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static void watch(loop *l, int fd, void *tag, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = tag};
    epoll_ctl(l->ep, op, fd, &ev);
}

/* The events one fd of a pair waits for: its reads (as a source) and its
 * writes (as a destination) belong to the two directions. */
static void rewatch(loop *l, pair *p, int fd)
{
    direction *as_src = p->up.from == fd ? &p->up : &p->down;
    direction *as_dst = p->up.to == fd ? &p->up : &p->down;
    uint32_t ev = (as_src->reading ? EPOLLIN : 0) | (as_dst->want_write ? EPOLLOUT : 0);
    watch(l, fd, SIDE_TAG(p, fd != p->up.from), ev, EPOLL_CTL_MOD);
}

static void kill_pair(loop *l, pair *p)
{
    if (p->dead)
        return;
    p->dead = 1;
    epoll_ctl(l->ep, EPOLL_CTL_DEL, p->up.from, NULL);
    epoll_ctl(l->ep, EPOLL_CTL_DEL, p->up.to, NULL);
    close(p->up.from);
    close(p->up.to);
    /* chunks already due are in no FIFO any more; the others are freed by
     * on_timer when they fall due */
    direction *dirs[2] = {&p->up, &p->down};
    for (int i = 0; i < 2; i++)
        for (chunk *c = dirs[i]->out_head, *next; c != NULL; c = next) {
            next = c->next_out;
            if (c->ready) {
                p->chunks--;
                free(c);
            }
        }
    p->next_dead = l->dead;
    l->dead = p;
}

/* Frees the dead pairs nothing points at; an event of this round may still
 * name one, so this runs between rounds only. */
static void bury(loop *l)
{
    pair **link = &l->dead;
    while (*link != NULL) {
        pair *p = *link;
        if (p->chunks == 0) {
            *link = p->next_dead;
            free(p);
        } else {
            link = &p->next_dead;
        }
    }
}

/* Writes the direction's ready chunks in order; returns -1 when the pair died. */
static int flush(loop *l, direction *d)
{
    while (d->out_head != NULL && d->out_head->ready) {
        chunk *c = d->out_head;
        if (c->len == 0) {
            shutdown(d->to, SHUT_WR);
            d->done = 1;
        } else {
            ssize_t n = write(d->to, c->data + c->off, c->len - c->off);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (!d->want_write) {
                    d->want_write = 1;
                    rewatch(l, d->pair, d->to);
                }
                return 0;
            }
            if (n < 0) {
                kill_pair(l, d->pair);
                return -1;
            }
            c->off += (size_t)n;
            if (c->off < c->len)
                continue;
        }
        d->out_head = c->next_out;
        if (d->out_head == NULL)
            d->out_tail = NULL;
        d->backlog -= c->len;
        d->pair->chunks--;
        free(c);
    }
    int changed = 0;
    if (d->want_write && d->out_head == NULL) {
        d->want_write = 0;
        changed = 1;
    }
    if (!d->reading && !d->done && d->backlog < PROXY_MAX_BACKLOG / 2 && !(d->out_tail && d->out_tail->len == 0)) {
        d->reading = 1;
        rewatch(l, d->pair, d->from);
    }
    if (changed)
        rewatch(l, d->pair, d->to);
    if (d->pair->up.done && d->pair->down.done)
        kill_pair(l, d->pair);
    return 0;
}

static void arm(loop *l)
{
    if (l->due_head == NULL || l->due_head->due_ns == l->armed_ns)
        return;
    l->armed_ns = l->due_head->due_ns;
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(l->armed_ns / 1000000000u),
                                          .tv_nsec = (long)(l->armed_ns % 1000000000u)}};
    timerfd_settime(l->timer, TFD_TIMER_ABSTIME, &its, NULL);
}

static void enqueue(loop *l, direction *d, chunk *c, uint64_t now)
{
    c->dir = d;
    c->next_out = NULL;
    c->next_due = NULL;
    d->pair->chunks++;
    d->backlog += c->len;
    if (d->out_tail)
        d->out_tail->next_out = c;
    else
        d->out_head = c;
    d->out_tail = c;
    if (delay_ns == 0) {
        c->ready = 1;
        return;
    }
    c->ready = 0;
    c->due_ns = now + delay_ns;
    if (l->due_tail)
        l->due_tail->next_due = c;
    else
        l->due_head = c;
    l->due_tail = c;
}

/* Reads what the source has; returns -1 when the pair died. With no delay
 * and nothing queued, a chunk is written straight from the read buffer and
 * only what the peer does not take is queued. */
static int on_readable(loop *l, direction *d)
{
    uint64_t now = now_ns();
    for (;;) {
        ssize_t n = read(d->from, l->buf, sizeof l->buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (n < 0) {
            kill_pair(l, d->pair);
            return -1;
        }
        size_t off = 0;
        if (n > 0 && delay_ns == 0 && d->out_head == NULL) {
            ssize_t w = write(d->to, l->buf, (size_t)n);
            if (w < 0 && errno != EAGAIN && errno != EINTR) {
                kill_pair(l, d->pair);
                return -1;
            }
            off = w > 0 ? (size_t)w : 0;
        }
        if (off < (size_t)n || n == 0) {
            chunk *c = malloc(sizeof *c + (size_t)n - off);
            if (c == NULL)
                abort();
            memcpy(c->data, l->buf + off, (size_t)n - off);
            c->len = (size_t)n - off;
            c->off = 0;
            enqueue(l, d, c, now);
        }
        if (n == 0 || d->backlog >= PROXY_MAX_BACKLOG) {
            d->reading = 0;
            rewatch(l, d->pair, d->from);
            break;
        }
        if ((size_t)n < sizeof l->buf)
            break;
    }
    if (delay_ns == 0)
        return flush(l, d);
    arm(l);
    return 0;
}

static void on_timer(loop *l)
{
    uint64_t expirations;
    if (read(l->timer, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        return;
    l->armed_ns = 0;
    uint64_t now = now_ns();
    while (l->due_head != NULL && l->due_head->due_ns <= now) {
        chunk *c = l->due_head;
        l->due_head = c->next_due;
        if (l->due_head == NULL)
            l->due_tail = NULL;
        pair *p = c->dir->pair;
        if (p->dead) {
            p->chunks--;
            free(c);
            continue;
        }
        c->ready = 1;
        flush(l, c->dir);
    }
    arm(l);
}

static void on_accept(loop *l)
{
    for (;;) {
        int cfd = accept4(l->listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        int sfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(sfd, (struct sockaddr *)&target_addr, sizeof target_addr) < 0 && errno != EINPROGRESS) {
            close(cfd);
            close(sfd);
            continue;
        }
        pair *p = calloc(1, sizeof *p);
        p->up = (direction){.from = cfd, .to = sfd, .reading = 1, .pair = p};
        p->down = (direction){.from = sfd, .to = cfd, .reading = 1, .pair = p};
        watch(l, cfd, SIDE_TAG(p, 0), EPOLLIN, EPOLL_CTL_ADD);
        watch(l, sfd, SIDE_TAG(p, 1), EPOLLIN, EPOLL_CTL_ADD);
    }
}

static void *run_loop(void *arg)
{
    static __thread loop l;
    int one = 1;
    l.ep = epoll_create1(EPOLL_CLOEXEC);
    l.timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    l.listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    setsockopt(l.listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(l.listener, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(l.listener, (struct sockaddr *)&listen_addr, sizeof listen_addr) < 0 || listen(l.listener, 1024) < 0) {
        perror("latency_proxy: listen");
        exit(1);
    }
    char *const tags = l.tags;
    watch(&l, l.listener, &tags[0], EPOLLIN, EPOLL_CTL_ADD);
    watch(&l, l.timer, &tags[1], EPOLLIN, EPOLL_CTL_ADD);
    (void)arg;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(l.ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            char *tag = evs[i].data.ptr;
            if (tag == &tags[0] || tag == &tags[1])
                continue; /* after the pairs: a chunk made due now is written in this round */
            pair *p = (pair *)((uintptr_t)tag & ~(uintptr_t)1);
            int client_side = ((uintptr_t)tag & 1) == 0;
            if (p->dead)
                continue;
            direction *as_src = client_side ? &p->up : &p->down;
            direction *as_dst = client_side ? &p->down : &p->up;
            if (evs[i].events & (EPOLLERR | EPOLLHUP) && !(evs[i].events & EPOLLIN)) {
                kill_pair(&l, p);
                continue;
            }
            if ((evs[i].events & EPOLLOUT) && flush(&l, as_dst) < 0)
                continue;
            if (evs[i].events & EPOLLIN)
                on_readable(&l, as_src);
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &tags[0])
                on_accept(&l);
            else if (evs[i].data.ptr == &tags[1])
                on_timer(&l);
        }
        bury(&l);
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: latency_proxy --listen HOST:PORT --to HOST:PORT [--delay-us N] [--threads N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int threads = 1, have_listen = 0, have_to = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--listen") == 0)
            have_listen = parse_addr(argv[++i], &listen_addr) == 0;
        else if (strcmp(argv[i], "--to") == 0)
            have_to = parse_addr(argv[++i], &target_addr) == 0;
        else if (strcmp(argv[i], "--delay-us") == 0)
            delay_ns = (uint64_t)strtoull(argv[++i], NULL, 10) * 1000u;
        else if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[++i]);
        else
            usage();
    }
    if (!have_listen || !have_to || threads < 1)
        usage();
    signal(SIGPIPE, SIG_IGN);
    pthread_t tid;
    for (int i = 1; i < threads; i++)
        pthread_create(&tid, NULL, run_loop, NULL);
    run_loop(NULL);
    return 0;
}
