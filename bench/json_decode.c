/*
 * json_decode.c — what the JSON codec costs: our yajl streaming decoder and
 * our encoder (the JSON writer, common/json_writer.h) against jansson doing
 * the same jobs.
 *
 * Build and run from the repository root:
 *
 *   gcc -std=gnu11 -O2 -DH2O_USE_LIBUV=0 -D_GNU_SOURCE -Isrc bench/json_decode.c \
 *       src/codec/decode.c src/codec/decode_parse.c src/codec/decode_fields.c src/codec/encode.c \
 *       src/common/arena.c src/common/codes.c src/common/utf8.c src/common/json_writer.c \
 *       -lyajl -ljansson -lh2o-evloop -lssl -lcrypto -lpthread -o /tmp/json_decode && /tmp/json_decode
 *
 * An optional argument scales every iteration count (default 1.0).
 *
 * Each side does the whole job a request needs and nothing more:
 *   decode, ours:    pb_decode_query into the pool, then clear the pool.
 *   decode, jansson: json_loadb, walk the tree into the same pb_query_request
 *                    (lists in the pool, strings left pointing into the tree,
 *                    which is jansson's cheapest honest option), json_decref,
 *                    clear the pool.
 *   encode, ours:    pb_encode_query into the pool, then clear the pool.
 *   encode, jansson: build the tree from the same pb_query_response,
 *                    json_dumpb (JSON_COMPACT) into a ready buffer, json_decref.
 *                    Also timed: json_dumpb alone on a tree built once, the
 *                    floor for any jansson encoder.
 * Before timing, both sides are checked to produce the same request / bytes.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "codec/codec.h"
#include "common/codes.h"

#define ENTRIES 100

/* ---- the jansson side ---- */

static pb_field_state list_state(const json_t *v)
{
    if (v == NULL || json_is_null(v))
        return PB_FIELD_ABSENT;
    return json_is_array(v) ? PB_FIELD_PRESENT : PB_FIELD_WRONG_TYPE;
}

static void jansson_account(const json_t *element, pb_account_item *item)
{
    *item = (pb_account_item){.account = {.name = {"", 0}}};
    if (!json_is_object(element))
        return;
    const json_t *account = json_object_get(element, "account");
    const json_t *type = json_object_get(element, "account_type");
    bool type_ok = true;
    if (type != NULL && !json_is_null(type)) {
        json_int_t t = json_is_integer(type) ? json_integer_value(type) : -1;
        type_ok = t >= 0 && t <= PB_ACCOUNT_TYPE_MAX;
        if (type_ok)
            item->account.type = (uint32_t)t;
    }
    if (json_is_string(account)) {
        item->account.name = (pb_str){json_string_value(account), json_string_length(account)};
        item->well_typed = type_ok;
    }
}

/* The same contract as pb_decode_query; *tree must be released with json_decref. */
static int jansson_decode_query(pb_pool *pool, const char *body, size_t len, pb_query_request *out, json_t **tree)
{
    json_error_t error;
    json_t *root = json_loadb(body, len, 0, &error);
    *out = (pb_query_request){0};
    *tree = root;
    if (!json_is_object(root))
        return PB_ERR_PARSE;

    const json_t *op = json_object_get(root, "operator_type");
    if (json_is_integer(op))
        out->operator_type = (pb_operator_type){PB_FIELD_PRESENT, json_integer_value(op)};
    else if (op != NULL && !json_is_null(op))
        out->operator_type.state = PB_FIELD_WRONG_TYPE;

    const json_t *accounts = json_object_get(root, "account_list");
    out->account_list.state = list_state(accounts);
    if (out->account_list.state == PB_FIELD_PRESENT) {
        size_t n = json_array_size(accounts);
        out->account_list.items = pb_pool_alloc(pool, n * sizeof(pb_account_item));
        out->account_list.n = n;
        for (size_t i = 0; i < n; i++)
            jansson_account(json_array_get(accounts, i), &out->account_list.items[i]);
    }

    const json_t *tokens = json_object_get(root, "token_list");
    out->token_list.state = list_state(tokens);
    if (out->token_list.state == PB_FIELD_PRESENT) {
        size_t n = json_array_size(tokens);
        out->token_list.items = pb_pool_alloc(pool, n * sizeof(pb_token_item));
        out->token_list.n = n;
        for (size_t i = 0; i < n; i++) {
            const json_t *t = json_array_get(tokens, i);
            out->token_list.items[i] = json_is_string(t)
                                           ? (pb_token_item){{json_string_value(t), json_string_length(t)}, true}
                                           : (pb_token_item){{"", 0}, false};
        }
    }
    return PB_OK;
}

static json_t *jansson_str(pb_str s)
{
    return json_stringn_nocheck(s.base, s.len);
}

static json_t *jansson_build_query(const pb_query_response *r)
{
    json_t *root = json_object();
    json_object_set_new_nocheck(root, "retCode", json_integer(r->code));
    json_object_set_new_nocheck(root, "errMsg", json_string_nocheck(pb_code_message(r->code)));
    json_object_set_new_nocheck(root, "ret_code", json_integer(r->code));
    json_object_set_new_nocheck(root, "err_msg", json_string_nocheck(pb_code_message(r->code)));
    json_t *result = json_array();
    json_t *entries = json_array();
    for (size_t i = 0; i < r->n; i++) {
        const pb_account_tokens *e = &r->by_account[i];
        char code[12];
        json_array_append_new(result, json_stringn_nocheck(code, (size_t)snprintf(code, sizeof(code), "%d", e->code)));
        json_t *entry = json_object();
        json_object_set_new_nocheck(entry, "account", jansson_str(e->account.name));
        if (e->account.type != 0)
            json_object_set_new_nocheck(entry, "account_type", json_integer(e->account.type));
        json_t *tokens = json_array();
        for (size_t j = 0; j < e->tokens.n; j++)
            json_array_append_new(tokens, jansson_str(e->tokens.tokens[j]));
        json_object_set_new_nocheck(entry, "token_list", tokens);
        json_array_append_new(entries, entry);
    }
    json_object_set_new_nocheck(root, "result", result);
    json_object_set_new_nocheck(root, "account_tokens", entries);
    return root;
}

/* ---- inputs ---- */

static char *make_query_body(int accounts, size_t *len)
{
    char *body = malloc((size_t)accounts * 80 + 64);
    size_t n = (size_t)sprintf(body, "{\"operator_type\": 1, \"account_list\": [");
    for (int i = 0; i < accounts; i++) {
        if (i % 2)
            n += (size_t)sprintf(body + n, "%s{\"account\": \"1380000%04d\", \"account_type\": 1}", i ? ", " : "", i);
        else
            n += (size_t)sprintf(body + n, "%s{\"account\": \"user%04d@example.com\"}", i ? ", " : "", i);
    }
    n += (size_t)sprintf(body + n, "]}");
    *len = n;
    return body;
}

static pb_query_response make_response(void)
{
    static pb_account_tokens entries[ENTRIES];
    static char names[ENTRIES][32];
    static char token_text[ENTRIES][2][72];
    static pb_str tokens[ENTRIES][2];
    for (int i = 0; i < ENTRIES; i++) {
        size_t len = (size_t)sprintf(names[i], "user%04d@example.com", i);
        for (int j = 0; j < 2; j++)
            tokens[i][j] = (pb_str){token_text[i][j],
                                    (size_t)sprintf(token_text[i][j], "%064x", (unsigned)(i * 2 + j) * 2654435761u)};
        size_t n_tokens = i % 10 == 9 ? 0 : 2;
        entries[i] = (pb_account_tokens){n_tokens ? PB_OK : PB_ERR_NO_BINDING,
                                         {{names[i], len}, (uint32_t)(i % 2)},
                                         {.tokens = tokens[i], .n = n_tokens}};
    }
    return (pb_query_response){.code = PB_ERR_PARTIAL, .operator_type = 1, .n = ENTRIES, .by_account = entries};
}

/* ---- timing ---- */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile size_t sink; /* keeps results alive so the work is not optimised away */

typedef enum job {
    DECODE_OURS,
    DECODE_JANSSON,
    ENCODE_OURS,
    ENCODE_JANSSON,
    DUMP_JANSSON
} job;

typedef struct input {
    const char *body;
    size_t len;
    const pb_query_response *response;
    json_t *prebuilt; /* DUMP_JANSSON */
} input;

static char dump_buffer[1 << 20];

static void run_once(job j, pb_pool *pool, const input *in)
{
    pb_query_request request;
    json_t *tree;
    switch (j) {
    case DECODE_OURS:
        pb_decode_query(pool, in->body, in->len, &request);
        sink += request.account_list.n;
        break;
    case DECODE_JANSSON:
        jansson_decode_query(pool, in->body, in->len, &request, &tree);
        sink += request.account_list.n;
        json_decref(tree);
        break;
    case ENCODE_OURS:
        sink += pb_encode_query(pool, in->response).len;
        break;
    case ENCODE_JANSSON:
        tree = jansson_build_query(in->response);
        sink += json_dumpb(tree, dump_buffer, sizeof(dump_buffer), JSON_COMPACT);
        json_decref(tree);
        break;
    case DUMP_JANSSON:
        sink += json_dumpb(in->prebuilt, dump_buffer, sizeof(dump_buffer), JSON_COMPACT);
        break;
    }
    pb_pool_clear(pool);
}

static double ns_per_op(job j, const input *in, long iterations)
{
    pb_pool pool;
    pb_pool_init(&pool);
    for (long i = 0; i < iterations / 10 + 1; i++) /* warm caches and the allocator */
        run_once(j, &pool, in);
    double start = now_ns();
    for (long i = 0; i < iterations; i++)
        run_once(j, &pool, in);
    double elapsed = now_ns() - start;
    pb_pool_clear(&pool);
    return elapsed / (double)iterations;
}

/* ---- checks that both sides do the same job ---- */

static bool same_request(const pb_query_request *a, const pb_query_request *b)
{
    if (a->operator_type.state != b->operator_type.state || a->operator_type.value != b->operator_type.value ||
        a->account_list.n != b->account_list.n)
        return false;
    for (size_t i = 0; i < a->account_list.n; i++) {
        const pb_account_item *x = &a->account_list.items[i], *y = &b->account_list.items[i];
        if (!pb_account_eq(&x->account, &y->account) || x->well_typed != y->well_typed)
            return false;
    }
    return true;
}

static void check_same(const input *small, const input *large, const input *encode)
{
    pb_pool pool;
    pb_pool_init(&pool);
    const input *decodes[] = {small, large};
    for (int i = 0; i < 2; i++) {
        pb_query_request ours, theirs;
        json_t *tree;
        if (pb_decode_query(&pool, decodes[i]->body, decodes[i]->len, &ours) != PB_OK ||
            jansson_decode_query(&pool, decodes[i]->body, decodes[i]->len, &theirs, &tree) != PB_OK ||
            !same_request(&ours, &theirs)) {
            fprintf(stderr, "the two decoders disagree\n");
            exit(1);
        }
        json_decref(tree);
    }
    pb_str ours = pb_encode_query(&pool, encode->response);
    json_t *tree = jansson_build_query(encode->response);
    size_t len = json_dumpb(tree, dump_buffer, sizeof(dump_buffer), JSON_COMPACT);
    json_decref(tree);
    if (len != ours.len || memcmp(dump_buffer, ours.base, len) != 0) {
        fprintf(stderr, "the two encoders disagree:\n%.*s\n%.*s\n", (int)ours.len, ours.base, (int)len, dump_buffer);
        exit(1);
    }
    printf("bodies: small %zu bytes, large %zu bytes; encoded answer %zu bytes\n", small->len, large->len, ours.len);
    pb_pool_clear(&pool);
}

int main(int argc, char **argv)
{
    double scale = argc > 1 ? atof(argv[1]) : 1.0;
    size_t small_len, large_len;
    char *small_body = make_query_body(1, &small_len);
    char *large_body = make_query_body(ENTRIES, &large_len);
    pb_query_response response = make_response();

    input small = {small_body, small_len, NULL, NULL};
    input large = {large_body, large_len, NULL, NULL};
    input encode = {NULL, 0, &response, jansson_build_query(&response)};
    check_same(&small, &large, &encode);

    const struct {
        const char *name;
        job ours, theirs;
        const input *in;
        long iterations;
    } rows[] = {
        {"decode query, 1 account", DECODE_OURS, DECODE_JANSSON, &small, 1000000},
        {"decode query, 100 accounts", DECODE_OURS, DECODE_JANSSON, &large, 40000},
        {"encode answer, 100 entries", ENCODE_OURS, ENCODE_JANSSON, &encode, 40000},
        {"  (jansson json_dumpb only)", ENCODE_OURS, DUMP_JANSSON, &encode, 40000},
    };
    printf("%-30s %14s %14s %9s\n", "", "ours ns/op", "jansson ns/op", "jansson/ours");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        long iterations = (long)((double)rows[i].iterations * scale);
        if (iterations < 1)
            iterations = 1;
        double ours = ns_per_op(rows[i].ours, rows[i].in, iterations);
        double theirs = ns_per_op(rows[i].theirs, rows[i].in, iterations);
        printf("%-30s %14.0f %14.0f %9.2f\n", rows[i].name, ours, theirs, theirs / ours);
    }

    json_decref(encode.prebuilt);
    free(small_body);
    free(large_body);
    return 0;
}
