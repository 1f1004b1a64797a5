/*
 * test_store.c — the embedded store (store/lmdb.c) against store.h's contract
 * and docs/API.md's batchoperate rules. Each test gets its own data directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/lmdb/internal.h" /* pb_lmdb_commit_group, for the group commit tests */
#include "store/store.h"

#define APP 1500001048u
#define OTHER_APP 1500001049u
#define SECRET "1452fcebae9f3115ba794fb0fff2fd73"
#define MIB (1024u * 1024u)

struct fixture {
    char dir[64];
    pb_store_config config;
    pb_store *store;
    pb_store_session *session;
    pb_pool pool;
};

static void open_store(struct fixture *f)
{
    char *err = NULL;
    f->store = pb_store_open(&f->config, &err);
    if (f->store == NULL)
        fail_msg("pb_store_open: %s", err != NULL ? err : "?");
    f->session = pb_store_session_open(f->store);
    assert_non_null(f->session);
}

static void close_store(struct fixture *f)
{
    pb_store_session_close(f->session);
    pb_store_close(f->store);
    f->session = NULL;
    f->store = NULL;
}

static void create_app(struct fixture *f, uint64_t access_id)
{
    bool created = false;
    assert_int_equal(pb_store_app_put(f->session, access_id, PB_STR_LIT(SECRET), &created), 0);
    assert_true(created);
}

/* A fresh store in its own temporary directory, holding app APP. */
static struct fixture *fixture_new(uint64_t map_size, uint32_t accounts_per_token, uint32_t tokens_per_account)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    strcpy(f->dir, "/tmp/pushbind-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->config = (pb_store_config){.data_dir = f->dir, .map_size = map_size, .limits = {accounts_per_token, tokens_per_account}};
    pb_pool_init(&f->pool);
    open_store(f);
    create_app(f, APP);
    return f;
}

static int setup(void **state)
{
    *state = fixture_new(64 * MIB, 32, 100);
    return 0;
}

static int setup_small_limits(void **state)
{
    *state = fixture_new(64 * MIB, 3, 2);
    return 0;
}

static int setup_small_map(void **state)
{
    *state = fixture_new(1 * MIB, 32, 100);
    return 0;
}

static void remove_dir(const char *path)
{
    DIR *dir = opendir(path);
    if (dir == NULL)
        return;
    for (struct dirent *entry; (entry = readdir(dir)) != NULL;) {
        char file[512];
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        snprintf(file, sizeof(file), "%s/%s", path, entry->d_name);
        unlink(file);
    }
    closedir(dir);
    rmdir(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->store != NULL)
        close_store(f);
    pb_pool_clear(&f->pool);
    remove_dir(f->dir);
    free(f);
    return 0;
}

/* ---- Helpers: accounts written as "name" or "name/type", comma-separated */

static size_t parse_accounts(struct fixture *f, const char *csv, pb_account **out)
{
    size_t n = 0, cap = 1;
    for (const char *p = csv; *p != '\0'; p++)
        cap += *p == ',';
    pb_account *accounts = pb_pool_alloc(&f->pool, cap * sizeof(*accounts));
    char *copy = pb_pool_alloc(&f->pool, strlen(csv) + 1);
    strcpy(copy, csv);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *slash = strchr(item, '/');
        uint32_t type = 0;
        if (slash != NULL) {
            *slash = '\0';
            type = (uint32_t)strtoul(slash + 1, NULL, 10);
        }
        accounts[n++] = (pb_account){pb_str_from_cstr(item), type};
    }
    *out = accounts;
    return n;
}

static pb_change make_change(struct fixture *f, pb_change_kind kind, const char *token, const char *accounts)
{
    pb_change change = {.kind = kind, .token = pb_str_from_cstr(token)};
    pb_account *list;
    change.n_accounts = parse_accounts(f, accounts, &list);
    change.accounts = list;
    return change;
}

/* Applies one change to `app` and returns its outcome (PB_CHANGE_OK, PB_CHANGE_OVER_LIMIT, …). */
static pb_change_outcome apply_to(struct fixture *f, uint64_t app, pb_change_kind kind, const char *token, const char *accounts)
{
    pb_change change = make_change(f, kind, token, accounts);
    pb_change_outcome outcome = -1;
    int rc = pb_store_apply(f->session, app, &change, 1, &outcome);
    if (rc != 0)
        fail_msg("pb_store_apply: %d (%s)", rc, pb_store_session_error(f->session));
    return outcome;
}

static pb_change_outcome apply1(struct fixture *f, pb_change_kind kind, const char *token, const char *accounts)
{
    return apply_to(f, APP, kind, token, accounts);
}

/* The accounts bound to `token` in `app`, oldest first, as "a,b/1". */
static const char *accounts_in(struct fixture *f, uint64_t app, const char *token)
{
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    pb_str t = pb_str_from_cstr(token);
    pb_account_list list;
    assert_int_equal(pb_store_accounts_of(view, app, &t, 1, false, &f->pool, &list), 0);
    size_t size = 1;
    for (size_t i = 0; i < list.n; i++)
        size += list.accounts[i].name.len + 16;
    char *text = pb_pool_alloc(&f->pool, size), *p = text;
    *p = '\0';
    for (size_t i = 0; i < list.n; i++) {
        const pb_account *a = &list.accounts[i];
        p += sprintf(p, "%s%.*s", i == 0 ? "" : ",", (int)a->name.len, a->name.base);
        if (a->type != 0)
            p += sprintf(p, "/%u", a->type);
    }
    pb_store_view_end(view);
    return text;
}

static const char *accounts_of(struct fixture *f, const char *token)
{
    return accounts_in(f, APP, token);
}

/* The tokens bound to `account` ("name" or "name/type") in `app`, as "t1,t2". */
static const char *tokens_in(struct fixture *f, uint64_t app, const char *account)
{
    pb_account *a;
    assert_int_equal(parse_accounts(f, account, &a), 1);
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    pb_token_list list;
    assert_int_equal(pb_store_tokens_of(view, app, a, 1, false, &f->pool, &list), 0);
    size_t size = 1;
    for (size_t i = 0; i < list.n; i++)
        size += list.tokens[i].len + 1;
    char *text = pb_pool_alloc(&f->pool, size), *p = text;
    *p = '\0';
    for (size_t i = 0; i < list.n; i++)
        p += sprintf(p, "%s%.*s", i == 0 ? "" : ",", (int)list.tokens[i].len, list.tokens[i].base);
    pb_store_view_end(view);
    return text;
}

static const char *tokens_of(struct fixture *f, const char *account)
{
    return tokens_in(f, APP, account);
}

struct app_rows {
    char text[512];
};

/* Appends "id:bindings;" per app, for pb_store_app_list(). */
static void collect_app(void *arg, const pb_app_info *app)
{
    struct app_rows *rows = arg;
    size_t used = strlen(rows->text);
    snprintf(rows->text + used, sizeof(rows->text) - used, "%llu:%llu;", (unsigned long long)app->access_id,
             (unsigned long long)app->bindings);
}

static const char *list_apps(struct fixture *f, struct app_rows *rows)
{
    rows->text[0] = '\0';
    assert_int_equal(pb_store_app_list(f->session, collect_app, rows), 0);
    return rows->text;
}

/* ---- Binding semantics ------------------------------------------------- */

static void append_binds_accounts_in_list_order(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "c,a,b"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "c,a,b");
    assert_string_equal(tokens_of(f, "a"), "t1");
}

static void append_keeps_existing_binding_in_place(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "c,a"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "a,b,c");
    /* Re-binding a to t1 must not move t1 after t2 in a's list either. */
    assert_string_equal(tokens_of(f, "a"), "t1,t2");
}

static void overwrite_replaces_accounts_keeping_order_of_kept_ones(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b,c"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_OVERWRITE, "t1", "e,b,d,a"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "a,b,e,d");
    assert_string_equal(tokens_of(f, "c"), "");
    assert_string_equal(tokens_of(f, "e"), "t1");
}

static void remove_requires_matching_type(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,a/1,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_REMOVE, "t1", "a/2"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "a,a/1,b");
    assert_int_equal(apply1(f, PB_CHANGE_REMOVE, "t1", "a/1,zz"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "a,b");
    assert_string_equal(tokens_of(f, "a/1"), "");
    assert_string_equal(tokens_of(f, "a"), "t1");
}

static void clear_token_unbinds_both_sides(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_TOKEN, "t1", ""), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "");
    assert_string_equal(tokens_of(f, "a"), "t2");
    assert_string_equal(tokens_of(f, "b"), "");
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_TOKEN, "never-bound", ""), PB_CHANGE_OK);
}

static void clear_account_unbinds_both_sides(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a/1,a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_ACCOUNT, "ignored", "a"), PB_CHANGE_OK);
    assert_string_equal(tokens_of(f, "a"), "");
    assert_string_equal(accounts_of(f, "t1"), "b");
    assert_string_equal(accounts_of(f, "t2"), "a/1");
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_ACCOUNT, "", "never-bound"), PB_CHANGE_OK);
}

static void token_limit_fails_whole_change_and_changes_nothing(void **state)
{
    struct fixture *f = *state; /* 3 accounts per token */
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "c,d"), PB_CHANGE_OVER_LIMIT);
    assert_int_equal(apply1(f, PB_CHANGE_OVERWRITE, "t1", "a,c,d,e"), PB_CHANGE_OVER_LIMIT);
    assert_string_equal(accounts_of(f, "t1"), "a,b");
    assert_string_equal(tokens_of(f, "c"), "");
    assert_string_equal(tokens_of(f, "d"), "");
    /* Exactly at the limit is allowed. */
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "b,c"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "a,b,c");
}

static void account_limit_fails_whole_change_and_changes_nothing(void **state)
{
    struct fixture *f = *state; /* 2 tokens per account */
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t3", "b,a"), PB_CHANGE_OVER_LIMIT);
    assert_int_equal(apply1(f, PB_CHANGE_OVERWRITE, "t3", "b,a"), PB_CHANGE_OVER_LIMIT);
    assert_string_equal(accounts_of(f, "t3"), "");
    assert_string_equal(tokens_of(f, "b"), "");
    assert_string_equal(tokens_of(f, "a"), "t1,t2");
    /* An account already bound to the token does not count again. */
    assert_int_equal(apply1(f, PB_CHANGE_OVERWRITE, "t2", "b,a"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t2"), "a,b");
}

static void failed_change_does_not_undo_earlier_changes_in_same_apply(void **state)
{
    struct fixture *f = *state; /* 3 accounts per token */
    pb_change changes[] = {
        make_change(f, PB_CHANGE_APPEND, "t1", "a,b"),
        make_change(f, PB_CHANGE_APPEND, "t1", "c,d"), /* 4 > 3 */
        make_change(f, PB_CHANGE_APPEND, "t2", "d"),
        make_change(f, PB_CHANGE_REMOVE, "t1", "a"),
    };
    pb_change_outcome outcomes[4] = {-1, -1, -1, -1};
    assert_int_equal(pb_store_apply(f->session, APP, changes, 4, outcomes), 0);
    assert_int_equal(outcomes[0], PB_CHANGE_OK);
    assert_int_equal(outcomes[1], PB_CHANGE_OVER_LIMIT);
    assert_int_equal(outcomes[2], PB_CHANGE_OK);
    assert_int_equal(outcomes[3], PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "b");
    assert_string_equal(accounts_of(f, "t2"), "d");
    assert_string_equal(tokens_of(f, "c"), "");
    assert_string_equal(tokens_of(f, "d"), "t2");
}

static void later_change_sees_earlier_one_in_same_apply(void **state)
{
    struct fixture *f = *state;
    pb_change changes[] = {
        make_change(f, PB_CHANGE_APPEND, "t1", "a"),
        make_change(f, PB_CHANGE_APPEND, "t2", "a"),
        make_change(f, PB_CHANGE_APPEND, "t1", "b,a"),
    };
    pb_change_outcome outcomes[3];
    assert_int_equal(pb_store_apply(f->session, APP, changes, 3, outcomes), 0);
    assert_string_equal(accounts_of(f, "t1"), "a,b");
    assert_string_equal(tokens_of(f, "a"), "t1,t2");
}

static void same_name_different_type_are_different_accounts(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "13800000000/1,13800000000"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "13800000000/2"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t1"), "13800000000/1,13800000000");
    assert_string_equal(tokens_of(f, "13800000000"), "t1");
    assert_string_equal(tokens_of(f, "13800000000/1"), "t1");
    assert_string_equal(tokens_of(f, "13800000000/2"), "t2");
}

static void apps_are_isolated(void **state)
{
    struct fixture *f = *state;
    create_app(f, OTHER_APP);
    assert_int_equal(apply_to(f, APP, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_APPEND, "t1", "b"), PB_CHANGE_OK);
    assert_string_equal(accounts_in(f, APP, "t1"), "a");
    assert_string_equal(accounts_in(f, OTHER_APP, "t1"), "b");
    assert_string_equal(tokens_in(f, OTHER_APP, "a"), "");
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_CLEAR_TOKEN, "t1", ""), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_CLEAR_ACCOUNT, "", "a"), PB_CHANGE_OK);
    assert_string_equal(accounts_in(f, APP, "t1"), "a");
    assert_string_equal(tokens_in(f, APP, "a"), "t1");
}

/* docs/API.md: the overwrite example, then the query-by-token sample of the TPNS page. */
static void many_to_many_matches_spec_sample(void **state)
{
    struct fixture *f = *state;
    pb_change changes[] = {
        make_change(f, PB_CHANGE_OVERWRITE, "token1", "926@126.com,1527000000"),
        make_change(f, PB_CHANGE_OVERWRITE, "token2", "926@163.com,1527000001"),
    };
    pb_change_outcome outcomes[2];
    assert_int_equal(pb_store_apply(f->session, APP, changes, 2, outcomes), 0);
    assert_int_equal(outcomes[0], PB_CHANGE_OK);
    assert_int_equal(outcomes[1], PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "token1"), "926@126.com,1527000000");
    assert_string_equal(accounts_of(f, "token2"), "926@163.com,1527000001");

    /* The query page's by-account sample: token2 under both accounts. */
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "token1", "account1"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "token2", "account1,account2"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "token3", "account2"), PB_CHANGE_OK);
    assert_string_equal(tokens_of(f, "account1"), "token1,token2");
    assert_string_equal(tokens_of(f, "account2"), "token2,token3");
}

static void lookup_answers_each_item_in_input_order(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "b,a"), PB_CHANGE_OK);
    pb_str tokens[] = {PB_STR_LIT("t2"), PB_STR_LIT("nope"), PB_STR_LIT("t1")};
    pb_account_list lists[3];
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    assert_int_equal(pb_store_accounts_of(view, APP, tokens, 3, false, &f->pool, lists), 0);
    assert_int_equal(lists[0].n, 2);
    assert_true(pb_str_eq(lists[0].accounts[0].name, PB_STR_LIT("b")));
    assert_true(pb_str_eq(lists[0].accounts[1].name, PB_STR_LIT("a")));
    assert_int_equal(lists[1].n, 0);
    assert_int_equal(lists[2].n, 1);
    assert_true(pb_str_eq(lists[2].accounts[0].name, PB_STR_LIT("a")));
    pb_store_view_end(view);
}

static void view_is_a_snapshot(void **state)
{
    struct fixture *f = *state;
    pb_store_session *reader = pb_store_session_open(f->store);
    assert_non_null(reader);
    pb_store_view *view = pb_store_view_begin(reader);
    assert_non_null(view);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);
    pb_str token = PB_STR_LIT("t1");
    pb_account_list list;
    assert_int_equal(pb_store_accounts_of(view, APP, &token, 1, false, &f->pool, &list), 0);
    assert_int_equal(list.n, 0);
    pb_store_view_end(view);
    /* A view begun after apply() returned sees it (same reused read txn). */
    view = pb_store_view_begin(reader);
    assert_non_null(view);
    assert_int_equal(pb_store_accounts_of(view, APP, &token, 1, false, &f->pool, &list), 0);
    assert_int_equal(list.n, 1);
    pb_store_view_end(view);
    pb_store_session_close(reader);
}

/*
 * h2o's pool keeps freed chunks in a thread-local list that is lost when the
 * thread exits, so the pool is cleared by the main thread after the join.
 */
struct worker {
    pb_store *store;
    int no;
    int failures;
    pb_pool pool;
};

/* Binds token "w<no>-<i>" to account "w<no>" 20 times, reading after each. */
static void *bind_on_own_session(void *arg)
{
    struct worker *w = arg;
    pb_store_session *session = pb_store_session_open(w->store);
    if (session == NULL) {
        w->failures++;
        return NULL;
    }
    char name[16], token[32];
    snprintf(name, sizeof(name), "w%d", w->no);
    pb_account account = {pb_str_from_cstr(name), 0};
    for (int i = 0; i < 20; i++) {
        snprintf(token, sizeof(token), "w%d-%02d", w->no, i);
        pb_change change = {.kind = PB_CHANGE_APPEND, .token = pb_str_from_cstr(token), .accounts = &account, .n_accounts = 1};
        pb_change_outcome outcome;
        pb_token_list list;
        w->failures += pb_store_apply(session, APP, &change, 1, &outcome) != 0 || outcome != PB_CHANGE_OK;
        pb_store_view *view = pb_store_view_begin(session);
        w->failures += view == NULL || pb_store_tokens_of(view, APP, &account, 1, false, &w->pool, &list) != 0 ||
                       list.n != (size_t)i + 1 || !pb_str_eq(list.tokens[i], pb_str_from_cstr(token));
        if (view != NULL)
            pb_store_view_end(view);
    }
    pb_store_session_close(session);
    return NULL;
}

static void sessions_on_several_threads_share_one_store(void **state)
{
    struct fixture *f = *state;
    struct worker workers[4];
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) {
        workers[i] = (struct worker){f->store, i, 0, {0}};
        pb_pool_init(&workers[i].pool);
        assert_int_equal(pthread_create(&threads[i], NULL, bind_on_own_session, &workers[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        pb_pool_clear(&workers[i].pool);
        assert_int_equal(workers[i].failures, 0);
    }
    assert_string_equal(accounts_of(f, "w3-19"), "w3");
    struct app_rows rows;
    assert_string_equal(list_apps(f, &rows), "1500001048:80;");
}

/* ---- Durability, apps, failures ---------------------------------------- */

static void bindings_survive_reopen(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    close_store(f);
    open_store(f);
    assert_string_equal(accounts_of(f, "t1"), "a,b");
    assert_string_equal(tokens_of(f, "a"), "t1,t2");
    /* The sequence survived too: a new binding sorts after the old ones. */
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t0", "a"), PB_CHANGE_OK);
    assert_string_equal(tokens_of(f, "a"), "t1,t2,t0");
}

static void app_put_list_remove(void **state)
{
    struct fixture *f = *state;
    struct app_rows rows;
    bool created = true;
    pb_str secret;

    create_app(f, 7);
    assert_int_equal(pb_store_app_put(f->session, APP, PB_STR_LIT("new-secret"), &created), 0);
    assert_false(created);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_string_equal(list_apps(f, &rows), "7:0;1500001048:2;");

    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    assert_int_equal(pb_store_app_secret(view, APP, &secret), 0);
    assert_true(pb_str_eq(secret, PB_STR_LIT("new-secret")));
    assert_int_equal(pb_store_app_secret(view, 8, &secret), PB_STORE_ENOTFOUND);
    pb_store_view_end(view);

    uint64_t removed = 99;
    assert_int_equal(pb_store_app_remove(f->session, 7, &removed), 0);
    assert_int_equal(removed, 0);
    assert_int_equal(pb_store_app_remove(f->session, 7, &removed), PB_STORE_ENOTFOUND);
    assert_string_equal(list_apps(f, &rows), "1500001048:2;");
}

static void app_list_counts_bindings(void **state)
{
    struct fixture *f = *state;
    struct app_rows rows;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b,c"), PB_CHANGE_OK);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    assert_string_equal(list_apps(f, &rows), "1500001048:4;");
    assert_int_equal(apply1(f, PB_CHANGE_OVERWRITE, "t1", "d"), PB_CHANGE_OK);
    assert_string_equal(list_apps(f, &rows), "1500001048:2;");
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_ACCOUNT, "", "a"), PB_CHANGE_OK);
    assert_string_equal(list_apps(f, &rows), "1500001048:1;");
}

static void app_put_rejects_oversized_secret(void **state)
{
    struct fixture *f = *state;
    char big[300];
    bool created;
    memset(big, 'x', sizeof(big));
    assert_int_equal(pb_store_app_put(f->session, 9, (pb_str){big, sizeof(big)}, &created), PB_STORE_EINVAL);
    assert_string_not_equal(pb_store_session_error(f->session), "");
}

static void app_remove_deletes_its_bindings_only(void **state)
{
    struct fixture *f = *state;
    struct app_rows rows;
    create_app(f, OTHER_APP);
    assert_int_equal(apply_to(f, APP, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, APP, PB_CHANGE_APPEND, "t2", "a"), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);

    uint64_t removed = 0;
    assert_int_equal(pb_store_app_remove(f->session, APP, &removed), 0);
    assert_int_equal(removed, 3);
    assert_string_equal(list_apps(f, &rows), "1500001049:1;");
    assert_string_equal(accounts_in(f, OTHER_APP, "t1"), "a");
    assert_string_equal(tokens_in(f, OTHER_APP, "a"), "t1");

    create_app(f, APP); /* comes back empty */
    assert_string_equal(accounts_in(f, APP, "t1"), "");
    assert_string_equal(tokens_in(f, APP, "a"), "");
}

static void apply_to_unknown_app_changes_nothing(void **state)
{
    struct fixture *f = *state;
    pb_change change = make_change(f, PB_CHANGE_APPEND, "t1", "a");
    pb_change_outcome outcome;
    assert_int_equal(pb_store_apply(f->session, 42, &change, 1, &outcome), PB_STORE_ENOTFOUND);
    create_app(f, 42);
    assert_string_equal(accounts_in(f, 42, "t1"), "");
    assert_string_equal(tokens_in(f, 42, "a"), "");
}

static void long_key_is_an_error_not_a_crash(void **state)
{
    struct fixture *f = *state;
    char token400[401], name400[401], huge[1001];
    memset(token400, 't', 400);
    token400[400] = '\0';
    memset(name400, 'n', 400);
    name400[400] = '\0';
    memset(huge, 'h', 1000);
    huge[1000] = '\0';

    assert_int_equal(apply1(f, PB_CHANGE_APPEND, token400, name400), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, token400), name400);
    assert_string_equal(tokens_of(f, name400), token400);

    assert_int_equal(apply1(f, PB_CHANGE_APPEND, huge, "a"), PB_CHANGE_OVER_LIMIT);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", huge), PB_CHANGE_OVER_LIMIT);
    assert_int_equal(apply1(f, PB_CHANGE_CLEAR_ACCOUNT, "", huge), PB_CHANGE_OVER_LIMIT);
    assert_string_equal(accounts_of(f, "t1"), "");
    assert_string_equal(accounts_of(f, huge), "");
    assert_string_equal(tokens_of(f, huge), "");
}

/* Binds refused at the reserve (store/lmdb/space.c) change nothing; the ones before stay whole. */
static void full_store_refuses_binds_and_changes_nothing(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    char token[32], accounts[16 * 120];
    int acked = 0, rc = 0;
    pb_change_outcome outcome = -1;

    for (; acked < 10000; acked++) {
        char *p = accounts;
        for (int j = 0; j < 16; j++)
            p += sprintf(p, "%s%0100d", j == 0 ? "" : ",", acked * 16 + j);
        snprintf(token, sizeof(token), "tok-%05d", acked);
        pb_change change = make_change(f, PB_CHANGE_APPEND, token, accounts);
        if ((rc = pb_store_apply(f->session, APP, &change, 1, &outcome)) != 0 || outcome != PB_CHANGE_OK)
            break;
    }
    assert_int_equal(rc, PB_STORE_OK);
    assert_int_equal(outcome, PB_CHANGE_NO_SPACE);
    assert_true(acked > 10);

    for (int i = 0; i <= acked; i++) {
        snprintf(token, sizeof(token), "tok-%05d", i);
        const char *bound = accounts_of(f, token);
        if (i == acked) {
            assert_string_equal(bound, "");
            continue;
        }
        char first[104];
        snprintf(first, sizeof(first), "%0100d,", i * 16);
        assert_int_equal(strlen(bound), 16 * 101 - 1);
        assert_memory_equal(bound, first, 101);
    }
    struct app_rows rows;
    char expected[64];
    snprintf(expected, sizeof(expected), "%u:%d;", APP, acked * 16);
    assert_string_equal(list_apps(f, &rows), expected);
}

/*
 * Runs in a child process, as the command line would: opens the store with a
 * map of `map_size` and binds 30 accounts of 100 bytes to each of 20 tokens
 * per batch, `batches` times from token `first`. Exits 0 on success.
 */
/*
 * In a child process: opens the store with a map of `map_size` and binds
 * batches × 20 tokens of 30 long accounts in one commit, then exits 0 when
 * every change was applied. One commit, so that the data jumps past the
 * parent's map at once: the parent sees no moment where another process's
 * data sits in its reserve (space.c) without its map having grown.
 */
static void grow_in_other_process(struct fixture *f, uint64_t map_size, int first, int batches)
{
    pb_store_config config = f->config;
    config.map_size = map_size;
    pb_store *store = pb_store_open(&config, NULL);
    pb_store_session *session = store != NULL ? pb_store_session_open(store) : NULL;
    int ok = session != NULL;
    size_t n = (size_t)batches * 20;
    pb_change *changes = pb_pool_alloc(&f->pool, n * sizeof(*changes));
    pb_change_outcome *outcomes = pb_pool_alloc(&f->pool, n * sizeof(*outcomes));
    for (size_t i = 0; ok && i < n; i++) {
        int token_no = first + (int)i;
        char token[32], accounts[30 * 101], *p = accounts;
        for (int j = 0; j < 30; j++)
            p += sprintf(p, "%s%0100d", j == 0 ? "" : ",", token_no * 30 + j);
        snprintf(token, sizeof(token), "grown-%04d", token_no);
        changes[i] = make_change(f, PB_CHANGE_APPEND, token, accounts);
        changes[i].token = pb_pool_strdup(&f->pool, changes[i].token);
    }
    ok = ok && pb_store_apply(session, APP, changes, n, outcomes) == 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = outcomes[i] == PB_CHANGE_OK;
    pb_store_session_close(session);
    pb_store_close(store);
    _exit(ok ? 0 : 1);
}

static void grow_and_wait(struct fixture *f, uint64_t map_size, int first, int batches)
{
    int status;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        grow_in_other_process(f, map_size, first, batches);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ---- Group commit ------------------------------------------------------ */

/* A write record for pb_lmdb_commit_group(), chained after `prev` when given. */
static pb_lmdb_write *group_write(struct fixture *f, pb_lmdb_write *prev, uint64_t app, const pb_change *changes,
                                  size_t n)
{
    pb_lmdb_write *w = pb_pool_alloc(&f->pool, sizeof(*w));
    pb_change_outcome *outcomes = pb_pool_alloc(&f->pool, n * sizeof(*outcomes));
    for (size_t i = 0; i < n; i++)
        outcomes[i] = -1;
    *w = (pb_lmdb_write){.access_id = app, .changes = changes, .n = n, .outcomes = outcomes,
                         .result = PB_STORE_EIO};
    if (prev != NULL)
        prev->next = w;
    return w;
}

/*
 * Several requests' writes in one transaction: each keeps its own result and
 * per-change outcomes, a write for a missing app or a refused change undoes
 * nothing of the others, later writes see earlier ones, and sequence numbers
 * (the order of bindings) run on across writes and groups.
 */
static void group_commit_keeps_each_write_and_change_apart(void **state)
{
    struct fixture *f = *state; /* 3 accounts per token, 2 tokens per account */
    create_app(f, OTHER_APP);
    pb_change first = make_change(f, PB_CHANGE_APPEND, "t1", "a");
    pb_change lost = make_change(f, PB_CHANGE_APPEND, "t9", "z");
    pb_change mixed[] = {make_change(f, PB_CHANGE_APPEND, "t2", "a"), make_change(f, PB_CHANGE_APPEND, "t3", "a")};
    pb_change other = make_change(f, PB_CHANGE_APPEND, "t1", "a");
    pb_change last = make_change(f, PB_CHANGE_APPEND, "t4", "b,c");

    pb_lmdb_write *w0 = group_write(f, NULL, APP, &first, 1);
    pb_lmdb_write *w1 = group_write(f, w0, 42, &lost, 1);
    pb_lmdb_write *w2 = group_write(f, w1, APP, mixed, 2);
    pb_lmdb_write *w3 = group_write(f, w2, OTHER_APP, &other, 1);
    pb_lmdb_write *w4 = group_write(f, w3, APP, &last, 1);
    pb_lmdb_commit_group(pb_store_session_lmdb(f->session), w0);

    assert_int_equal(w0->result, PB_STORE_OK);
    assert_int_equal(w0->outcomes[0], PB_CHANGE_OK);
    assert_int_equal(w1->result, PB_STORE_ENOTFOUND);
    assert_int_equal(w2->result, PB_STORE_OK);
    assert_int_equal(w2->outcomes[0], PB_CHANGE_OK);
    assert_int_equal(w2->outcomes[1], PB_CHANGE_OVER_LIMIT); /* "a" already has t1 (from w0) and t2 */
    assert_int_equal(w3->result, PB_STORE_OK);
    assert_int_equal(w4->result, PB_STORE_OK);

    close_store(f); /* committed means on disk */
    open_store(f);
    assert_string_equal(tokens_of(f, "a"), "t1,t2");
    assert_string_equal(accounts_of(f, "t3"), "");
    assert_string_equal(accounts_of(f, "t4"), "b,c");
    assert_string_equal(accounts_in(f, OTHER_APP, "t1"), "a");
    assert_string_equal(tokens_in(f, 42, "z"), "");
    struct app_rows rows;
    assert_string_equal(list_apps(f, &rows), "1500001048:4;1500001049:1;");
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t5", "b"), PB_CHANGE_OK);
    assert_string_equal(tokens_of(f, "b"), "t4,t5");
}

/* One write of a group runs into the reserve: its binds past it are refused, the rest commits. */
static void group_commit_refuses_only_the_binds_past_the_reserve(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    enum { HUGE_CHANGES = 400, ACCOUNTS = 16 };
    pb_change before = make_change(f, PB_CHANGE_APPEND, "before", "a");
    pb_change after = make_change(f, PB_CHANGE_APPEND, "after", "a");
    pb_change *huge = pb_pool_alloc(&f->pool, HUGE_CHANGES * sizeof(*huge));
    for (int i = 0; i < HUGE_CHANGES; i++) {
        char token[32], accounts[ACCOUNTS * 101], *p = accounts;
        for (int j = 0; j < ACCOUNTS; j++)
            p += sprintf(p, "%s%0100d", j == 0 ? "" : ",", i * ACCOUNTS + j);
        snprintf(token, sizeof(token), "huge-%03d", i);
        huge[i] = make_change(f, PB_CHANGE_APPEND, token, accounts);
        huge[i].token = pb_pool_strdup(&f->pool, huge[i].token);
    }
    pb_lmdb_write *w0 = group_write(f, NULL, APP, &before, 1);
    pb_lmdb_write *w1 = group_write(f, w0, APP, huge, HUGE_CHANGES);
    pb_lmdb_write *w2 = group_write(f, w1, APP, &after, 1);
    pb_lmdb_commit_group(pb_store_session_lmdb(f->session), w0);

    assert_int_equal(w0->result, PB_STORE_OK);
    assert_int_equal(w1->result, PB_STORE_OK);
    assert_int_equal(w2->result, PB_STORE_OK);
    int bound = 0;
    while (bound < HUGE_CHANGES && w1->outcomes[bound] == PB_CHANGE_OK)
        bound++;
    assert_true(bound > 0 && bound < HUGE_CHANGES);
    for (int i = bound; i < HUGE_CHANGES; i++)
        assert_int_equal(w1->outcomes[i], PB_CHANGE_NO_SPACE);
    assert_string_equal(tokens_of(f, "a"), "before,after");
    assert_string_equal(accounts_of(f, "huge-399"), "");
    struct app_rows rows;
    char expected[64];
    snprintf(expected, sizeof(expected), "%u:%d;", APP, 2 + bound * ACCOUNTS);
    assert_string_equal(list_apps(f, &rows), expected);
}

struct done_count {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done, failed;
};

static void count_done(void *arg, int result)
{
    struct done_count *count = arg;
    pthread_mutex_lock(&count->lock);
    count->done++;
    count->failed += result != PB_STORE_OK;
    pthread_cond_signal(&count->cond);
    pthread_mutex_unlock(&count->lock);
}

/*
 * Writes queued faster than they are committed: each finishes once, in good
 * order, and every one is durable.
 */
static void queued_writes_all_finish_durable(void **state)
{
    struct fixture *f = *state;
    enum { WRITES = 300 };
    struct done_count count = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    pb_change_outcome *outcomes = pb_pool_alloc(&f->pool, WRITES * sizeof(*outcomes));
    for (int i = 0; i < WRITES; i++) {
        char token[32];
        snprintf(token, sizeof(token), "q-%03d", i);
        pb_change *change = pb_pool_alloc(&f->pool, sizeof(*change));
        *change = make_change(f, PB_CHANGE_APPEND, token, i % 3 == 0 ? "third" : i % 3 == 1 ? "second" : "first");
        change->token = pb_pool_strdup(&f->pool, change->token);
        outcomes[i] = -1;
        pb_store_apply_start(f->session, APP, change, 1, &outcomes[i], &f->pool, count_done, &count);
    }
    pthread_mutex_lock(&count.lock);
    while (count.done < WRITES)
        pthread_cond_wait(&count.cond, &count.lock);
    pthread_mutex_unlock(&count.lock);
    assert_int_equal(count.failed, 0);
    for (int i = 0; i < WRITES; i++)
        assert_int_equal(outcomes[i], PB_CHANGE_OK);

    close_store(f);
    open_store(f);
    struct app_rows rows;
    assert_string_equal(list_apps(f, &rows), "1500001048:300;");
    assert_string_equal(accounts_of(f, "q-299"), "first");
    const char *third = tokens_of(f, "third"); /* 100 tokens, the most an account may have */
    assert_int_equal(strlen(third), 100 * 6 - 1);
    assert_memory_equal(third, "q-000,q-003,q-006,", 18); /* in queue order */
    assert_memory_equal(third + 99 * 6, "q-297", 5);
}

/*
 * Another process (the command line) opens the same directory with a larger
 * map and grows the data past our mapping: our next view, or our next write,
 * must follow (MDB_MAP_RESIZED) instead of failing.
 */
static void map_grown_by_another_process_is_followed(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    char account[128];
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t0", "a"), PB_CHANGE_OK);

    grow_and_wait(f, 4 * MIB, 0, 10);
    snprintf(account, sizeof(account), "%0100d", 199 * 30);
    assert_string_equal(tokens_of(f, account), "grown-0199"); /* a view follows */

    grow_and_wait(f, 32 * MIB, 200, 20);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t0", "b"), PB_CHANGE_OK); /* a write follows */
    assert_string_equal(accounts_of(f, "t0"), "a,b");
    snprintf(account, sizeof(account), "%0100d", 599 * 30 + 29);
    assert_string_equal(tokens_of(f, account), "grown-0599");
}

/*
 * Remapping waits for every transaction of the process, including a view the
 * caller of pb_store_apply() holds while the writer thread works for it: that
 * write fails (after a bounded wait) rather than deadlock, and the first write
 * after the view ends remaps.
 */
static void growth_seen_while_own_view_is_open_fails_then_recovers(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    pb_store_view *view = pb_store_view_begin(f->session);
    assert_non_null(view);
    grow_and_wait(f, 4 * MIB, 0, 10);
    pb_change change = make_change(f, PB_CHANGE_APPEND, "t0", "a");
    pb_change_outcome outcome;
    assert_int_equal(pb_store_apply(f->session, APP, &change, 1, &outcome), PB_STORE_EIO);
    assert_non_null(strstr(pb_store_session_error(f->session), "MDB_MAP_RESIZED"));
    pb_store_view_end(view);
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t0", "a"), PB_CHANGE_OK);
    assert_string_equal(accounts_of(f, "t0"), "a");
}

struct busy_worker {
    pb_store *store;
    int no;
    atomic_int *stop;
    int failures;
    int rounds;
    pb_pool pool; /* cleared by the main thread, see struct worker */
};

/* Re-binds one account to 5 tokens in turn and reads it back, until stopped. */
static void *bind_and_read_until_stopped(void *arg)
{
    struct busy_worker *w = arg;
    pb_store_session *session = pb_store_session_open(w->store);
    char name[16], token[32];
    snprintf(name, sizeof(name), "busy%d", w->no);
    pb_account account = {pb_str_from_cstr(name), 0};
    for (; session != NULL && !atomic_load(w->stop) && w->rounds < 5000; w->rounds++) {
        snprintf(token, sizeof(token), "busy%d-%d", w->no, w->rounds % 5);
        pb_change change = {.kind = PB_CHANGE_APPEND, .token = pb_str_from_cstr(token), .accounts = &account, .n_accounts = 1};
        pb_change_outcome outcome;
        pb_token_list list;
        w->failures += pb_store_apply(session, APP, &change, 1, &outcome) != 0 || outcome != PB_CHANGE_OK;
        pb_store_view *view = pb_store_view_begin(session);
        w->failures += view == NULL || pb_store_tokens_of(view, APP, &account, 1, false, &w->pool, &list) != 0 ||
                       list.n != (size_t)(w->rounds < 5 ? w->rounds + 1 : 5);
        if (view != NULL)
            pb_store_view_end(view);
    }
    w->failures += session == NULL;
    pb_store_session_close(session);
    return NULL;
}

/* Remapping while other threads of the process have transactions live. */
static void map_growth_is_followed_while_threads_are_busy(void **state)
{
    struct fixture *f = *state; /* 1 MiB map */
    int go[2];
    char byte = 0;
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        if (read(go[0], &byte, 1) != 1)
            _exit(2);
        grow_in_other_process(f, 4 * MIB, 0, 10);
    }
    close(go[0]);

    atomic_int stop = 0;
    struct busy_worker workers[3];
    pthread_t threads[3];
    for (int i = 0; i < 3; i++) {
        workers[i] = (struct busy_worker){.store = f->store, .no = i, .stop = &stop};
        pb_pool_init(&workers[i].pool);
        assert_int_equal(pthread_create(&threads[i], NULL, bind_and_read_until_stopped, &workers[i]), 0);
    }
    assert_int_equal(write(go[1], &byte, 1), 1);
    close(go[1]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    usleep(20 * 1000); /* let the threads run past the growth */
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        pb_pool_clear(&workers[i].pool);
        assert_int_equal(workers[i].failures, 0);
        assert_true(workers[i].rounds > 0);
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char account[128];
    snprintf(account, sizeof(account), "%0100d", 199 * 30);
    assert_string_equal(tokens_of(f, account), "grown-0199");
}

/* A lookup's done(): copies the finished lookup out for the test to read. */
static void keep_lookup(void *arg, pb_store_lookup *lookup)
{
    *(pb_store_lookup *)arg = *lookup;
}

static void ping_answers(void **state)
{
    struct fixture *f = *state;
    pb_store_lookup ping = {.kind = PB_LOOKUP_PING, .result = -99}, done = {.result = -99};
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_lookup_start(f->session, &ping, &pool, keep_lookup, &done); /* the embedded store answers at once */
    assert_int_equal(done.result, 0);
    assert_string_equal(pb_store_session_error(f->session), "");
    pb_pool_clear(&pool);
}

static void app_lookup_reads_its_record(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(apply1(f, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    pb_store_lookup app = {.kind = PB_LOOKUP_APP, .access_id = APP}, done = {.result = -99};
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_lookup_start(f->session, &app, &pool, keep_lookup, &done);
    assert_int_equal(done.result, 0);
    assert_int_equal(done.app.access_id, APP);
    assert_int_equal(done.app.bindings, 2);
    assert_true(done.app.created_at > 0);

    app = (pb_store_lookup){.kind = PB_LOOKUP_APP, .access_id = 8};
    pb_store_lookup_start(f->session, &app, &pool, keep_lookup, &done);
    assert_int_equal(done.result, PB_STORE_ENOTFOUND);
    pb_pool_clear(&pool);
}

static void apps_lookup_lists_every_app_with_its_count(void **state)
{
    struct fixture *f = *state;
    create_app(f, OTHER_APP);
    create_app(f, 7);
    assert_int_equal(apply_to(f, APP, PB_CHANGE_APPEND, "t1", "a,b"), PB_CHANGE_OK);
    assert_int_equal(apply_to(f, OTHER_APP, PB_CHANGE_APPEND, "t1", "a"), PB_CHANGE_OK);
    pb_store_lookup apps = {.kind = PB_LOOKUP_APPS}, done = {.result = -99};
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_lookup_start(f->session, &apps, &pool, keep_lookup, &done); /* the embedded store answers at once */
    assert_int_equal(done.result, 0);
    assert_int_equal(done.n_apps, 3);
    assert_int_equal(done.apps[0].access_id, 7); /* increasing access_id, as pb_store_app_list() */
    assert_int_equal(done.apps[0].bindings, 0);
    assert_int_equal(done.apps[1].access_id, APP);
    assert_int_equal(done.apps[1].bindings, 2);
    assert_int_equal(done.apps[2].access_id, OTHER_APP);
    assert_int_equal(done.apps[2].bindings, 1);
    assert_true(done.apps[2].created_at > 0);
    pb_pool_clear(&pool);
}

static void apps_lookup_of_an_empty_store_lists_nothing(void **state)
{
    struct fixture *f = *state;
    uint64_t removed;
    assert_int_equal(pb_store_app_remove(f->session, APP, &removed), 0);
    pb_store_lookup apps = {.kind = PB_LOOKUP_APPS}, done = {.result = -99};
    pb_pool pool;
    pb_pool_init(&pool);
    pb_store_lookup_start(f->session, &apps, &pool, keep_lookup, &done);
    assert_int_equal(done.result, 0);
    assert_int_equal(done.n_apps, 0);
    pb_pool_clear(&pool);
}

static void open_reports_unusable_directory(void **state)
{
    pb_store_config config = {.data_dir = "/proc/pushbind-cannot-exist/data", .map_size = 1 * MIB, .limits = {32, 100}};
    char *err = NULL;
    assert_null(pb_store_open(&config, &err));
    assert_non_null(err);
    assert_non_null(strstr(err, "/proc/pushbind-cannot-exist/data"));
    free(err);
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TEST_LIMITS(name) cmocka_unit_test_setup_teardown(name, setup_small_limits, teardown)
#define TEST_SMALL_MAP(name) cmocka_unit_test_setup_teardown(name, setup_small_map, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(append_binds_accounts_in_list_order),
        TEST(append_keeps_existing_binding_in_place),
        TEST(overwrite_replaces_accounts_keeping_order_of_kept_ones),
        TEST(remove_requires_matching_type),
        TEST(clear_token_unbinds_both_sides),
        TEST(clear_account_unbinds_both_sides),
        TEST_LIMITS(token_limit_fails_whole_change_and_changes_nothing),
        TEST_LIMITS(account_limit_fails_whole_change_and_changes_nothing),
        TEST_LIMITS(failed_change_does_not_undo_earlier_changes_in_same_apply),
        TEST(later_change_sees_earlier_one_in_same_apply),
        TEST(same_name_different_type_are_different_accounts),
        TEST(apps_are_isolated),
        TEST(many_to_many_matches_spec_sample),
        TEST(lookup_answers_each_item_in_input_order),
        TEST(view_is_a_snapshot),
        TEST(sessions_on_several_threads_share_one_store),
        TEST(bindings_survive_reopen),
        TEST(app_put_list_remove),
        TEST(app_list_counts_bindings),
        TEST(app_put_rejects_oversized_secret),
        TEST(app_remove_deletes_its_bindings_only),
        TEST(apply_to_unknown_app_changes_nothing),
        TEST(long_key_is_an_error_not_a_crash),
        TEST_SMALL_MAP(full_store_refuses_binds_and_changes_nothing),
        TEST_SMALL_MAP(map_grown_by_another_process_is_followed),
        TEST_SMALL_MAP(growth_seen_while_own_view_is_open_fails_then_recovers),
        TEST_SMALL_MAP(map_growth_is_followed_while_threads_are_busy),
        TEST_LIMITS(group_commit_keeps_each_write_and_change_apart),
        TEST_SMALL_MAP(group_commit_refuses_only_the_binds_past_the_reserve),
        TEST(queued_writes_all_finish_durable),
        TEST(ping_answers),
        TEST(app_lookup_reads_its_record),
        TEST(apps_lookup_lists_every_app_with_its_count),
        TEST(apps_lookup_of_an_empty_store_lists_nothing),
        cmocka_unit_test(open_reports_unusable_directory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
