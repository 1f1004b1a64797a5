/*
 * test_decode_parse.c — what the decoder's parse accepts and refuses:
 * strings (escapes, UTF-8, surrogates), bodies that are not one JSON object,
 * and bodies mangled at random, which never crash (codec/decode_parse.c).
 */
#include "codec_test.h"

/* ---- strings ---- */

static void plain_string_points_into_body(void **state)
{
    pb_str body = q(*state, "{'token_list': ['abc']}");
    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, body.base, body.len, &r), PB_OK);
    assert_ptr_equal(r.token_list.items[0].token.base, body.base + 17);
    assert_pb_str(r.token_list.items[0].token, "abc");
}

static void escaped_string_is_unescaped(void **state)
{
    const char body[] = "{\"account_list\":[{\"account\":\"a\\\"b\\\\c\\/d\\u00e9\\n\\t\\u0041\"}],"
                        "\"token_list\":[\"\\ud83d\\ude00\"]}";
    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, body, sizeof(body) - 1, &r), PB_OK);
    pb_str name = r.account_list.items[0].account.name;
    assert_pb_str(name, "a\"b\\c/d\xc3\xa9\n\tA");
    assert_true(name.base < body || name.base >= body + sizeof(body)); /* a copy, in the pool */
    assert_true(r.account_list.items[0].well_typed);
    assert_pb_str(r.token_list.items[0].token, "\xf0\x9f\x98\x80");

    /* \u0000 is a byte like any other here; the endpoint rejects control characters */
    const char nul[] = "{\"token_list\":[\"a\\u0000b\"]}";
    assert_int_equal(pb_decode_query(*state, nul, sizeof(nul) - 1, &r), PB_OK);
    assert_int_equal(r.token_list.items[0].token.len, 3);
    assert_memory_equal(r.token_list.items[0].token.base, "a\0b", 3);
}

static void long_escaped_string_is_unescaped(void **state)
{
    /* longer than yajl's first decode buffer, so that yajl grows it through the pool */
    enum { N = 5000 };
    char *body = malloc(N * 2 + 64);
    size_t len = (size_t)sprintf(body, "{\"token_list\":[\"");
    for (int i = 0; i < N; i++) {
        body[len++] = '\\';
        body[len++] = i % 2 ? 'n' : 't';
    }
    len += (size_t)sprintf(body + len, "\"]}");
    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, body, len, &r), PB_OK);
    assert_int_equal(r.token_list.items[0].token.len, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(r.token_list.items[0].token.base[i], i % 2 ? '\n' : '\t');
    free(body);
}

static void valid_utf8_is_accepted(void **state)
{
    const char body[] = "{\"account_list\":[{\"account\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"}]}";
    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, body, sizeof(body) - 1, &r), PB_OK);
    assert_pb_str(r.account_list.items[0].account.name, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
}

/* Each of `bad` inside a kept value, a key and a skipped value is a parse error. */
static void assert_parse_error_in_every_place(pb_pool *pool, const char *const *bad, size_t n)
{
    static const char *const shapes[] = {
        "{\"token_list\":[\"a%sb\"]}", /* a value the decoder keeps */
        "{\"a%sb\":1}",                /* a key */
        "{\"x\":[{\"y\":\"%s\"}]}",    /* a skipped value */
    };
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < sizeof(shapes) / sizeof(shapes[0]); j++) {
            char body[64];
            int len = snprintf(body, sizeof(body), shapes[j], bad[i]);
            pb_query_request r;
            assert_int_equal(pb_decode_query(pool, body, (size_t)len, &r), PB_ERR_PARSE);
        }
    }
}

static void invalid_utf8_is_parse_error(void **state)
{
    static const char *const bad[] = {
        "\xff",             /* never valid */
        "\x80",             /* a lone continuation byte */
        "\xc3",             /* cut short */
        "\xe2\x82",         /* cut short */
        "\xe2\x82\x28",     /* not a continuation byte */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong */
        "\xf0\x80\x80\xaf", /* overlong */
        "\xed\xa0\x80",     /* a UTF-16 surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80", /* above U+10FFFF */
    };
    assert_parse_error_in_every_place(*state, bad, sizeof(bad) / sizeof(bad[0]));
}

static void escaped_surrogate_that_is_not_a_pair_is_parse_error(void **state)
{
    static const char *const bad[] = {
        "\\ud800",         /* a high surrogate at the end of the string */
        "\\ud800ab",       /* followed by plain text */
        "\\ud800\\u0041", /* followed by an escape that is not a low surrogate */
        "\\udbff\\ud800", /* followed by another high one */
        "\\udc00",         /* a low surrogate alone */
        "\\udc00\\ud800", /* the pair in the wrong order */
        "\\ud800\\n",     /* followed by another kind of escape */
    };
    assert_parse_error_in_every_place(*state, bad, sizeof(bad) / sizeof(bad[0]));
}

static void escaped_surrogate_pair_and_escaped_backslash_decode(void **state)
{
    pb_query_request r;
    const char pair[] = "{\"token_list\":[\"\\ud83d\\ude00\", \"\\\\ud800\"]}";
    assert_int_equal(pb_decode_query(*state, pair, sizeof(pair) - 1, &r), PB_OK);
    assert_pb_str(r.token_list.items[0].token, "\xf0\x9f\x98\x80");
    assert_pb_str(r.token_list.items[1].token, "\\ud800"); /* an escaped backslash, then text */
}

static void control_char_in_string_is_parse_error(void **state)
{
    assert_int_equal(query_raw(*state, RAW("{\"token_list\":[\"a\nb\"]}")), PB_ERR_PARSE);
    assert_int_equal(query_raw(*state, RAW("{\"token_list\":[\"a\0b\"]}")), PB_ERR_PARSE);
    assert_int_equal(query_raw(*state, RAW("{\"token_list\":[\"a\\qb\"]}")), PB_ERR_PARSE); /* bad escape */
}

/* ---- bodies that are not one JSON object ---- */

static void top_level_array_is_parse_error(void **state)
{
    static const char *const bodies[] = {"[]", "[{'operator_type': 1}]", "5", "'x'", "null", "true"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        pb_query_request r;
        assert_int_equal(query(*state, bodies[i], &r), PB_ERR_PARSE);
    }
}

static void empty_body_is_parse_error(void **state)
{
    pb_query_request r;
    assert_int_equal(pb_decode_query(*state, "", 0, &r), PB_ERR_PARSE);
    assert_int_equal(pb_decode_query(*state, NULL, 0, &r), PB_ERR_PARSE);
    assert_int_equal(query(*state, " \n\t ", &r), PB_ERR_PARSE);
}

/* `depth` nested arrays under an unknown key of the top-level object. */
static int decode_nested(pb_pool *pool, size_t depth)
{
    char body[512];
    size_t len = (size_t)sprintf(body, "{\"x\":");
    for (size_t i = 0; i < depth; i++)
        body[len++] = '[';
    for (size_t i = 0; i < depth; i++)
        body[len++] = ']';
    body[len++] = '}';
    pb_batch_request r;
    return pb_decode_batch(pool, body, len, &r);
}

static void too_deep_is_parse_error(void **state)
{
    /* the top-level object is one level */
    assert_int_equal(decode_nested(*state, PB_JSON_MAX_DEPTH), PB_ERR_PARSE);
    assert_int_equal(decode_nested(*state, 200), PB_ERR_PARSE);
}

static void max_depth_is_accepted(void **state)
{
    assert_int_equal(decode_nested(*state, PB_JSON_MAX_DEPTH - 1), PB_OK);
}

static void trailing_garbage_is_parse_error(void **state)
{
    static const char *const bodies[] = {"{}x", "{} {}", "{}]", "{'a': 1},", "{}{'operator_type': 1}"};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        pb_query_request r;
        assert_int_equal(query(*state, bodies[i], &r), PB_ERR_PARSE);
    }
    assert_int_equal(query_raw(*state, RAW("{}\0")), PB_ERR_PARSE);
    /* trailing white space is fine */
    assert_int_equal(query_raw(*state, RAW("{} \r\n")), PB_OK);
}

static void comments_are_parse_error(void **state)
{
    assert_int_equal(query_raw(*state, RAW("{/* c */\"operator_type\":1}")), PB_ERR_PARSE);
    assert_int_equal(query_raw(*state, RAW("{\"operator_type\":1} // c")), PB_ERR_PARSE);
}

static void truncated_body_is_parse_error(void **state)
{
    pb_query_request r;
    assert_int_equal(query(*state, "{'operator_type': 1, 'token_list': ['t'", &r), PB_ERR_PARSE);
    assert_int_equal(query(*state, "{'operator_type': 1", &r), PB_ERR_PARSE);
}

static void parse_error_leaves_request_empty(void **state)
{
    pb_batch_request r;
    assert_int_equal(batch(*state, "{'operator_type': 2, 'platform': 'ios', 'token_list': ['t'], 'x': nul}", &r),
                     PB_ERR_PARSE);
    assert_int_equal(r.operator_type.state, PB_FIELD_ABSENT);
    assert_int_equal(r.platform_state, PB_FIELD_ABSENT);
    assert_int_equal(r.platform.len, 0);
    assert_int_equal(r.token_list.state, PB_FIELD_ABSENT);
    assert_int_equal(r.token_list.n, 0);
}

/* ---- never crashes ---- */

/* Reads every byte the request points at, so that ASan sees a bad pointer. */
static unsigned touch_str(pb_str s)
{
    unsigned sum = 0;
    for (size_t i = 0; i < s.len; i++)
        sum += (unsigned char)s.base[i];
    return sum;
}

static unsigned touch_accounts(const pb_account_item_list *list)
{
    unsigned sum = 0;
    for (size_t i = 0; i < list->n; i++)
        sum += touch_str(list->items[i].account.name) + list->items[i].account.type;
    return sum;
}

static unsigned touch_batch(const pb_batch_request *r)
{
    unsigned sum = touch_str(r->platform) + touch_accounts(&r->account_list);
    for (size_t i = 0; i < r->token_list.n; i++)
        sum += touch_str(r->token_list.items[i].token);
    for (size_t i = 0; i < r->token_accounts.n; i++)
        sum += touch_str(r->token_accounts.items[i].token.token) +
               touch_accounts(&r->token_accounts.items[i].account_list);
    return sum;
}

static const char *const fuzz_seeds[] = {
    "{\"operator_type\":2,\"platform\":\"android\",\"token_accounts\":[{\"token\":\"token1\",\"account_list\":"
    "[{\"account\":\"926@126.com\"},{\"account\":\"15\\u00e9\",\"account_type\":1}]},{\"token\":\"t\\\"2\","
    "\"account_list\":[{\"account\":\"\xe2\x82\xac\",\"x\":[1,{\"y\":null}]}]}],\"token_list\":[\"a\",1,true],"
    "\"account_list\":[{\"account\":\"b\",\"account_type\":-1.5e3}]}",
    "{\"operator_type\":1,\"account_list\":[{\"account\":\"account1\"},{\"account\":\"13800000000\","
    "\"account_type\":1}],\"token_list\":[\"token1\",\"token2\"]}",
};

static volatile unsigned touched; /* keeps the reads from being optimised away */

static void every_prefix_is_parse_error(void **state)
{
    for (size_t s = 0; s < sizeof(fuzz_seeds) / sizeof(fuzz_seeds[0]); s++) {
        size_t len = strlen(fuzz_seeds[s]);
        for (size_t k = 0; k <= len; k++) {
            char *body = malloc(k == 0 ? 1 : k); /* exactly k bytes: ASan catches any read past them */
            memcpy(body, fuzz_seeds[s], k);
            pb_batch_request b;
            pb_query_request qr;
            int expected = k == len ? PB_OK : PB_ERR_PARSE;
            assert_int_equal(pb_decode_batch(*state, body, k, &b), expected);
            touched += touch_batch(&b);
            assert_int_equal(pb_decode_query(*state, body, k, &qr), expected);
            free(body);
            pb_pool_clear(*state);
        }
    }
}

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void random_byte_flips_never_crash(void **state)
{
    static const char interesting[] = "{}[]\":,\\ -.0123456789eEtrufalsn\x80\xc3\xe2\xf0\xff";
    uint64_t seed = 0x9e3779b97f4a7c15u; /* fixed: failures reproduce */
    size_t ok = 0, parse_errors = 0;
    for (int round = 0; round < 20000; round++) {
        const char *base = fuzz_seeds[round % 2];
        size_t len = strlen(base);
        char *body = malloc(len);
        memcpy(body, base, len);
        int flips = 1 + (int)(xorshift(&seed) % 4);
        for (int f = 0; f < flips; f++) {
            size_t at = xorshift(&seed) % len;
            uint64_t r = xorshift(&seed);
            body[at] = (r & 1) ? interesting[(r >> 1) % (sizeof(interesting) - 1)] : (char)(r >> 8);
        }
        size_t cut = (xorshift(&seed) % 8 == 0) ? xorshift(&seed) % (len + 1) : len;

        pb_batch_request b;
        int code = pb_decode_batch(*state, body, cut, &b);
        assert_true(code == PB_OK || code == PB_ERR_PARSE);
        touched += touch_batch(&b);
        pb_query_request qr;
        int query_code = pb_decode_query(*state, body, cut, &qr);
        assert_int_equal(query_code, code); /* both see the same JSON */
        if (code == PB_OK)
            ok++;
        else
            parse_errors++;
        free(body);
        pb_pool_clear(*state);
    }
    /* the loop exercised both outcomes */
    assert_true(ok > 100);
    assert_true(parse_errors > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(plain_string_points_into_body),
        T(escaped_string_is_unescaped),
        T(long_escaped_string_is_unescaped),
        T(valid_utf8_is_accepted),
        T(invalid_utf8_is_parse_error),
        T(escaped_surrogate_that_is_not_a_pair_is_parse_error),
        T(escaped_surrogate_pair_and_escaped_backslash_decode),
        T(control_char_in_string_is_parse_error),
        T(top_level_array_is_parse_error),
        T(empty_body_is_parse_error),
        T(too_deep_is_parse_error),
        T(max_depth_is_accepted),
        T(trailing_garbage_is_parse_error),
        T(comments_are_parse_error),
        T(truncated_body_is_parse_error),
        T(parse_error_leaves_request_empty),
        T(every_prefix_is_parse_error),
        T(random_byte_flips_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
