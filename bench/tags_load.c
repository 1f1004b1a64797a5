/*
 * bench/tags_load.c — the tag rows of `make bench`: the same tag writes and
 * the same page-by-page read sent to pushbind (HTTP/1.1) and to Redis (RESP)
 * by one client, so that neither side's figure carries a slower client.
 *
 *   bench_tags write http  PORT CONNS SECONDS OP RUN BASIC [REQUESTS [ordered]]
 *   bench_tags write redis PORT CONNS SECONDS OP RUN SIDES [REQUESTS [ordered]]
 *   bench_tags scan  http  PORT TAG LIMIT BASIC
 *   bench_tags scan  redis PORT TAG COUNT
 *
 * write: CONNS connections, each sending one request at a time for SECONDS
 * (or, REQUESTS not 0, until that many requests in all have been answered) and printing
 * "pairs_per_s P50_MS P99_MS errors". A request is 500 (tag, token) pairs of
 * fresh tokens: OP 7 gives tag "op7-RUN" to 500 tokens, OP 9 sends 500 pairs
 * whose tags cycle through "level:0" … "level:49". Tokens (20 bytes, see
 * make_token()) are derived from RUN, the connection and a counter, so every
 * RUN writes new pairs. To pushbind that is one POST /v3/device/tag; to Redis one pipeline
 * with the same members: for OP 7 one SADD of the tag's set with the 500
 * tokens, for OP 9 one SADD per pair into its tag's set; with SIDES 2 also one
 * SADD per token into the token's set of tags (the two indexes pushbind
 * keeps: a tag's tokens and a token's tags).
 *
 * scan: reads every token of TAG page by page on one connection (op 2 of
 * POST /pushbind/v1/tag/query with the given limit, following next_cursor;
 * SSCAN of the set "tag:TAG" with COUNT) and prints "tokens seconds
 * tokens_per_s pages".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAIRS_PER_REQUEST 500
#define OP9_TAGS 50
#define MAX_CONNS 256

struct buf {
    char *data;
    size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + more)
        cap *= 2;
    if ((b->data = realloc(b->data, cap)) == NULL) {
        perror("realloc");
        exit(1);
    }
    b->cap = cap;
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
    buf_reserve(b, n + 1);
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = 0;
}

/* A formatted piece (short: at most 511 bytes). */
static void buf_printf(struct buf *b, const char *format, ...)
{
    char text[512];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(text, sizeof(text), format, args);
    va_end(args);
    buf_add(b, text, n < 0 ? 0 : (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1);
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* A RESP command of `argc` strings. */
static void resp_command(struct buf *b, int argc, const char *const *argv)
{
    buf_printf(b, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        buf_printf(b, "$%zu\r\n", n);
        buf_add(b, argv[i], n);
        buf_add(b, "\r\n", 2);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        perror("connect");
        exit(1);
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            perror("write");
            exit(1);
        }
        data += n;
        len -= (size_t)n;
    }
}

/* Appends what the socket holds now to `in`; exits on end of stream. */
static void receive(int fd, struct buf *in)
{
    buf_reserve(in, 65536);
    ssize_t n = read(fd, in->data + in->len, in->cap - in->len - 1);
    if (n <= 0) {
        fprintf(stderr, "bench_tags: the server closed the connection\n");
        exit(1);
    }
    in->len += (size_t)n;
    in->data[in->len] = 0;
}

/* ---- what a request is, for each side ------------------------------------ */

struct target {
    bool http;
    const char *basic; /* http: the Authorization header's value */
    int sides;         /* redis: 1 the tag's set, 2 also each token's */
    int op;
    const char *run;
    bool ordered; /* tokens in key order (an app's own sequential ids), not random */
};

static uint64_t mix(uint64_t x) /* splitmix64's finalizer: a bijection, so distinct inputs give distinct tokens */
{
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/*
 * 20 bytes. Random by default: real tokens arrive in random order, which
 * decides how many of the store's pages a write touches and how full they
 * stay; then the first 16 hex digits are a bijection of (connection, counter)
 * mixed with the RUN, the last 4 the RUN's own. Ordered: RUN, the connection,
 * the counter.
 */
static void make_token(char *out, const struct target *t, int conn, uint64_t counter)
{
    if (t->ordered) { /* each connection's tokens in key order, after the RUN and the connection */
        sprintf(out, "%s%04x%0*llx", t->run, (unsigned)conn, (int)(16 - strlen(t->run)), (unsigned long long)counter);
        return;
    }
    uint64_t run = 0;
    for (const char *p = t->run; *p; p++)
        run = run * 131 + (unsigned char)*p;
    sprintf(out, "%016llx%04x", (unsigned long long)mix(((uint64_t)conn << 48 | counter) ^ mix(run)),
            (unsigned)(run & 0xffff));
}

static void http_post(struct buf *out, const char *path, const char *basic, const struct buf *body)
{
    buf_printf(out, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n"
                    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", path, basic, body->len);
    buf_add(out, body->data, body->len);
}

/* Request `counter` of connection `conn` into `out`; returns the replies it expects (RESP) or 1 (HTTP). */
static int make_write(const struct target *t, int conn, uint64_t counter, struct buf *out)
{
    char tokens[PAIRS_PER_REQUEST][48], tags[PAIRS_PER_REQUEST][32];
    for (int i = 0; i < PAIRS_PER_REQUEST; i++) {
        make_token(tokens[i], t, conn, counter * PAIRS_PER_REQUEST + (uint64_t)i);
        if (t->op == 7)
            snprintf(tags[i], sizeof(tags[i]), "op7-%s", t->run);
        else
            snprintf(tags[i], sizeof(tags[i]), "level:%d", (int)((counter * PAIRS_PER_REQUEST + (uint64_t)i) % OP9_TAGS));
    }
    out->len = 0;
    if (t->http) {
        struct buf body = {0};
        if (t->op == 7) {
            buf_str(&body, "{\"operator_type\":7,\"tag_list\":[\"");
            buf_str(&body, tags[0]);
            buf_str(&body, "\"],\"token_list\":[");
            for (int i = 0; i < PAIRS_PER_REQUEST; i++) {
                buf_str(&body, i ? ",\"" : "\"");
                buf_str(&body, tokens[i]);
                buf_str(&body, "\"");
            }
        } else {
            buf_str(&body, "{\"operator_type\":9,\"tag_token_list\":[");
            for (int i = 0; i < PAIRS_PER_REQUEST; i++) {
                buf_str(&body, i ? ",{\"tag\":\"" : "{\"tag\":\"");
                buf_str(&body, tags[i]);
                buf_str(&body, "\",\"token\":\"");
                buf_str(&body, tokens[i]);
                buf_str(&body, "\"}");
            }
        }
        buf_str(&body, "]}");
        http_post(out, "/v3/device/tag", t->basic, &body);
        free(body.data);
        return 1;
    }
    char key[64];
    int replies = 0;
    if (t->op == 7) { /* SADD tag:T tok1 … tok500 */
        const char *argv[PAIRS_PER_REQUEST + 2] = {"SADD", key};
        snprintf(key, sizeof(key), "tag:%s", tags[0]);
        for (int i = 0; i < PAIRS_PER_REQUEST; i++)
            argv[i + 2] = tokens[i];
        resp_command(out, PAIRS_PER_REQUEST + 2, argv);
        replies++;
    } else {
        for (int i = 0; i < PAIRS_PER_REQUEST; i++, replies++) {
            snprintf(key, sizeof(key), "tag:%.31s", tags[i]);
            resp_command(out, 3, (const char *const[]){"SADD", key, tokens[i]});
        }
    }
    for (int i = 0; t->sides == 2 && i < PAIRS_PER_REQUEST; i++, replies++) {
        snprintf(key, sizeof(key), "tok:%.47s", tokens[i]);
        resp_command(out, 3, (const char *const[]){"SADD", key, tags[i]});
    }
    return replies;
}

/* ---- reading answers --------------------------------------------------------- */

/* An HTTP response's length in `in` once it is whole (Content-Length), else 0; *body at its body. */
static size_t http_whole(const struct buf *in, const char **body, size_t *body_len)
{
    const char *end = in->len ? strstr(in->data, "\r\n\r\n") : NULL;
    if (end == NULL)
        return 0;
    size_t head = (size_t)(end - in->data) + 4, length = 0;
    bool found = false;
    for (const char *p = in->data; p < end && (p = strstr(p, "\r\n")) != NULL && p < end; p += 2)
        if (strncasecmp(p + 2, "content-length:", 15) == 0) {
            length = strtoull(p + 17, NULL, 10);
            found = true;
        }
    if (!found) {
        fprintf(stderr, "bench_tags: an answer without Content-Length\n");
        exit(1);
    }
    if (in->len < head + length)
        return 0;
    *body = in->data + head;
    *body_len = length;
    return head + length;
}

/* Whether `in` holds `replies` whole one-line RESP replies; *failed counts those that are not integers. */
static bool resp_lines(const struct buf *in, int replies, int *failed)
{
    int lines = 0, bad = 0;
    for (const char *p = in->data, *end = in->data + in->len; p < end; lines++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            return false;
        bad += *p != ':';
        p = eol + 1;
    }
    *failed = bad;
    return lines >= replies;
}

/* ---- write --------------------------------------------------------------------- */

struct conn {
    int fd, replies;
    uint64_t counter;
    double sent_at;
    struct buf out, in;
};

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run_write(struct target *t, int port, int n_conns, double seconds, long max_requests)
{
    static struct conn conns[MAX_CONNS];
    size_t cap_lat = 1 << 16, n_lat = 0;
    double *latencies = malloc(cap_lat * sizeof(*latencies));
    long done = 0, started = 0, errors = 0;
    int ep = epoll_create1(0);
    double start = now_s(), deadline = start + seconds;
    for (int c = 0; c < n_conns; c++) {
        conns[c].fd = connect_to(port);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)c};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[c].fd, &ev);
    }
    int in_flight = 0;
    for (int c = 0; c < n_conns && (max_requests == 0 || started < max_requests); c++, started++, in_flight++) {
        conns[c].replies = make_write(t, c, conns[c].counter++, &conns[c].out);
        conns[c].sent_at = now_s();
        send_all(conns[c].fd, conns[c].out.data, conns[c].out.len);
    }
    while (in_flight > 0) {
        struct epoll_event events[MAX_CONNS];
        int n = epoll_wait(ep, events, MAX_CONNS, 1000);
        for (int e = 0; e < n; e++) {
            struct conn *c = &conns[events[e].data.u32];
            receive(c->fd, &c->in);
            int failed = 0;
            if (t->http) {
                const char *body;
                size_t body_len, whole = http_whole(&c->in, &body, &body_len);
                if (whole == 0)
                    continue;
                failed = memmem(body, body_len, "\"ret_code\":0,", 13) == NULL;
                if (failed && errors == 0)
                    fprintf(stderr, "bench_tags: %.*s\n", (int)body_len, body);
                if (whole != c->in.len) {
                    fprintf(stderr, "bench_tags: more than one answer\n");
                    return 1;
                }
            } else if (!resp_lines(&c->in, c->replies, &failed)) {
                continue;
            }
            c->in.len = 0;
            double t_now = now_s();
            in_flight--;
            if (t_now > deadline && max_requests == 0)
                continue;
            done++;
            errors += failed != 0;
            if (n_lat == cap_lat)
                latencies = realloc(latencies, (cap_lat *= 2) * sizeof(*latencies));
            latencies[n_lat++] = t_now - c->sent_at;
            if (max_requests != 0 && started >= max_requests)
                continue;
            int index = (int)(c - conns);
            c->replies = make_write(t, index, c->counter++, &c->out);
            c->sent_at = now_s();
            send_all(c->fd, c->out.data, c->out.len);
            started++;
            in_flight++;
        }
    }
    double elapsed = max_requests != 0 ? now_s() - start : seconds;
    qsort(latencies, n_lat, sizeof(*latencies), compare_double);
    printf("%.0f %.2f %.2f %ld\n", (double)done * PAIRS_PER_REQUEST / elapsed,
           n_lat ? latencies[n_lat / 2] * 1e3 : 0, n_lat ? latencies[n_lat * 99 / 100] * 1e3 : 0, errors);
    return errors != 0;
}

/* ---- scan ----------------------------------------------------------------------- */

/* One page from pushbind: its token count, and *cursor the next one ("" after the last page). */
static long http_page(int fd, const char *basic, const char *tag, int limit, char *cursor, struct buf *in)
{
    struct buf body = {0}, out = {0};
    char text[512];
    snprintf(text, sizeof(text), "{\"operator_type\":2,\"tag\":\"%s\",\"limit\":%d%s%s%s}", tag, limit,
             *cursor ? ",\"cursor\":\"" : "", cursor, *cursor ? "\"" : "");
    buf_str(&body, text);
    http_post(&out, "/pushbind/v1/tag/query", basic, &body);
    send_all(fd, out.data, out.len);
    free(body.data);
    free(out.data);
    const char *answer;
    size_t answer_len;
    in->len = 0;
    do
        receive(fd, in);
    while (http_whole(in, &answer, &answer_len) == 0);
    const char *list = strstr(answer, "\"token_list\":["), *next = strstr(answer, "\"next_cursor\":\"");
    if (list == NULL || strstr(answer, "\"ret_code\":0,") == NULL) {
        fprintf(stderr, "bench_tags: %.*s\n", (int)answer_len, answer);
        exit(1);
    }
    long tokens = 0;
    for (const char *p = list + 14; *p != ']'; p++) /* tokens here hold no quote or bracket */
        tokens += *p == '"';
    *cursor = 0;
    if (next != NULL)
        sscanf(next + 15, "%63[0-9]", cursor);
    return tokens / 2;
}

/* A whole RESP value at `p` (bulk strings and arrays of them): its end, or NULL if `in` does not hold it all. */
static const char *resp_value(const char *p, const char *end, long *members, char *cursor)
{
    const char *eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
    if (eol == NULL)
        return NULL;
    long n = strtol(p + 1, NULL, 10);
    if (*p == '*') {
        const char *q = eol + 1;
        for (long i = 0; i < n && q != NULL; i++)
            q = resp_value(q, end, NULL, NULL);
        if (members != NULL)
            *members = n;
        return q;
    }
    if (*p != '$') {
        fprintf(stderr, "bench_tags: %.*s\n", (int)(eol - p), p);
        exit(1);
    }
    if (eol + 1 + n + 2 > end)
        return NULL;
    if (cursor != NULL)
        snprintf(cursor, 64, "%.*s", (int)n, eol + 1);
    return eol + 1 + n + 2;
}

static long redis_page(int fd, const char *tag, int count, char *cursor, struct buf *in)
{
    struct buf out = {0};
    char key[256], count_text[16];
    snprintf(key, sizeof(key), "tag:%s", tag);
    snprintf(count_text, sizeof(count_text), "%d", count);
    resp_command(&out, 5, (const char *const[]){"SSCAN", key, cursor, "COUNT", count_text});
    send_all(fd, out.data, out.len);
    free(out.data);
    in->len = 0;
    long members = 0;
    for (;;) {
        receive(fd, in);
        const char *end = in->data + in->len, *eol = memchr(in->data, '\n', in->len);
        if (in->data[0] != '*') {
            fprintf(stderr, "bench_tags: %s\n", in->data);
            exit(1);
        }
        if (eol == NULL)
            continue;
        const char *after_cursor = resp_value(eol + 1, end, NULL, cursor);
        if (after_cursor != NULL && resp_value(after_cursor, end, &members, NULL) != NULL)
            break;
    }
    if (strcmp(cursor, "0") == 0)
        *cursor = 0;
    return members;
}

static int run_scan(bool http, int port, const char *tag, int page, const char *basic)
{
    int fd = connect_to(port);
    struct buf in = {0};
    char cursor[64] = "";
    long tokens = 0, pages = 0;
    double start = now_s();
    do {
        if (!http && pages == 0)
            strcpy(cursor, "0");
        tokens += http ? http_page(fd, basic, tag, page, cursor, &in) : redis_page(fd, tag, page, cursor, &in);
        pages++;
    } while (*cursor);
    double elapsed = now_s() - start;
    printf("%ld %.3f %.0f %ld\n", tokens, elapsed, tokens / elapsed, pages);
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 9 && strcmp(argv[1], "write") == 0) {
        bool http = strcmp(argv[2], "http") == 0;
        struct target t = {.http = http, .op = atoi(argv[6]), .run = argv[7]};
        if (http)
            t.basic = argv[8];
        else
            t.sides = atoi(argv[8]);
        int conns = atoi(argv[4]);
        if (conns < 1 || conns > MAX_CONNS || (t.op != 7 && t.op != 9) || strlen(t.run) > 8)
            goto usage;
        t.ordered = argc > 10 && strcmp(argv[10], "ordered") == 0;
        return run_write(&t, atoi(argv[3]), conns, atof(argv[5]), argc > 9 ? atol(argv[9]) : 0);
    }
    if (argc >= 6 && strcmp(argv[1], "scan") == 0) {
        bool http = strcmp(argv[2], "http") == 0;
        if (http && argc < 7)
            goto usage;
        return run_scan(http, atoi(argv[3]), argv[4], atoi(argv[5]), http ? argv[6] : NULL);
    }
usage:
    fprintf(stderr, "usage: bench_tags write http|redis PORT CONNS SECONDS 7|9 RUN BASIC|SIDES [REQUESTS [ordered]]\n"
                    "       bench_tags scan http PORT TAG LIMIT BASIC | scan redis PORT TAG COUNT\n");
    return 2;
}
