/*
 * test_json_writer.c — the JSON writer (common/json_writer.h): one test per
 * class of string byte (control characters, '"', '\\', '/', non-ASCII), the
 * largest and smallest integers, commas and nesting, growth, and every byte
 * value written as yajl's generator wrote it before the writer replaced it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "common/json_writer.h"

static int pool_setup(void **state)
{
    pb_pool *pool = malloc(sizeof(*pool));
    pb_pool_init(pool);
    *state = pool;
    return 0;
}

static int pool_teardown(void **state)
{
    pb_pool_clear(*state);
    free(*state);
    return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, pool_setup, pool_teardown)

static void assert_text(const pb_json_writer *w, const char *expected, size_t expected_len)
{
    pb_str text = pb_json_text(w);
    assert_int_equal(text.len, expected_len);
    assert_memory_equal(text.base, expected, expected_len);
}

#define assert_text_lit(w, lit) assert_text((w), (lit), sizeof(lit) - 1)

/* `s` written as a lone string value, after `prefix` bytes of 'a' so that the escape falls in any of 8 places of a word. */
static void assert_string_at(pb_pool *pool, size_t prefix, const char *s, size_t len, const char *escaped)
{
    char in[64], out[128];
    assert_true(prefix + len <= sizeof(in));
    memset(in, 'a', prefix);
    memcpy(in + prefix, s, len);
    out[0] = '"';
    memset(out + 1, 'a', prefix);
    size_t out_len = 1 + prefix + (size_t)sprintf(out + 1 + prefix, "%s\"", escaped);
    pb_json_writer w;
    pb_json_init(&w, pool);
    pb_json_string(&w, (pb_str){in, prefix + len});
    assert_text(&w, out, out_len);
}

static void assert_string(pb_pool *pool, const char *s, size_t len, const char *escaped)
{
    for (size_t prefix = 0; prefix <= 17; prefix++)
        assert_string_at(pool, prefix, s, len, escaped);
}

static void control_characters_are_escaped(void **state)
{
    static const char *const expected[0x20] = {
        "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b",     "\\t",     "\\n",     "\\u000B", "\\f",     "\\r",     "\\u000E", "\\u000F",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001A", "\\u001B", "\\u001C", "\\u001D", "\\u001E", "\\u001F",
    };
    for (int c = 0; c < 0x20; c++) {
        char one = (char)c;
        assert_string(*state, &one, 1, expected[c]);
    }
    assert_string(*state, "\n\n\x01x\x1f", 5, "\\n\\n\\u0001x\\u001F");
}

static void quote_is_escaped(void **state)
{
    assert_string(*state, "\"", 1, "\\\"");
    assert_string(*state, "say \"hi\"", 8, "say \\\"hi\\\"");
}

static void backslash_is_escaped(void **state)
{
    assert_string(*state, "\\", 1, "\\\\");
    assert_string(*state, "C:\\dir\\\\x", 9, "C:\\\\dir\\\\\\\\x");
}

/* RFC 8259 lets '/' be written as it is; yajl's generator was configured so, and the answers keep it. */
static void solidus_is_kept(void **state)
{
    assert_string(*state, "/", 1, "/");
    assert_string(*state, "a/b//c</script>", 15, "a/b//c</script>");
}

/* Bytes of 0x80 and above (UTF-8 sequences) and DEL are written as they are, not as \u escapes. */
static void non_ascii_is_kept(void **state)
{
    const char text[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f";
    assert_string(*state, text, sizeof(text) - 1, text);
    assert_string(*state, "\xff\x80", 2, "\xff\x80");
}

static void empty_and_null_strings_are_empty(void **state)
{
    pb_json_writer w;
    pb_json_init(&w, *state);
    pb_json_array_open(&w);
    pb_json_string(&w, (pb_str){NULL, 0});
    pb_json_string(&w, PB_STR_LIT(""));
    pb_json_array_close(&w);
    assert_text_lit(&w, "[\"\",\"\"]");
}

static void largest_and_smallest_integers(void **state)
{
    pb_json_writer w;
    pb_json_init(&w, *state);
    pb_json_array_open(&w);
    pb_json_int(&w, INT64_MAX);
    pb_json_int(&w, INT64_MIN);
    pb_json_int(&w, 0);
    pb_json_int(&w, -1);
    pb_json_uint(&w, UINT64_MAX);
    pb_json_uint(&w, 0);
    pb_json_int_string(&w, INT64_MIN);
    pb_json_int_string(&w, INT64_MAX);
    pb_json_int_string(&w, 1008007);
    pb_json_array_close(&w);
    assert_text_lit(&w, "[9223372036854775807,-9223372036854775808,0,-1,18446744073709551615,0,"
                        "\"-9223372036854775808\",\"9223372036854775807\",\"1008007\"]");
}

static void commas_between_members_and_elements_only(void **state)
{
    pb_json_writer w;
    pb_json_init(&w, *state);
    pb_json_object_open(&w);
    PB_JSON_KEY(&w, "a");
    pb_json_array_open(&w);
    pb_json_array_close(&w);
    PB_JSON_KEY(&w, "b");
    pb_json_object_open(&w);
    pb_json_object_close(&w);
    pb_json_key(&w, PB_STR_LIT("c\"\n"));
    pb_json_array_open(&w);
    pb_json_object_open(&w);
    PB_JSON_KEY(&w, "d");
    pb_json_bool(&w, true);
    PB_JSON_KEY(&w, "e");
    pb_json_bool(&w, false);
    pb_json_object_close(&w);
    pb_json_array_open(&w);
    pb_json_int(&w, 1);
    pb_json_string(&w, PB_STR_LIT("x"));
    pb_json_array_close(&w);
    pb_json_int(&w, 2);
    pb_json_array_close(&w);
    pb_json_object_close(&w);
    assert_text_lit(&w, "{\"a\":[],\"b\":{},\"c\\\"\\n\":[{\"d\":true,\"e\":false},[1,\"x\"],2]}");
}

/* Strings longer than the buffer, with escapes past where it grew, and a reset that starts over in the same memory. */
static void text_grows_and_resets(void **state)
{
    enum { LEN = 5000 };
    char *in = malloc(LEN), *expected = malloc(2 * LEN + 16);
    size_t n = 0;
    expected[n++] = '[';
    expected[n++] = '"';
    for (size_t i = 0; i < LEN; i++) {
        in[i] = i % 97 == 96 ? '"' : (char)('a' + i % 26);
        if (in[i] == '"')
            expected[n++] = '\\';
        expected[n++] = in[i];
    }
    expected[n++] = '"';
    expected[n++] = ']';
    pb_json_writer w;
    pb_json_init(&w, *state);
    pb_json_array_open(&w);
    pb_json_string(&w, (pb_str){in, LEN});
    pb_json_array_close(&w);
    assert_text(&w, expected, n);
    char *memory = w.bytes;
    pb_json_reset(&w);
    pb_json_int(&w, 7);
    assert_text_lit(&w, "7");
    assert_ptr_equal(w.bytes, memory);
    free(in);
    free(expected);
}

static void yajl_print(void *ctx, const char *s, size_t len)
{
    pb_json_writer *out = ctx;
    memcpy(out->bytes + out->len, s, len);
    out->len += len;
}

/* Every byte value, alone and inside a longer string, as yajl_gen (compact, '/' kept, no UTF-8 check) wrote it. */
static void every_byte_as_yajl_generator_wrote_it(void **state)
{
    char oracle_bytes[256];
    for (int c = 0; c < 256; c++) {
        char in[] = "0123456789?abcdef";
        in[10] = (char)c;
        for (size_t start = 0; start <= 10; start += 5) {
            pb_json_writer oracle = {.bytes = oracle_bytes};
            yajl_gen gen = yajl_gen_alloc(NULL);
            yajl_gen_config(gen, yajl_gen_print_callback, yajl_print, &oracle);
            yajl_gen_config(gen, yajl_gen_escape_solidus, 0);
            yajl_gen_string(gen, (const unsigned char *)in + start, sizeof(in) - 1 - start);
            yajl_gen_free(gen);
            pb_json_writer w;
            pb_json_init(&w, *state);
            pb_json_string(&w, (pb_str){in + start, sizeof(in) - 1 - start});
            assert_text(&w, oracle.bytes, oracle.len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(control_characters_are_escaped),
        T(quote_is_escaped),
        T(backslash_is_escaped),
        T(solidus_is_kept),
        T(non_ascii_is_kept),
        T(empty_and_null_strings_are_empty),
        T(largest_and_smallest_integers),
        T(commas_between_members_and_elements_only),
        T(text_grows_and_resets),
        T(every_byte_as_yajl_generator_wrote_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
