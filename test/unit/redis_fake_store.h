/*
 * A Redis store, a session and a slot map with no server behind them, for
 * the unit tests that run the write machine on replies of their own making
 * (test_redis_apply.c, test_redis_tags.c): one seed node, 127.0.0.1:1, never
 * connected to, which owns every slot. Each test's fixture begins with one,
 * made and freed by redis_fake_store_new() and redis_fake_store_free().
 */
#ifndef PB_TEST_REDIS_FAKE_STORE_H
#define PB_TEST_REDIS_FAKE_STORE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "store/redis/apply_machine.h"

typedef struct redis_fake_store {
    pb_redis_store store;
    pb_redis_session session;
    pb_redis_conn map;
    char *seed_host;
    uint16_t seed_port;
    pb_pool pool; /* the write's, and the test's copies of what it saw */
} redis_fake_store;

/* Readies `s` in place (it points into itself); 0, or -1 when the map cannot be made. */
static inline int redis_fake_store_init(redis_fake_store *s)
{
    pb_pool_init(&s->pool);
    s->seed_host = "127.0.0.1";
    s->seed_port = 1;
    s->store.target = (pb_redis_target){.cluster = false, .n_seeds = 1, .seed_hosts = &s->seed_host,
                                        .seed_ports = &s->seed_port, .timeout_ms = 2000};
    s->store.prefix = "pb";
    s->store.limits = (pb_store_limits){.max_accounts_per_token = 100, .max_tokens_per_account = 100};
    pb_redis_scripts_init(&s->store.scripts);
    s->session.store = &s->store;
    if (pb_redis_conn_init(&s->map, &s->store.target) != 0)
        return -1;
    return pb_redis_map_seeds(&s->map) == 1 ? 0 : -1; /* one server: node 0 owns every slot */
}

/*
 * A test's fixture of `size` bytes, zeroed, that begins with a
 * redis_fake_store, readied: what each test's setup makes. The test fails
 * when it cannot be made.
 */
static inline void *redis_fake_store_new(size_t size)
{
    redis_fake_store *s = calloc(1, size);
    assert_non_null(s);
    assert_int_equal(redis_fake_store_init(s), 0);
    return s;
}

/* Frees a fixture from redis_fake_store_new(), the store's pool and map included. */
static inline void redis_fake_store_free(void *fixture)
{
    redis_fake_store *s = fixture;
    pb_pool_clear(&s->pool);
    pb_redis_conn_free(&s->map);
    free(s);
}

#endif
