/* The throttle on failed authentication (http/throttle.c) and the trusted proxies' CIDRs (http/client.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "http/client.h"
#include "http/throttle.h"

#define MINUTE 60000000000ull
#define T0 (1000 * MINUTE) /* the start of a minute of the monotonic clock */

static pb_client_address v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    pb_client_address address = {.known = true};
    address.bytes[10] = address.bytes[11] = 0xff;
    address.bytes[12] = a, address.bytes[13] = b, address.bytes[14] = c, address.bytes[15] = d;
    return address;
}

static void an_address_is_blocked_past_its_failures_until_the_minute_ends(void **state)
{
    pb_throttle *throttle = pb_throttle_new(3);
    assert_non_null(throttle);
    pb_client_address guesser = v4(10, 0, 0, 1), other = v4(10, 0, 0, 2);
    for (int i = 0; i < 3; i++) {
        assert_false(pb_throttle_blocked(throttle, &guesser, T0 + i));
        pb_throttle_failed(throttle, &guesser, T0 + i);
    }
    assert_true(pb_throttle_blocked(throttle, &guesser, T0 + 10));
    assert_true(pb_throttle_blocked(throttle, &guesser, T0 + MINUTE - 1));
    assert_false(pb_throttle_blocked(throttle, &other, T0 + 10));
    assert_false(pb_throttle_blocked(throttle, &guesser, T0 + MINUTE)); /* the next minute: N tries again */
    pb_throttle_failed(throttle, &guesser, T0 + MINUTE);
    assert_false(pb_throttle_blocked(throttle, &guesser, T0 + MINUTE + 1));
    pb_throttle_free(throttle);
}

/* A flood of addresses fills the fixed table; the memory stays what it was, and a blocked guesser stays blocked
 * while the flood's addresses each failed less. */
static void a_flood_of_addresses_evicts_the_fewest_failures_first(void **state)
{
    pb_throttle *throttle = pb_throttle_new(5);
    pb_client_address guesser = v4(192, 0, 2, 1);
    for (int i = 0; i < 5; i++)
        pb_throttle_failed(throttle, &guesser, T0);
    for (uint32_t i = 0; i < 4 * PB_THROTTLE_SETS * PB_THROTTLE_WAYS; i++) {
        pb_client_address flood = v4(100, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
        pb_throttle_failed(throttle, &flood, T0);
    }
    assert_true(pb_throttle_blocked(throttle, &guesser, T0));
    pb_throttle_free(throttle);
}

static void trusted_proxies_parse_cidrs_and_addresses(void **state)
{
    pb_trusted_proxies proxies;
    assert_null(pb_trusted_proxies_parse("10.0.0.0/8,127.0.0.1,::1,fd00::/8", &proxies));
    assert_int_equal(proxies.n, 4);
    assert_int_equal(proxies.cidrs[0].prefix, 96 + 8);
    assert_int_equal(proxies.cidrs[1].prefix, 128);
    assert_int_equal(proxies.cidrs[3].prefix, 8);
    const char *bad[] = {"", "10.0.0.0/33", "::/129", "example.com", "10.0.0.1,", ",10.0.0.1", "10.0.0.0/", "10/8"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_non_null(pb_trusted_proxies_parse(bad[i], &proxies));
}

static void addresses_format_as_their_family(void **state)
{
    char text[PB_CLIENT_TEXT_MAX];
    pb_client_address address = v4(203, 0, 113, 7);
    assert_int_equal(pb_client_format(&address, text), strlen("203.0.113.7"));
    assert_string_equal(text, "203.0.113.7");
    memset(&address, 0, sizeof(address));
    address.known = true;
    address.bytes[15] = 1;
    pb_client_format(&address, text);
    assert_string_equal(text, "::1");
    address.known = false;
    pb_client_format(&address, text);
    assert_string_equal(text, "-");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_address_is_blocked_past_its_failures_until_the_minute_ends),
        cmocka_unit_test(a_flood_of_addresses_evicts_the_fewest_failures_first),
        cmocka_unit_test(trusted_proxies_parse_cidrs_and_addresses),
        cmocka_unit_test(addresses_format_as_their_family),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
