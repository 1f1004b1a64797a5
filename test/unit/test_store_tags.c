/*
 * test_store_tags.c — the embedded store's tags, white-box where the API
 * cannot see: a deleted tag's pairs freed by the writer on both sides, dead
 * pairs not counted against a token's limit, a limit undoing the whole
 * request, pages by seq, app removal taking the tags.
 */
#include "store_test.h"

#include <pthread.h>

#include "store/lmdb/backend.h"
#include "store/lmdb/internal.h"

struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int result;
};

static void on_done(void *arg, int result)
{
    struct waiter *w = arg;
    pthread_mutex_lock(&w->lock);
    w->done = true;
    w->result = result;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Applies `write` and waits; returns the store's result. */
static int tag_apply(struct fixture *f, pb_tag_write *write)
{
    struct waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
    if (write->max_tags_per_token == 0)
        write->max_tags_per_token = 100;
    if (write->max_tags_per_app == 0)
        write->max_tags_per_app = 10000;
    pb_store_session_turn_done(f->session);
    pb_store_tag_apply_start(f->session, APP, write, &f->pool, on_done, &w);
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    return w.result;
}

/* `tag` to tokens "t<first>".."t<first+n-1>". */
static pb_tag_outcome add_range(struct fixture *f, const char *tag, int first, int n)
{
    pb_str *tags = pb_pool_alloc(&f->pool, n * sizeof(*tags)), *tokens = pb_pool_alloc(&f->pool, n * sizeof(*tokens));
    for (int i = 0; i < n; i++) {
        char *buf = pb_pool_alloc(&f->pool, 16);
        tags[i] = pb_str_from_cstr(tag);
        tokens[i] = (pb_str){buf, (size_t)snprintf(buf, 16, "t%d", first + i)};
    }
    pb_tag_write w = {.kind = PB_TAG_ADD, .tags = tags, .tokens = tokens, .n = (size_t)n};
    assert_int_equal(tag_apply(f, &w), 0);
    return w.outcome;
}

static void lookup_done(void *arg, pb_tag_lookup *lookup)
{
    (void)lookup;
    *(bool *)arg = true;
}

/* Entries of a DUPSORT database, counted in one read transaction. */
static size_t entries(struct fixture *f, MDB_dbi dbi)
{
    pb_lmdb_session *s = pb_store_session_lmdb(f->session);
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(mdb_txn_begin(s->store->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    return st.ms_entries;
}

static size_t count_of(struct fixture *f, const char *tag)
{
    pb_str name = pb_str_from_cstr(tag);
    pb_tag_lookup l = {.kind = PB_TAG_LOOKUP_COUNTS, .access_id = APP, .tags = &name, .n = 1};
    bool done = false;
    pb_store_tag_lookup_start(f->session, &l, &f->pool, lookup_done, &done);
    assert_true(done);
    assert_int_equal(l.result, 0);
    return l.counts[0];
}

static void a_deleted_tag_is_freed_on_both_sides_in_the_background(void **state)
{
    struct fixture *f = *state;
    pb_lmdb_store *store = pb_store_session_lmdb(f->session)->store;
    for (int i = 0; i < 5000; i += 500)
        assert_int_equal(add_range(f, "big", i, 500), PB_TAG_OK);
    assert_int_equal(add_range(f, "small", 0, 3), PB_TAG_OK);
    assert_int_equal(entries(f, store->tag_tokens), 5003);
    assert_int_equal(entries(f, store->token_tags), 5003);
    pb_str big = PB_STR_LIT("big");
    pb_tag_write del = {.kind = PB_TAG_DELETE_ALL, .tags = &big, .n = 1};
    assert_int_equal(tag_apply(f, &del), 0);
    assert_int_equal(count_of(f, "big"), 0); /* gone for reads at once */
    for (int tries = 0; entries(f, store->tag_graves) != 0; tries++) {
        assert_true(tries < 500);
        usleep(10000);
    }
    assert_int_equal(entries(f, store->tag_tokens), 3);
    assert_int_equal(entries(f, store->token_tags), 3);
    assert_int_equal(count_of(f, "small"), 3);
}

static void a_dead_pair_counts_for_no_limit_and_a_limit_undoes_the_request(void **state)
{
    struct fixture *f = *state;
    pb_str tags[] = {PB_STR_LIT("a"), PB_STR_LIT("b"), PB_STR_LIT("c")};
    pb_str tokens[] = {PB_STR_LIT("x"), PB_STR_LIT("x"), PB_STR_LIT("x")};
    pb_tag_write add = {.kind = PB_TAG_ADD, .tags = tags, .tokens = tokens, .n = 2, .max_tags_per_token = 2};
    assert_int_equal(tag_apply(f, &add), 0);
    assert_int_equal(add.outcome, PB_TAG_OK);
    pb_tag_write over = {.kind = PB_TAG_ADD, .tags = tags + 1, .tokens = tokens, .n = 2, .max_tags_per_token = 2};
    assert_int_equal(tag_apply(f, &over), 0);
    assert_int_equal(over.outcome, PB_TAG_OVER_TOKEN_LIMIT);
    assert_int_equal(over.at, 1);
    assert_int_equal(count_of(f, "c"), 0);
    pb_tag_write del = {.kind = PB_TAG_DELETE_ALL, .tags = tags, .n = 1};
    assert_int_equal(tag_apply(f, &del), 0);
    pb_tag_write again = {.kind = PB_TAG_ADD, .tags = tags + 2, .tokens = tokens, .n = 1, .max_tags_per_token = 2};
    assert_int_equal(tag_apply(f, &again), 0);
    assert_int_equal(again.outcome, PB_TAG_OK);
    assert_int_equal(count_of(f, "c"), 1);
}

static void pages_resume_after_the_last_seq(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(add_range(f, "p", 0, 10), PB_TAG_OK);
    pb_str name = PB_STR_LIT("p");
    pb_tag_lookup l = {.kind = PB_TAG_LOOKUP_TOKENS_OF, .access_id = APP, .tags = &name, .n = 1, .limit = 4};
    size_t seen = 0;
    do {
        bool done = false;
        pb_store_tag_lookup_start(f->session, &l, &f->pool, lookup_done, &done);
        assert_int_equal(l.result, 0);
        for (size_t i = 0; i < l.lists[0].n; i++, seen++) {
            char want[16];
            snprintf(want, sizeof(want), "t%zu", seen);
            assert_true(pb_str_eq(l.lists[0].items[i], pb_str_from_cstr(want)));
        }
        l.after = l.next;
    } while (l.next != 0);
    assert_int_equal(seen, 10);
}

/* Past the first 16 a token's pairs are held in a grown array: every one still found by its tag. */
static void a_token_with_many_tags_keeps_them_in_order(void **state)
{
    struct fixture *f = *state;
    enum { N = 40 };
    pb_str tags[N + 1], tokens[N + 1];
    for (int i = 0; i <= N; i++) {
        char *buf = pb_pool_alloc(&f->pool, 8);
        tags[i] = (pb_str){buf, (size_t)snprintf(buf, 8, "g%d", i % N)}; /* the last one again */
        tokens[i] = PB_STR_LIT("many");
    }
    pb_tag_write add = {.kind = PB_TAG_ADD, .tags = tags, .tokens = tokens, .n = N + 1};
    assert_int_equal(tag_apply(f, &add), 0);
    assert_int_equal(add.outcome, PB_TAG_OK);
    pb_tag_lookup l = {.kind = PB_TAG_LOOKUP_TAGS_OF, .access_id = APP, .tokens = tokens, .n = 1};
    bool done = false;
    pb_store_tag_lookup_start(f->session, &l, &f->pool, lookup_done, &done);
    assert_int_equal(l.result, 0);
    assert_int_equal(l.lists[0].n, N);
    for (int i = 0; i < N; i++)
        assert_true(pb_str_eq(l.lists[0].items[i], tags[i]));
}

/* A request keeps one tag's record at a time (tag_apply.c): requests that switch between tags count each right. */
static void a_request_switching_tags_counts_each(void **state)
{
    struct fixture *f = *state;
    pb_str tags[] = {PB_STR_LIT("a"), PB_STR_LIT("b"), PB_STR_LIT("a"), PB_STR_LIT("b"), PB_STR_LIT("a")};
    pb_str tokens[] = {PB_STR_LIT("x1"), PB_STR_LIT("x1"), PB_STR_LIT("x2"), PB_STR_LIT("x2"), PB_STR_LIT("x3")};
    pb_tag_write add = {.kind = PB_TAG_ADD, .tags = tags, .tokens = tokens, .n = 5};
    assert_int_equal(tag_apply(f, &add), 0);
    assert_int_equal(add.outcome, PB_TAG_OK);
    assert_int_equal(count_of(f, "a"), 3);
    assert_int_equal(count_of(f, "b"), 2);
    /* b emptied by one request (its record deleted), then made again by another: it counts from zero */
    pb_tag_write gone = {.kind = PB_TAG_REMOVE, .tags = tags + 1, .tokens = tokens + 1, .n = 3};
    assert_int_equal(tag_apply(f, &gone), 0);
    assert_int_equal(count_of(f, "b"), 0);
    assert_int_equal(count_of(f, "a"), 2);
    pb_str again_tags[] = {PB_STR_LIT("b"), PB_STR_LIT("a"), PB_STR_LIT("b")};
    pb_str again_tokens[] = {PB_STR_LIT("x2"), PB_STR_LIT("x2"), PB_STR_LIT("x9")};
    pb_tag_write back = {.kind = PB_TAG_ADD, .tags = again_tags, .tokens = again_tokens, .n = 3};
    assert_int_equal(tag_apply(f, &back), 0);
    assert_int_equal(back.outcome, PB_TAG_OK);
    assert_int_equal(count_of(f, "b"), 2);
    assert_int_equal(count_of(f, "a"), 3);
}

static void removing_the_app_removes_its_tags(void **state)
{
    struct fixture *f = *state;
    pb_lmdb_store *store = pb_store_session_lmdb(f->session)->store;
    assert_int_equal(add_range(f, "r", 0, 20), PB_TAG_OK);
    uint64_t removed;
    assert_int_equal(pb_store_app_remove(f->session, APP, &removed), 0);
    assert_int_equal(entries(f, store->tag_tokens) + entries(f, store->token_tags) + entries(f, store->tags), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_deleted_tag_is_freed_on_both_sides_in_the_background, setup, teardown),
        cmocka_unit_test_setup_teardown(a_dead_pair_counts_for_no_limit_and_a_limit_undoes_the_request, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(pages_resume_after_the_last_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(a_token_with_many_tags_keeps_them_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(a_request_switching_tags_counts_each, setup, teardown),
        cmocka_unit_test_setup_teardown(removing_the_app_removes_its_tags, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
