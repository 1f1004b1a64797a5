/*
 * sql.c — the statements of the PostgreSQL backend: their texts (with the
 * schema), their parameters in libpq's text format (arrays as array
 * literals, so a query of any number of items is one statement) and the
 * decoding of their rows into the store's outputs. Shared by the waiting
 * calls (postgres.c) and the loop (loop.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/app_keys.h"
#include "store/postgres/store_state.h"

/* %1$s is the quoted schema. Lists come back ordered by input item, then creation. */
static const char *const texts[PB_PG_STMT_COUNT] = {
    /* the app's secret in the first row, and one row per named key (a row of NULLs after it when none) */
    [PB_PG_SECRET] = "SELECT a.secret, k.name, k.role, k.created_at, k.expires_at, k.secret"
                     " FROM %1$s.apps a LEFT JOIN %1$s.app_keys k ON k.app = a.id WHERE a.id = $1",
    [PB_PG_APP] = "SELECT created_at, %1$s.app_bindings(id) FROM %1$s.apps WHERE id = $1",
    [PB_PG_APPS] = "SELECT id, created_at, %1$s.app_bindings(id) FROM %1$s.apps ORDER BY id",
    [PB_PG_PING] = "SELECT 1",
    [PB_PG_TOKENS_OF] = "SELECT q.i, b.token FROM unnest($2::int[], $3::text[]) WITH ORDINALITY AS q(atype, account, i)"
                        " JOIN %1$s.bindings b ON b.app = $1 AND b.atype = q.atype AND b.account = q.account"
                        " WHERE b.last_bind_time > $4 ORDER BY q.i, b.seq",
    [PB_PG_TOKENS_OF_INFO] = "SELECT q.i, b.token, b.bind_time, b.last_bind_time, b.platform"
                             " FROM unnest($2::int[], $3::text[]) WITH ORDINALITY AS q(atype, account, i)"
                             " JOIN %1$s.bindings b ON b.app = $1 AND b.atype = q.atype AND b.account = q.account"
                             " WHERE b.last_bind_time > $4 ORDER BY q.i, b.seq",
    [PB_PG_ACCOUNTS_OF] = "SELECT q.i, b.atype, b.account FROM unnest($2::text[]) WITH ORDINALITY AS q(token, i)"
                          " JOIN %1$s.bindings b ON b.app = $1 AND b.token = q.token"
                          " WHERE b.last_bind_time > $3 ORDER BY q.i, b.seq",
    [PB_PG_ACCOUNTS_OF_INFO] = "SELECT q.i, b.atype, b.account, b.bind_time, b.last_bind_time, b.platform"
                               " FROM unnest($2::text[]) WITH ORDINALITY AS q(token, i)"
                               " JOIN %1$s.bindings b ON b.app = $1 AND b.token = q.token"
                               " WHERE b.last_bind_time > $3 ORDER BY q.i, b.seq",
    [PB_PG_APPLY] = "SELECT %1$s.apply_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    [PB_PG_APP_PUT] = "SELECT %1$s.app_put($1, $2, $3)",
    [PB_PG_APP_REMOVE] = "SELECT %1$s.app_remove($1)",
    [PB_PG_EXPIRE_STEP] = "SELECT %1$s.expire_step($1, $2)",
    [PB_PG_KEY_PUT] = "SELECT %1$s.key_put($1, $2, $3, $4, $5, $6, $7)",
    [PB_PG_KEY_REVOKE] = "SELECT %1$s.key_revoke($1, $2)",
    /*
     * The app's account types without a scan: each step of the recursion is
     * one descent of bindings_by_account (app, atype, account) to the
     * smallest type above the last one, so it costs one index seek per type
     * the app uses, whatever the number of bindings; the count k stops it
     * after $2. Expired bindings not yet deleted may add a type: a superset,
     * as store.h allows.
     */
    [PB_PG_ACCOUNT_TYPES] = "WITH RECURSIVE t(atype, k) AS ("
                            "SELECT min(atype), 1::bigint FROM %1$s.bindings WHERE app = $1"
                            " UNION ALL SELECT (SELECT min(b.atype) FROM %1$s.bindings b"
                            " WHERE b.app = $1 AND b.atype > t.atype), t.k + 1 FROM t"
                            " WHERE t.atype IS NOT NULL AND t.k < $2)"
                            " SELECT atype FROM t WHERE atype IS NOT NULL ORDER BY atype",
    /* tags (store_state.h): a pair is live while its tag's row has its gen */
    [PB_PG_TAG_APPLY] = "SELECT %1$s.tag_apply($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    [PB_PG_TAGS_OF] = "SELECT q.i, t.tag FROM unnest($2::text[]) WITH ORDINALITY AS q(token, i)"
                      " JOIN %1$s.tag_pairs p ON p.app = $1 AND p.token = q.token"
                      " JOIN %1$s.tags t ON t.id = p.gen ORDER BY q.i, p.seq",
    /* the gen as a scalar subquery: the one plan (generic) is then the (gen, seq) index's range, in order */
    [PB_PG_TAG_TOKENS] = "SELECT p.seq, p.token FROM %1$s.tag_pairs p"
                         " WHERE p.gen = (SELECT t.id FROM %1$s.tags t WHERE t.app = $1 AND t.tag = $2)"
                         " AND p.seq > $3 ORDER BY p.seq LIMIT $4",
    /* one primary-key lookup a tag, whatever the app's number of tags */
    [PB_PG_TAG_COUNTS] = "SELECT coalesce((SELECT t.n FROM %1$s.tags t WHERE t.app = $1 AND t.tag = q.tag), 0)"
                         " FROM unnest($2::text[]) WITH ORDINALITY AS q(tag, i) ORDER BY q.i",
    [PB_PG_TAG_LIST] = "SELECT tag, n FROM %1$s.tags WHERE app = $1 AND tag > $2 AND n > 0 ORDER BY tag LIMIT $3",
    [PB_PG_TAG_STEP] = "SELECT %1$s.tag_step($1)",
};

static const char *const names[PB_PG_STMT_COUNT] = {"pb0", "pb1", "pb2", "pb3", "pb4", "pb5",
                                                    "pb6", "pb7", "pb8", "pb9", "pb10", "pb11",
                                                    "pb12", "pb13", "pb14", "pb15",
                                                    "pb16", "pb17", "pb18", "pb19", "pb20"};

bool pb_pg_sql_init(pb_pg_store *store)
{
    for (int i = 0; i < PB_PG_STMT_COUNT; i++)
        if (asprintf(&store->sql[i], texts[i], store->quoted) < 0) {
            store->sql[i] = NULL;
            return false;
        }
    return true;
}

void pb_pg_sql_free(pb_pg_store *store)
{
    for (int i = 0; i < PB_PG_STMT_COUNT; i++)
        free(store->sql[i]);
}

const char *pb_pg_stmt_name(pb_pg_stmt stmt)
{
    return names[stmt];
}

int64_t pb_pg_cutoff(const pb_pg_store *store, int64_t now)
{
    return store->binding_ttl > 0 ? now - store->binding_ttl : INT64_MIN + 1;
}

/* ---- Parameters ---- */

/* A growing NUL-terminated text in a pool. */
typedef struct text_buf {
    pb_pool *pool;
    char *base;
    size_t len, cap;
} text_buf;

static void buf_reserve(text_buf *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap < 64 ? 64 : b->cap;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *bigger = pb_pool_alloc(b->pool, cap);
    if (b->len != 0)
        memcpy(bigger, b->base, b->len);
    b->base = bigger;
    b->cap = cap;
}

static void buf_put(text_buf *b, const char *s, size_t len)
{
    buf_reserve(b, len);
    memcpy(b->base + b->len, s, len);
    b->len += len;
    b->base[b->len] = '\0';
}

static void buf_putc(text_buf *b, char c)
{
    buf_put(b, &c, 1);
}

/* One element of a text[] literal: quoted, with '"' and '\' escaped. */
static void buf_put_element(text_buf *b, pb_str s)
{
    buf_reserve(b, 2 * s.len + 3);
    b->base[b->len++] = '"';
    for (size_t i = 0; i < s.len; i++) {
        char c = s.base[i];
        if (c == '"' || c == '\\')
            b->base[b->len++] = '\\';
        b->base[b->len++] = c;
    }
    b->base[b->len++] = '"';
    b->base[b->len] = '\0';
}

static void buf_put_i64(text_buf *b, int64_t value)
{
    char digits[PB_DECIMAL_MAX];
    buf_put(b, digits, (size_t)(pb_put_i64(digits, value) - digits));
}

static text_buf buf_start(pb_pool *pool, char open)
{
    text_buf b = {.pool = pool};
    buf_putc(&b, open);
    return b;
}

static const char *decimal(pb_pool *pool, int64_t value)
{
    text_buf b = {.pool = pool};
    buf_put_i64(&b, value);
    return b.base;
}

static const char *udecimal(pb_pool *pool, uint64_t value)
{
    char *text = pb_pool_alloc(pool, PB_DECIMAL_MAX + 1);
    *pb_put_u64(text, value) = '\0';
    return text;
}

const char *pb_pg_decimal(pb_pool *pool, int64_t value)
{
    return decimal(pool, value);
}

const char *pb_pg_udecimal(pb_pool *pool, uint64_t value)
{
    return udecimal(pool, value);
}

/* Closes an array literal: "{" becomes "{}" when nothing was put. */
static const char *buf_close(text_buf *b)
{
    buf_putc(b, '}');
    return b->base;
}

static void sep(text_buf *b)
{
    if (b->len > 1)
        buf_putc(b, ',');
}

const char *pb_pg_text_array(pb_pool *pool, const pb_str *items, size_t n)
{
    text_buf b = buf_start(pool, '{');
    for (size_t i = 0; i < n; i++) {
        sep(&b);
        buf_put_element(&b, items[i]);
    }
    return buf_close(&b);
}

const char *pb_pg_i64_array(pb_pool *pool, const int64_t *items, size_t n)
{
    text_buf b = buf_start(pool, '{');
    for (size_t i = 0; i < n; i++) {
        sep(&b);
        buf_put_i64(&b, items[i]);
    }
    return buf_close(&b);
}

void pb_pg_lookup_query(pb_pg_query *query, const pb_pg_store *store, const pb_store_lookup *lookup, pb_pool *pool)
{
    query->n_values = 0;
    switch (lookup->kind) {
    case PB_LOOKUP_SECRET:
    case PB_LOOKUP_APP:
        query->stmt = lookup->kind == PB_LOOKUP_SECRET ? PB_PG_SECRET : PB_PG_APP;
        query->values[query->n_values++] = udecimal(pool, lookup->access_id);
        return;
    case PB_LOOKUP_APPS:
        query->stmt = PB_PG_APPS;
        return;
    case PB_LOOKUP_TYPES:
        query->stmt = PB_PG_ACCOUNT_TYPES;
        query->values[0] = udecimal(pool, lookup->access_id);
        query->values[1] = decimal(pool, lookup->n != 0 ? (int64_t)lookup->n : INT64_MAX);
        query->n_values = 2;
        return;
    case PB_LOOKUP_PING:
        query->stmt = PB_PG_PING;
        return;
    case PB_LOOKUP_TOKENS_OF: {
        query->stmt = lookup->with_info ? PB_PG_TOKENS_OF_INFO : PB_PG_TOKENS_OF;
        text_buf types = buf_start(pool, '{'), accounts = buf_start(pool, '{');
        for (size_t i = 0; i < lookup->n; i++) {
            sep(&types);
            buf_put_i64(&types, lookup->accounts[i].type);
            sep(&accounts);
            buf_put_element(&accounts, lookup->accounts[i].name);
        }
        query->values[0] = udecimal(pool, lookup->access_id);
        query->values[1] = buf_close(&types);
        query->values[2] = buf_close(&accounts);
        query->values[3] = decimal(pool, pb_pg_cutoff(store, pb_clock_unix_s()));
        query->n_values = 4;
        return;
    }
    case PB_LOOKUP_ACCOUNTS_OF: {
        query->stmt = lookup->with_info ? PB_PG_ACCOUNTS_OF_INFO : PB_PG_ACCOUNTS_OF;
        query->values[0] = udecimal(pool, lookup->access_id);
        query->values[1] = pb_pg_text_array(pool, lookup->tokens, lookup->n);
        query->values[2] = decimal(pool, pb_pg_cutoff(store, pb_clock_unix_s()));
        query->n_values = 3;
        return;
    }
    }
}

void pb_pg_apply_query(pb_pg_query *query, const pb_pg_store *store, uint64_t access_id, const pb_change *changes,
                       size_t n, pb_pool *pool)
{
    text_buf kinds = buf_start(pool, '{'), tokens = buf_start(pool, '{'), platforms = buf_start(pool, '{'),
             counts = buf_start(pool, '{'), types = buf_start(pool, '{'), accounts = buf_start(pool, '{'),
             binds = buf_start(pool, '{'), lasts = buf_start(pool, '{');
    for (size_t i = 0; i < n; i++) {
        const pb_change *c = &changes[i];
        sep(&kinds);
        buf_put_i64(&kinds, c->kind);
        sep(&tokens);
        buf_put_element(&tokens, c->token);
        sep(&platforms);
        buf_put_i64(&platforms, c->platform);
        sep(&counts);
        buf_put_i64(&counts, (int64_t)c->n_accounts);
        for (size_t j = 0; j < c->n_accounts; j++) {
            sep(&types);
            buf_put_i64(&types, c->accounts[j].type);
            sep(&accounts);
            buf_put_element(&accounts, c->accounts[j].name);
            sep(&binds);
            sep(&lasts);
            if (c->times == NULL) {
                buf_put(&binds, "NULL", 4);
                buf_put(&lasts, "NULL", 4);
            } else {
                buf_put_i64(&binds, c->times[j].bind_time);
                buf_put_i64(&lasts, c->times[j].last_bind_time);
            }
        }
    }
    query->stmt = PB_PG_APPLY;
    query->values[0] = udecimal(pool, access_id);
    query->values[1] = decimal(pool, pb_clock_unix_s());
    query->values[2] = decimal(pool, store->binding_ttl);
    query->values[3] = decimal(pool, store->limits.max_accounts_per_token);
    query->values[4] = decimal(pool, store->limits.max_tokens_per_account);
    query->values[5] = buf_close(&kinds);
    query->values[6] = buf_close(&tokens);
    query->values[7] = buf_close(&platforms);
    query->values[8] = buf_close(&counts);
    query->values[9] = buf_close(&types);
    query->values[10] = buf_close(&accounts);
    query->values[11] = buf_close(&binds);
    query->values[12] = buf_close(&lasts);
    query->n_values = 13;
}

/* ---- Rows ---- */

static int64_t field_i64(const PGresult *res, int row, int col)
{
    return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static pb_str field_str(const PGresult *res, int row, int col, pb_pool *pool)
{
    return pb_pool_strdup(pool, (pb_str){PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col)});
}

/*
 * The rows of a list lookup, grouped by their first column (the input item,
 * from 1): first[i] is the first row of item i and count[i] how many.
 */
static bool group_rows(const PGresult *res, size_t n, pb_pool *pool, int **first, size_t **count)
{
    *first = pb_pool_alloc(pool, n * sizeof(**first));
    *count = pb_pool_alloc(pool, n * sizeof(**count));
    memset(*count, 0, n * sizeof(**count));
    int rows = PQntuples(res);
    for (int r = 0; r < rows; r++) {
        int64_t item = field_i64(res, r, 0);
        if (item < 1 || (uint64_t)item > n)
            return false;
        if ((*count)[item - 1]++ == 0)
            (*first)[item - 1] = r;
    }
    return true;
}

static pb_platform platform_of(const PGresult *res, int row, int col)
{
    int64_t p = field_i64(res, row, col);
    return p == PB_PLATFORM_ANDROID || p == PB_PLATFORM_IOS ? (pb_platform)p : PB_PLATFORM_NONE;
}

static int decode_tokens(pb_store_lookup *lookup, const PGresult *res, pb_pool *pool)
{
    int *first;
    size_t *count;
    lookup->token_lists = pb_pool_alloc(pool, lookup->n * sizeof(*lookup->token_lists));
    if (!group_rows(res, lookup->n, pool, &first, &count))
        return PB_STORE_EIO;
    for (size_t i = 0; i < lookup->n; i++) {
        pb_token_list *list = &lookup->token_lists[i];
        *list = (pb_token_list){.n = count[i]};
        list->tokens = pb_pool_alloc(pool, count[i] * sizeof(*list->tokens));
        if (lookup->with_info) {
            list->times = pb_pool_alloc(pool, count[i] * sizeof(*list->times));
            list->platforms = pb_pool_alloc(pool, count[i] * sizeof(*list->platforms));
        }
        for (size_t k = 0; k < count[i]; k++) {
            int r = first[i] + (int)k;
            list->tokens[k] = field_str(res, r, 1, pool);
            if (lookup->with_info) {
                list->times[k] = (pb_binding_times){field_i64(res, r, 2), field_i64(res, r, 3)};
                list->platforms[k] = platform_of(res, r, 4);
            }
        }
    }
    return PB_STORE_OK;
}

static int decode_accounts(pb_store_lookup *lookup, const PGresult *res, pb_pool *pool)
{
    int *first;
    size_t *count;
    lookup->account_lists = pb_pool_alloc(pool, lookup->n * sizeof(*lookup->account_lists));
    if (!group_rows(res, lookup->n, pool, &first, &count))
        return PB_STORE_EIO;
    for (size_t i = 0; i < lookup->n; i++) {
        pb_account_list *list = &lookup->account_lists[i];
        *list = (pb_account_list){.n = count[i]};
        list->accounts = pb_pool_alloc(pool, count[i] * sizeof(*list->accounts));
        if (lookup->with_info)
            list->times = pb_pool_alloc(pool, count[i] * sizeof(*list->times));
        for (size_t k = 0; k < count[i]; k++) {
            int r = first[i] + (int)k;
            list->accounts[k] = (pb_account){field_str(res, r, 2, pool), (uint32_t)field_i64(res, r, 1)};
            if (lookup->with_info) {
                list->times[k] = (pb_binding_times){field_i64(res, r, 3), field_i64(res, r, 4)};
                list->platform = platform_of(res, r, 5);
            }
        }
    }
    return PB_STORE_OK;
}

static int decode_types(pb_store_lookup *lookup, const PGresult *res, pb_pool *pool)
{
    int rows = PQntuples(res);
    lookup->types = pb_pool_alloc(pool, (size_t)rows * sizeof(*lookup->types));
    lookup->n_types = (size_t)rows;
    for (int r = 0; r < rows; r++)
        lookup->types[r] = (uint32_t)field_i64(res, r, 0);
    return PB_STORE_OK;
}

static int decode_apps(pb_store_lookup *lookup, const PGresult *res, pb_pool *pool)
{
    int rows = PQntuples(res);
    lookup->apps = pb_pool_alloc(pool, (size_t)rows * sizeof(*lookup->apps));
    lookup->n_apps = (size_t)rows;
    for (int r = 0; r < rows; r++)
        lookup->apps[r] = (pb_app_info){(uint64_t)strtoull(PQgetvalue(res, r, 0), NULL, 10), field_i64(res, r, 1),
                                        (uint64_t)field_i64(res, r, 2)};
    return PB_STORE_OK;
}

/* The secret, and the named keys packed as store/app_keys.h says. */
static void decode_secret(pb_store_lookup *lookup, const PGresult *res, pb_pool *pool)
{
    unsigned char record[PB_KEY_RECORD_MAX];
    lookup->secret = field_str(res, 0, 0, pool);
    lookup->keys = (pb_str){NULL, 0};
    for (int r = 0; r < PQntuples(res); r++) {
        if (PQgetisnull(res, r, 1))
            continue;
        pb_app_key key = {
            .secret = {PQgetvalue(res, r, 5), (size_t)PQgetlength(res, r, 5)},
            .role = (pb_key_role)field_i64(res, r, 2),
            .created_at = field_i64(res, r, 3),
            .expires_at = field_i64(res, r, 4),
        };
        pb_str name = {PQgetvalue(res, r, 1), (size_t)PQgetlength(res, r, 1)};
        if (key.secret.len <= PB_KEY_SECRET_MAX)
            pb_keys_pack(pool, &lookup->keys, name, (pb_str){(const char *)record, pb_key_record_build(record, &key)});
    }
}

void pb_pg_lookup_decode(pb_store_lookup *lookup, const PGresult *res, pb_pool *pool)
{
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        lookup->result = PB_STORE_EIO;
        if (lookup->kind == PB_LOOKUP_APPS) {
            lookup->apps = NULL;
            lookup->n_apps = 0;
        }
        return;
    }
    switch (lookup->kind) {
    case PB_LOOKUP_SECRET:
        lookup->result = PQntuples(res) >= 1 ? PB_STORE_OK : PB_STORE_ENOTFOUND;
        if (lookup->result == PB_STORE_OK)
            decode_secret(lookup, res, pool);
        return;
    case PB_LOOKUP_APP:
        lookup->result = PQntuples(res) == 1 ? PB_STORE_OK : PB_STORE_ENOTFOUND;
        if (lookup->result == PB_STORE_OK)
            lookup->app = (pb_app_info){lookup->access_id, field_i64(res, 0, 0), (uint64_t)field_i64(res, 0, 1)};
        return;
    case PB_LOOKUP_PING:
        lookup->result = PB_STORE_OK;
        return;
    case PB_LOOKUP_APPS:
        lookup->result = decode_apps(lookup, res, pool);
        return;
    case PB_LOOKUP_TYPES:
        lookup->result = decode_types(lookup, res, pool);
        return;
    case PB_LOOKUP_TOKENS_OF:
        lookup->result = decode_tokens(lookup, res, pool);
        return;
    case PB_LOOKUP_ACCOUNTS_OF:
        lookup->result = decode_accounts(lookup, res, pool);
        return;
    }
    lookup->result = PB_STORE_EINVAL;
}

int pb_pg_apply_decode(const PGresult *res, size_t n, pb_change_outcome *outcomes)
{
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        return PB_STORE_EIO;
    if (PQgetisnull(res, 0, 0))
        return PB_STORE_ENOTFOUND;
    const char *p = PQgetvalue(res, 0, 0); /* "{0,1,2,EXPIRED}" */
    if (*p++ != '{')
        return PB_STORE_EIO;
    for (size_t i = 0; i < n; i++) {
        char *end;
        long outcome = strtol(p, &end, 10);
        if (end == p || (*end != ',' && *end != '}'))
            return PB_STORE_EIO;
        outcomes[i] = outcome == 0 ? PB_CHANGE_OK : outcome == 1 ? PB_CHANGE_OVER_LIMIT : PB_CHANGE_FAILED;
        p = end + 1;
    }
    long long expired = strtoll(p, NULL, 10); /* then the expired bindings the batch deleted */
    if (expired > 0)
        pb_metrics_count_expired((uint64_t)expired);
    return PB_STORE_OK;
}
