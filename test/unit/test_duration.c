/* --binding-ttl's durations: one positive integer, one unit, at most 3650d. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/duration.h"

static int64_t parsed(const char *text)
{
    int64_t seconds = -1;
    const char *error = pb_duration_parse(text, &seconds);
    if (error != NULL)
        fail_msg("%s: %s", text, error);
    return seconds;
}

static void each_unit_scales_the_number(void **state)
{
    assert_int_equal(parsed("30s"), 30);
    assert_int_equal(parsed("45m"), 45 * 60);
    assert_int_equal(parsed("12h"), 12 * 3600);
    assert_int_equal(parsed("270d"), 270 * 86400);
    assert_int_equal(parsed("1s"), 1);
    assert_int_equal(parsed("007m"), 7 * 60);
}

static void the_maximum_is_3650_days_in_any_unit(void **state)
{
    assert_int_equal(parsed("3650d"), PB_DURATION_MAX_SECONDS);
    assert_int_equal(parsed("87600h"), PB_DURATION_MAX_SECONDS);
    assert_int_equal(parsed("315360000s"), PB_DURATION_MAX_SECONDS);
    int64_t seconds = 42;
    assert_string_equal(pb_duration_parse("3651d", &seconds), "too long: at most 3650d");
    assert_string_equal(pb_duration_parse("315360001s", &seconds), "too long: at most 3650d");
    assert_string_equal(pb_duration_parse("99999999999999999999999d", &seconds), "too long: at most 3650d");
    assert_int_equal(seconds, 42);
}

static void malformed_durations_say_why(void **state)
{
    static const char *const bad[] = {"", "s", "0s", "-1s", "+1s", " 1s", "1s ", "1 s", "1", "1.5h",
                                      "1h30m", "1w", "1S", "1sec", "d1", "0x10s"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t seconds = 42;
        const char *error = pb_duration_parse(bad[i], &seconds);
        if (error == NULL)
            fail_msg("accepted \"%s\"", bad[i]);
        assert_null(strchr(error, '\n'));
        assert_int_equal(seconds, 42);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_unit_scales_the_number),
        cmocka_unit_test(the_maximum_is_3650_days_in_any_unit),
        cmocka_unit_test(malformed_durations_say_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
