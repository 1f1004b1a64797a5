/* The code table: every code of docs/API.md has its message; top-level codes follow the items. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/codes.h"

static void every_spec_code_has_its_message(void **state)
{
    assert_string_equal(pb_code_message(PB_OK), "ok");
    assert_string_equal(pb_code_message(1008001), "parameter parse error");
    assert_string_equal(pb_code_message(1008002), "missing parameter");
    assert_string_equal(pb_code_message(1008003), "auth failure");
    assert_string_equal(pb_code_message(1008004), "invoke service error");
    assert_string_equal(pb_code_message(1008006), "invalid token");
    assert_string_equal(pb_code_message(1008007), "invalid parameter");
    assert_string_equal(pb_code_message(1008026), "batch op, partly error");
    assert_string_equal(pb_code_message(1008027), "batch op, total error");
    assert_string_equal(pb_code_message(1008028), "request too fast");
    assert_string_equal(pb_code_message(10110008), "no token, no account");
}

static void unknown_code_has_a_generic_message(void **state)
{
    assert_string_equal(pb_code_message(42), "unknown error");
}

static void top_level_code_follows_item_failures(void **state)
{
    assert_int_equal(pb_code_for_failures(0, 3), PB_OK);
    assert_int_equal(pb_code_for_failures(1, 3), PB_ERR_PARTIAL);
    assert_int_equal(pb_code_for_failures(3, 3), PB_ERR_TOTAL);
    assert_int_equal(pb_code_for_failures(1, 1), PB_ERR_TOTAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_spec_code_has_its_message),
        cmocka_unit_test(unknown_code_has_a_generic_message),
        cmocka_unit_test(top_level_code_follows_item_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
