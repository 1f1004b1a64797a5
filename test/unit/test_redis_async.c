/*
 * hiredis's async API on an h2o event loop (store/redis/net/h2o_adapter.h),
 * against a real redis-server this test starts on a port of its own
 * (PB_TEST_REDIS_ASYNC_PORT, default 31730; the build sets PB_TEST_PORT_BASE
 * + 501). When that server cannot be started the group's setup fails, and
 * with it the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "store/redis/net/h2o_adapter.h"

#define TEST_LOOP_DEADLINE_MS 5000

static pid_t server_pid;
static int server_port;
static char server_dir[64];

typedef struct outcome {
    int replies;          /* reply callbacks run */
    int null_replies;     /* of them, with no reply (connection gone) */
    int connected;        /* connect callback's status + 1 (0: not called) */
    int disconnected;     /* disconnect callback's status + 1 (0: not called) */
    long long last_integer;
    size_t last_len;
    char last_str[64];
    redisAsyncContext *ac;
} outcome;

static int start_server(void **state)
{
    const char *env = getenv("PB_TEST_REDIS_ASYNC_PORT");
    server_port = env ? atoi(env) : 31730;
    snprintf(server_dir, sizeof server_dir, "/tmp/pb-redis-async-XXXXXX");
    if (mkdtemp(server_dir) == NULL)
        return -1;
    char port[16], logfile[96];
    snprintf(logfile, sizeof logfile, "%s/redis.log", server_dir);
    snprintf(port, sizeof port, "%d", server_port);
    server_pid = fork();
    if (server_pid == 0) {
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", server_dir, "--logfile", logfile, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        redisContext *c = redisConnect("127.0.0.1", server_port);
        if (c != NULL && c->err == 0) {
            redisReply *r = redisCommand(c, "PING");
            int ok = r != NULL && r->type == REDIS_REPLY_STATUS;
            freeReplyObject(r);
            redisFree(c);
            if (ok)
                return 0;
        } else if (c != NULL) {
            redisFree(c);
        }
        usleep(20000);
    }
    return -1;
}

static int stop_server(void **state)
{
    kill(server_pid, SIGTERM);
    waitpid(server_pid, NULL, 0);
    char logfile[96];
    snprintf(logfile, sizeof logfile, "%s/redis.log", server_dir);
    unlink(logfile);
    rmdir(server_dir);
    return 0;
}

/* Runs the loop until `*count` reaches `target`; false when the deadline passes first. */
static bool run_until(h2o_evloop_t *loop, const int *count, int target)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (*count < target) {
        h2o_evloop_run(loop, 10);
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (ms > TEST_LOOP_DEADLINE_MS)
            return false;
    }
    return true;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    outcome *o = privdata;
    redisReply *reply = r;
    o->replies++;
    if (reply == NULL) {
        o->null_replies++;
        return;
    }
    if (reply->type == REDIS_REPLY_INTEGER)
        o->last_integer = reply->integer;
    if (reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS) {
        o->last_len = reply->len;
        snprintf(o->last_str, sizeof o->last_str, "%.*s", (int)(reply->len < 63 ? reply->len : 63), reply->str);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    outcome *o = ac->data;
    o->connected = status == REDIS_OK ? 1 : 2;
    if (status != REDIS_OK)
        o->ac = NULL; /* a connection that never opened is freed without a disconnect callback */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    outcome *o = ac->data;
    o->disconnected = status == REDIS_OK ? 1 : 2;
    o->ac = NULL;
}

static redisAsyncContext *connect_to(h2o_evloop_t *loop, outcome *o, int port)
{
    o->ac = pb_redis_async_connect(loop, "127.0.0.1", port, on_connect, on_disconnect, o);
    return o->ac;
}

static void async_command_answers_on_the_loop(void **state)
{
    h2o_evloop_t *loop = h2o_evloop_create();
    outcome o = {0};
    assert_non_null(connect_to(loop, &o, server_port));
    assert_int_equal(redisAsyncCommand(o.ac, on_reply, &o, "SET async:k %s", "v1"), REDIS_OK);
    assert_int_equal(redisAsyncCommand(o.ac, on_reply, &o, "GET async:k"), REDIS_OK);
    assert_int_equal(o.replies, 0); /* nothing happens until the loop runs */
    assert_true(run_until(loop, &o.replies, 2));
    assert_int_equal(o.connected, 1);
    assert_int_equal(o.replies, 2);
    assert_string_equal(o.last_str, "v1");
    redisAsyncDisconnect(o.ac);
    assert_true(run_until(loop, &o.disconnected, 1));
    assert_int_equal(o.disconnected, 1);
    h2o_evloop_destroy(loop);
}

typedef struct counter {
    int n;
    int expected;
    int in_order;
} counter;

static void on_incr(redisAsyncContext *ac, void *r, void *privdata)
{
    counter *c = privdata;
    redisReply *reply = r;
    c->n++;
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER || reply->integer != c->n)
        c->in_order = 0;
}

static void commands_pipeline_in_order(void **state)
{
    h2o_evloop_t *loop = h2o_evloop_create();
    outcome o = {0};
    assert_non_null(connect_to(loop, &o, server_port));
    counter c = {.expected = 20000, .in_order = 1};
    redisAsyncCommand(o.ac, NULL, NULL, "DEL async:n");
    for (int i = 0; i < c.expected; i++)
        assert_int_equal(redisAsyncCommand(o.ac, on_incr, &c, "INCR async:n"), REDIS_OK);
    assert_true(run_until(loop, &c.n, c.expected));
    assert_int_equal(c.n, c.expected);
    assert_true(c.in_order);
    redisAsyncFree(o.ac);
    assert_int_equal(o.disconnected, 1);
    h2o_evloop_destroy(loop);
}

static void large_reply_arrives_in_many_reads(void **state)
{
    h2o_evloop_t *loop = h2o_evloop_create();
    outcome o = {0};
    assert_non_null(connect_to(loop, &o, server_port));
    size_t len = 4u << 20;
    char *big = malloc(len);
    memset(big, 'x', len);
    redisAsyncCommand(o.ac, on_reply, &o, "SET async:big %b", big, len);
    redisAsyncCommand(o.ac, on_reply, &o, "GET async:big");
    free(big); /* hiredis formatted its own copy */
    assert_true(run_until(loop, &o.replies, 2));
    assert_int_equal(o.last_len, len);
    redisAsyncFree(o.ac);
    h2o_evloop_destroy(loop);
}

static void refused_connection_reports_an_error(void **state)
{
    h2o_evloop_t *loop = h2o_evloop_create();
    outcome o = {0};
    /*
     * The port just above the server's is ours too, and nothing listens on
     * it. hiredis connects without blocking, so the refusal comes later, on
     * the loop: the connection starts (NULL would mean it could not even be
     * attached) and then fails through the callbacks.
     */
    assert_non_null(connect_to(loop, &o, server_port + 1));
    assert_int_equal(redisAsyncCommand(o.ac, on_reply, &o, "PING"), REDIS_OK);
    assert_true(run_until(loop, &o.connected, 1));
    assert_int_equal(o.connected, 2);
    assert_int_equal(o.replies, 1);
    assert_int_equal(o.null_replies, 1);
    assert_null(o.ac); /* hiredis freed it; the connect callback said so */
    h2o_evloop_destroy(loop);
}

static void killed_connection_fails_pending_replies(void **state)
{
    h2o_evloop_t *loop = h2o_evloop_create();
    outcome o = {0};
    assert_non_null(connect_to(loop, &o, server_port));
    redisAsyncCommand(o.ac, on_reply, &o, "CLIENT SETNAME async-victim");
    assert_true(run_until(loop, &o.replies, 1));
    /* BLPOP holds a reply open; another client kills the connection under it */
    redisAsyncCommand(o.ac, on_reply, &o, "BLPOP async:never 0");
    redisAsyncCommand(o.ac, on_reply, &o, "PING");
    for (int i = 0; i < 5; i++)
        h2o_evloop_run(loop, 10);
    redisContext *killer = redisConnect("127.0.0.1", server_port);
    assert_true(killer != NULL && killer->err == 0);
    freeReplyObject(redisCommand(killer, "CLIENT KILL SKIPME yes TYPE normal"));
    redisFree(killer);
    assert_true(run_until(loop, &o.disconnected, 1));
    assert_int_equal(o.disconnected, 2);
    assert_int_equal(o.replies, 3);
    assert_int_equal(o.null_replies, 2);
    assert_null(o.ac);
    h2o_evloop_destroy(loop);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(async_command_answers_on_the_loop),
        cmocka_unit_test(commands_pipeline_in_order),
        cmocka_unit_test(large_reply_arrives_in_many_reads),
        cmocka_unit_test(refused_connection_reports_an_error),
        cmocka_unit_test(killed_connection_fails_pending_replies),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
