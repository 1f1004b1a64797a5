/*
 * tags.c — the PostgreSQL backend's tags: a tag request as one call of
 * tag_apply() (schema.c), each tag lookup as one statement (sql.c), their
 * parameters and the decoding of their rows; and the waiting calls of a
 * session bound to no loop. The loop's are in loop.c.
 */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "metrics/metrics.h"
#include "store/postgres/store_state.h"

/* `s` as a NUL-terminated text parameter. */
static const char *text_param(pb_pool *pool, pb_str s)
{
    char *text = pb_pool_alloc(pool, s.len + 1);
    if (s.len != 0)
        memcpy(text, s.base, s.len);
    text[s.len] = '\0';
    return text;
}

void pb_pg_tag_apply_query(pb_pg_query *query, const pb_pg_store *store, uint64_t access_id,
                           const pb_tag_write *write, pb_pool *pool)
{
    pb_tag_write_kind kind = write->kind;
    /* tag_write() reads the pairs of ADD and REMOVE, REPLACE's one token and its tags, DELETE_ALL's tags,
       CLEAR_TOKEN's token, INVALIDATE's tokens with their times */
    size_t n_tags = kind == PB_TAG_CLEAR_TOKEN || kind == PB_TAG_INVALIDATE ? 0 : write->n;
    size_t n_tokens = kind == PB_TAG_DELETE_ALL                                ? 0
                      : kind == PB_TAG_CLEAR_TOKEN || kind == PB_TAG_REPLACE ? 1
                                                                             : write->n;
    query->stmt = PB_PG_TAG_APPLY;
    query->values[0] = pb_pg_udecimal(pool, access_id);
    query->values[1] = pb_pg_decimal(pool, pb_clock_unix_s());
    query->values[2] = pb_pg_decimal(pool, store->binding_ttl);
    query->values[3] = pb_pg_decimal(pool, store->limits.max_accounts_per_token);
    query->values[4] = pb_pg_decimal(pool, store->limits.max_tokens_per_account);
    query->values[5] = pb_pg_decimal(pool, kind);
    query->values[6] = pb_pg_text_array(pool, write->tags, n_tags);
    query->values[7] = pb_pg_text_array(pool, write->tokens, n_tokens);
    query->values[8] = write->by_category ? "t" : "f";
    query->values[9] = pb_pg_decimal(pool, write->platform);
    query->values[10] = pb_pg_i64_array(pool, write->invalid_since, kind == PB_TAG_INVALIDATE ? write->n : 0);
    query->values[11] = pb_pg_decimal(pool, write->max_tags_per_token);
    query->values[12] = pb_pg_decimal(pool, write->max_tags_per_app);
    query->n_values = 13;
}

int pb_pg_tag_apply_decode(const PGresult *res, pb_tag_write *write)
{
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        return PB_STORE_EIO;
    if (PQgetisnull(res, 0, 0))
        return PB_STORE_ENOTFOUND;
    /* "{OUTCOME,AT,EXPIRED,KEPT…}" */
    long long fields[3];
    const char *p = PQgetvalue(res, 0, 0);
    if (*p++ != '{')
        return PB_STORE_EIO;
    size_t kept = write->kind == PB_TAG_INVALIDATE ? write->n : 0;
    for (size_t i = 0; i < 3 + kept; i++) {
        char *end;
        long long value = strtoll(p, &end, 10);
        if (end == p || (*end != ',' && *end != '}') || (*end == '}') != (i == 2 + kept))
            return PB_STORE_EIO;
        if (i < 3)
            fields[i] = value;
        else
            write->kept[i - 3] = value != 0;
        p = end + 1;
    }
    write->outcome = fields[0] == 0 ? PB_TAG_OK : fields[0] == 1 ? PB_TAG_OVER_TOKEN_LIMIT : PB_TAG_OVER_APP_LIMIT;
    write->at = fields[0] == 0 || fields[1] < 0 ? 0 : (size_t)fields[1];
    if (fields[2] > 0)
        pb_metrics_count_expired((uint64_t)fields[2]);
    return PB_STORE_OK;
}

void pb_pg_tag_lookup_query(pb_pg_query *query, const pb_tag_lookup *lookup, pb_pool *pool)
{
    query->values[0] = pb_pg_udecimal(pool, lookup->access_id);
    switch (lookup->kind) {
    case PB_TAG_LOOKUP_TAGS_OF:
    case PB_TAG_LOOKUP_COUNTS:
        query->stmt = lookup->kind == PB_TAG_LOOKUP_TAGS_OF ? PB_PG_TAGS_OF : PB_PG_TAG_COUNTS;
        query->values[1] = lookup->kind == PB_TAG_LOOKUP_TAGS_OF ? pb_pg_text_array(pool, lookup->tokens, lookup->n)
                                                                 : pb_pg_text_array(pool, lookup->tags, lookup->n);
        query->n_values = 2;
        return;
    case PB_TAG_LOOKUP_TOKENS_OF:
        query->stmt = PB_PG_TAG_TOKENS;
        query->values[1] = text_param(pool, lookup->tags[0]);
        query->values[2] = pb_pg_udecimal(pool, lookup->after);
        query->values[3] = pb_pg_udecimal(pool, lookup->limit + 1); /* one more says a next page exists */
        query->n_values = 4;
        return;
    case PB_TAG_LOOKUP_TAGS:
        query->stmt = PB_PG_TAG_LIST;
        query->values[1] = text_param(pool, lookup->after_tag);
        query->values[2] = pb_pg_udecimal(pool, lookup->limit + 1);
        query->n_values = 3;
        return;
    }
    query->stmt = PB_PG_PING; /* unknown kinds are refused by the decoding */
    query->n_values = 0;
}

static pb_str field_str(const PGresult *res, int row, int col, pb_pool *pool)
{
    return pb_pool_strdup(pool, (pb_str){PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col)});
}

static uint64_t field_u64(const PGresult *res, int row, int col)
{
    return strtoull(PQgetvalue(res, row, col), NULL, 10);
}

/* TAGS_OF: the rows, ordered by input item (from 1), into one list per token. */
static int decode_tags_of(pb_tag_lookup *lookup, const PGresult *res, pb_pool *pool)
{
    int rows = PQntuples(res);
    lookup->lists = pb_pool_alloc(pool, (lookup->n != 0 ? lookup->n : 1) * sizeof(*lookup->lists));
    memset(lookup->lists, 0, (lookup->n != 0 ? lookup->n : 1) * sizeof(*lookup->lists));
    for (int r = 0, first = 0; r <= rows; r++) {
        uint64_t item = r < rows ? field_u64(res, r, 0) : 0;
        if (r < rows && (item < 1 || item > lookup->n))
            return PB_STORE_EIO;
        if (r > first && (r == rows || item != field_u64(res, first, 0))) {
            pb_str_array *list = &lookup->lists[field_u64(res, first, 0) - 1];
            list->items = pb_pool_alloc(pool, (size_t)(r - first) * sizeof(*list->items));
            for (int k = first; k < r; k++)
                list->items[list->n++] = field_str(res, k, 1, pool);
            first = r;
        }
    }
    return PB_STORE_OK;
}

/* TOKENS_OF and TAGS: at most `limit` rows of (position, name); a row past them says there is more. */
static int decode_page(pb_tag_lookup *lookup, const PGresult *res, pb_pool *pool)
{
    size_t rows = (size_t)PQntuples(res), n = rows < lookup->limit ? rows : lookup->limit;
    bool tags = lookup->kind == PB_TAG_LOOKUP_TAGS;
    lookup->lists = pb_pool_alloc(pool, sizeof(*lookup->lists));
    lookup->lists->items = pb_pool_alloc(pool, (n != 0 ? n : 1) * sizeof(*lookup->lists->items));
    lookup->lists->n = n;
    if (tags)
        lookup->counts = pb_pool_alloc(pool, (n != 0 ? n : 1) * sizeof(*lookup->counts));
    for (size_t i = 0; i < n; i++) {
        lookup->lists->items[i] = field_str(res, (int)i, tags ? 0 : 1, pool);
        if (tags)
            lookup->counts[i] = field_u64(res, (int)i, 1);
    }
    lookup->more = tags && rows > n;
    lookup->next = !tags && rows > n ? field_u64(res, (int)n - 1, 0) : 0;
    return PB_STORE_OK;
}

void pb_pg_tag_lookup_decode(pb_tag_lookup *lookup, const PGresult *res, pb_pool *pool)
{
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        lookup->result = PB_STORE_EIO;
        return;
    }
    switch (lookup->kind) {
    case PB_TAG_LOOKUP_TAGS_OF:
        lookup->result = decode_tags_of(lookup, res, pool);
        return;
    case PB_TAG_LOOKUP_TOKENS_OF:
    case PB_TAG_LOOKUP_TAGS:
        lookup->result = decode_page(lookup, res, pool);
        return;
    case PB_TAG_LOOKUP_COUNTS:
        if ((size_t)PQntuples(res) != lookup->n) {
            lookup->result = PB_STORE_EIO;
            return;
        }
        lookup->counts = pb_pool_alloc(pool, (lookup->n != 0 ? lookup->n : 1) * sizeof(*lookup->counts));
        for (size_t i = 0; i < lookup->n; i++)
            lookup->counts[i] = field_u64(res, (int)i, 0);
        lookup->result = PB_STORE_OK;
        return;
    }
    lookup->result = PB_STORE_EINVAL;
}
