/* The value rules of docs/API.md, one test per rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "api/validate.h"
#include "common/codes.h"

static pb_api_config config;

static int setup(void **state)
{
    pb_api_config_defaults(&config);
    return 0;
}

static int token_code(const char *s, size_t len)
{
    pb_token_item item = {.token = {s, len}, .is_string = true};
    return pb_validate_token(&config, &item);
}

static int account_code(const char *s, size_t len)
{
    pb_account_item item = {.account = {.name = {s, len}}, .well_typed = true};
    return pb_validate_account(&config, &item);
}

static void operator_type_absent_is_missing_parameter(void **state)
{
    pb_operator_type op = {.state = PB_FIELD_ABSENT};
    assert_int_equal(pb_validate_operator_type(&op, 2), PB_ERR_MISSING);
}

static void operator_type_out_of_range_or_mistyped_is_invalid(void **state)
{
    pb_operator_type zero = {.state = PB_FIELD_PRESENT, .value = 0};
    pb_operator_type three = {.state = PB_FIELD_PRESENT, .value = 3};
    pb_operator_type string = {.state = PB_FIELD_WRONG_TYPE};
    pb_operator_type two = {.state = PB_FIELD_PRESENT, .value = 2};
    assert_int_equal(pb_validate_operator_type(&zero, 2), PB_ERR_PARAM);
    assert_int_equal(pb_validate_operator_type(&three, 2), PB_ERR_PARAM);
    assert_int_equal(pb_validate_operator_type(&string, 2), PB_ERR_PARAM);
    assert_int_equal(pb_validate_operator_type(&two, 2), PB_OK);
    assert_int_equal(pb_validate_operator_type(&three, 5), PB_OK);
}

static void list_absent_or_empty_is_missing_and_too_long_is_invalid(void **state)
{
    assert_int_equal(pb_validate_list(PB_FIELD_ABSENT, 0, 100), PB_ERR_MISSING);
    assert_int_equal(pb_validate_list(PB_FIELD_PRESENT, 0, 100), PB_ERR_MISSING);
    assert_int_equal(pb_validate_list(PB_FIELD_WRONG_TYPE, 0, 100), PB_ERR_PARAM);
    assert_int_equal(pb_validate_list(PB_FIELD_PRESENT, 101, 100), PB_ERR_PARAM);
    assert_int_equal(pb_validate_list(PB_FIELD_PRESENT, 100, 100), PB_OK);
    assert_int_equal(pb_validate_list(PB_FIELD_PRESENT, 1, 100), PB_OK);
}

static void platform_is_android_or_ios_in_any_case(void **state)
{
    assert_int_equal(pb_validate_platform(PB_FIELD_ABSENT, (pb_str){0}), PB_OK);
    assert_int_equal(pb_validate_platform(PB_FIELD_PRESENT, PB_STR_LIT("android")), PB_OK);
    assert_int_equal(pb_validate_platform(PB_FIELD_PRESENT, PB_STR_LIT("iOS")), PB_OK);
    assert_int_equal(pb_validate_platform(PB_FIELD_PRESENT, PB_STR_LIT("ANDROID")), PB_OK);
    assert_int_equal(pb_validate_platform(PB_FIELD_PRESENT, PB_STR_LIT("windows")), PB_ERR_PARAM);
    assert_int_equal(pb_validate_platform(PB_FIELD_PRESENT, PB_STR_LIT("ios ")), PB_ERR_PARAM);
    assert_int_equal(pb_validate_platform(PB_FIELD_PRESENT, PB_STR_LIT("")), PB_ERR_PARAM);
    assert_int_equal(pb_validate_platform(PB_FIELD_WRONG_TYPE, (pb_str){0}), PB_ERR_PARAM);
}

static void token_is_printable_ascii_up_to_limit(void **state)
{
    char longest[PB_DEFAULT_MAX_TOKEN_BYTES + 1];
    memset(longest, 'x', sizeof(longest));
    assert_int_equal(token_code("token1", 6), PB_OK);
    assert_int_equal(token_code("!~", 2), PB_OK);
    assert_int_equal(token_code(longest, PB_DEFAULT_MAX_TOKEN_BYTES), PB_OK);
    assert_int_equal(token_code(longest, PB_DEFAULT_MAX_TOKEN_BYTES + 1), PB_ERR_TOKEN);
    assert_int_equal(token_code("", 0), PB_ERR_TOKEN);
    assert_int_equal(token_code("a b", 3), PB_ERR_TOKEN);
    assert_int_equal(token_code("a\tb", 3), PB_ERR_TOKEN);
    assert_int_equal(token_code("a\0b", 3), PB_ERR_TOKEN);
    assert_int_equal(token_code("\x7f", 1), PB_ERR_TOKEN);
    assert_int_equal(token_code("caf\xc3\xa9", 5), PB_ERR_TOKEN);
}

static void token_that_is_not_a_string_is_invalid_token(void **state)
{
    pb_token_item item = {.is_string = false};
    assert_int_equal(pb_validate_token(&config, &item), PB_ERR_TOKEN);
}

static void account_is_utf8_without_controls_up_to_limit(void **state)
{
    char longest[PB_DEFAULT_MAX_ACCOUNT_BYTES + 1];
    memset(longest, 'a', sizeof(longest));
    assert_int_equal(account_code("926@126.com", 11), PB_OK);
    assert_int_equal(account_code("with space", 10), PB_OK);
    assert_int_equal(account_code("\xe5\xbc\xa0\xe4\xb8\x89", 6), PB_OK); /* 张三 */
    assert_int_equal(account_code("\xf0\x9f\x98\x80", 4), PB_OK);         /* U+1F600 */
    assert_int_equal(account_code(longest, PB_DEFAULT_MAX_ACCOUNT_BYTES), PB_OK);
    assert_int_equal(account_code(longest, PB_DEFAULT_MAX_ACCOUNT_BYTES + 1), PB_ERR_PARAM);
    assert_int_equal(account_code("", 0), PB_ERR_PARAM);
    assert_int_equal(account_code("a\nb", 3), PB_ERR_PARAM);
    assert_int_equal(account_code("a\0b", 3), PB_ERR_PARAM);
    assert_int_equal(account_code("\x7f", 1), PB_ERR_PARAM);
    assert_int_equal(account_code("\xc2\x85", 2), PB_ERR_PARAM); /* NEL, a C1 control */
}

static void account_with_malformed_utf8_is_invalid(void **state)
{
    assert_int_equal(account_code("\xff", 1), PB_ERR_PARAM);
    assert_int_equal(account_code("\xc3", 1), PB_ERR_PARAM);             /* truncated */
    assert_int_equal(account_code("\xc0\xaf", 2), PB_ERR_PARAM);         /* overlong '/' */
    assert_int_equal(account_code("\xed\xa0\x80", 3), PB_ERR_PARAM);     /* surrogate */
    assert_int_equal(account_code("\xf4\x90\x80\x80", 4), PB_ERR_PARAM); /* beyond U+10FFFF */
    assert_int_equal(account_code("\xe5\xbc", 2), PB_ERR_PARAM);         /* truncated */
}

static void account_not_well_typed_is_invalid(void **state)
{
    pb_account_item item = {.account = {.name = PB_STR_LIT("alice")}, .well_typed = false};
    assert_int_equal(pb_validate_account(&config, &item), PB_ERR_PARAM);
}

static void limits_follow_the_configuration(void **state)
{
    pb_api_config narrow = config;
    narrow.max_token_bytes = 4;
    narrow.max_account_bytes = 2;
    pb_token_item token = {.token = PB_STR_LIT("abcde"), .is_string = true};
    pb_account_item account = {.account = {.name = PB_STR_LIT("abc")}, .well_typed = true};
    assert_int_equal(pb_validate_token(&narrow, &token), PB_ERR_TOKEN);
    assert_int_equal(pb_validate_account(&narrow, &account), PB_ERR_PARAM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(operator_type_absent_is_missing_parameter),
        cmocka_unit_test(operator_type_out_of_range_or_mistyped_is_invalid),
        cmocka_unit_test(list_absent_or_empty_is_missing_and_too_long_is_invalid),
        cmocka_unit_test(platform_is_android_or_ios_in_any_case),
        cmocka_unit_test(token_is_printable_ascii_up_to_limit),
        cmocka_unit_test(token_that_is_not_a_string_is_invalid_token),
        cmocka_unit_test(account_is_utf8_without_controls_up_to_limit),
        cmocka_unit_test(account_with_malformed_utf8_is_invalid),
        cmocka_unit_test(account_not_well_typed_is_invalid),
        cmocka_unit_test(limits_follow_the_configuration),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
