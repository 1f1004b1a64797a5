/*
 * store_test.h — what the embedded store's unit tests share: a fresh store
 * per test in its own data directory (holding app APP), the setups for small
 * limits and a small map, changes and answers written as text ("a,b/1"), and
 * the app list as "id:bindings;" (test_store_bind.c, test_store_read.c,
 * test_store_apps.c, test_store_commit.c, test_store_map.c).
 */
#ifndef PB_TEST_STORE_TEST_H
#define PB_TEST_STORE_TEST_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static inline void open_store(struct fixture *f)
{
    char *err = NULL;
    f->store = pb_store_open(&f->config, &err);
    if (f->store == NULL)
        fail_msg("pb_store_open: %s", err != NULL ? err : "?");
    f->session = pb_store_session_open(f->store);
    assert_non_null(f->session);
}

static inline void close_store(struct fixture *f)
{
    pb_store_session_close(f->session);
    pb_store_close(f->store);
    f->session = NULL;
    f->store = NULL;
}

static inline void create_app(struct fixture *f, uint64_t access_id)
{
    bool created = false;
    assert_int_equal(pb_store_app_put(f->session, access_id, PB_STR_LIT(SECRET), &created), 0);
    assert_true(created);
}

/* A fresh store in its own temporary directory, holding app APP. */
static inline struct fixture *fixture_new(uint64_t map_size, uint32_t accounts_per_token, uint32_t tokens_per_account)
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

static inline int setup(void **state)
{
    *state = fixture_new(64 * MIB, 32, 100);
    return 0;
}

static inline int setup_small_limits(void **state)
{
    *state = fixture_new(64 * MIB, 3, 2);
    return 0;
}

static inline int setup_small_map(void **state)
{
    *state = fixture_new(1 * MIB, 32, 100);
    return 0;
}

static inline void remove_dir(const char *path)
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

static inline int teardown(void **state)
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

static inline size_t parse_accounts(struct fixture *f, const char *csv, pb_account **out)
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

static inline pb_change make_change(struct fixture *f, pb_change_kind kind, const char *token, const char *accounts)
{
    pb_change change = {.kind = kind, .token = pb_str_from_cstr(token)};
    pb_account *list;
    change.n_accounts = parse_accounts(f, accounts, &list);
    change.accounts = list;
    return change;
}

/* Applies one change to `app` through `session` and returns its outcome (PB_CHANGE_OK, PB_CHANGE_OVER_LIMIT, …). */
static inline pb_change_outcome apply_in(struct fixture *f, pb_store_session *session, uint64_t app, pb_change_kind kind,
                                         const char *token, const char *accounts)
{
    pb_change change = make_change(f, kind, token, accounts);
    pb_change_outcome outcome = -1;
    int rc = pb_store_apply(session, app, &change, 1, &outcome);
    if (rc != 0)
        fail_msg("pb_store_apply: %d (%s)", rc, pb_store_session_error(session));
    return outcome;
}

static inline pb_change_outcome apply_to(struct fixture *f, uint64_t app, pb_change_kind kind, const char *token, const char *accounts)
{
    return apply_in(f, f->session, app, kind, token, accounts);
}

static inline pb_change_outcome apply1(struct fixture *f, pb_change_kind kind, const char *token, const char *accounts)
{
    return apply_to(f, APP, kind, token, accounts);
}

/* The accounts bound to `token` in `app`, oldest first, as "a,b/1". */
static inline const char *accounts_in(struct fixture *f, uint64_t app, const char *token)
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

static inline const char *accounts_of(struct fixture *f, const char *token)
{
    return accounts_in(f, APP, token);
}

/* The tokens bound to `account` ("name" or "name/type") in `app`, as "t1,t2". */
static inline const char *tokens_in(struct fixture *f, uint64_t app, const char *account)
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

static inline const char *tokens_of(struct fixture *f, const char *account)
{
    return tokens_in(f, APP, account);
}

struct app_rows {
    char text[512];
};

/* Appends "id:bindings;" per app, for pb_store_app_list(). */
static inline void collect_app(void *arg, const pb_app_info *app)
{
    struct app_rows *rows = arg;
    size_t used = strlen(rows->text);
    snprintf(rows->text + used, sizeof(rows->text) - used, "%llu:%llu;", (unsigned long long)app->access_id,
             (unsigned long long)app->bindings);
}

static inline const char *list_apps(struct fixture *f, struct app_rows *rows)
{
    rows->text[0] = '\0';
    assert_int_equal(pb_store_app_list(f->session, collect_app, rows), 0);
    return rows->text;
}

/* A lookup's done(): copies the finished lookup out for the test to read. */
static inline void keep_lookup(void *arg, pb_store_lookup *lookup)
{
    *(pb_store_lookup *)arg = *lookup;
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
#define TEST_LIMITS(name) cmocka_unit_test_setup_teardown(name, setup_small_limits, teardown)
#define TEST_SMALL_MAP(name) cmocka_unit_test_setup_teardown(name, setup_small_map, teardown)

#endif
