/* Redis Cluster key slots and redirect replies: known vectors from the cluster spec and redis-cli. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "store/redis/net/slot.h"

static unsigned slot(const char *key)
{
    return pb_redis_key_slot(key, strlen(key));
}

static void crc16_matches_the_cluster_spec_vector(void **state)
{
    /* Redis Cluster specification: "Output for "123456789": 31C3". */
    assert_int_equal(pb_redis_crc16("123456789", 9), 0x31C3);
    assert_int_equal(pb_redis_crc16("", 0), 0);
}

static void key_slot_matches_cluster_keyslot(void **state)
{
    /* Answers of CLUSTER KEYSLOT on Redis 7. */
    assert_int_equal(slot("foo"), 12182);
    assert_int_equal(slot("bar"), 5061);
    assert_int_equal(slot("somekey"), 11058);
    assert_int_equal(slot("123456789"), 0x31C3 % 16384);
}

static void hash_tag_decides_the_slot(void **state)
{
    assert_int_equal(slot("{user1000}.following"), slot("user1000"));
    assert_int_equal(slot("{user1000}.followers"), slot("user1000"));
    assert_int_equal(slot("pushbind:t:{1500001048:tok}"), slot("1500001048:tok"));
    /* Only the first '{' and the first '}' after it count. */
    assert_int_equal(slot("foo{bar}{zap}"), slot("bar"));
    assert_int_equal(slot("foo{{bar}}zap"), slot("{bar"));
    /* An empty tag or an unclosed brace: the whole key is hashed. */
    assert_int_equal(slot("foo{}{bar}"), pb_redis_crc16("foo{}{bar}", 10) % 16384);
    assert_int_equal(slot("foo{bar"), pb_redis_crc16("foo{bar", 7) % 16384);
}

static void key_slot_reads_binary_keys_by_length(void **state)
{
    const char key[] = {'a', '\0', 'b'};
    assert_int_equal(pb_redis_key_slot(key, 3), pb_redis_crc16(key, 3) % 16384);
    assert_int_not_equal(pb_redis_key_slot(key, 3), pb_redis_key_slot(key, 1));
}

static void moved_reply_is_parsed(void **state)
{
    const char *text = "MOVED 3999 127.0.0.1:6381";
    pb_redirect r;
    assert_int_equal(pb_redis_parse_redirect(text, strlen(text), &r), 0);
    assert_int_equal(r.kind, PB_REDIRECT_MOVED);
    assert_int_equal(r.slot, 3999);
    assert_string_equal(r.host, "127.0.0.1");
    assert_int_equal(r.port, 6381);
}

static void ask_reply_with_ipv6_host_is_parsed(void **state)
{
    const char *text = "ASK 16383 ::1:30012";
    pb_redirect r;
    assert_int_equal(pb_redis_parse_redirect(text, strlen(text), &r), 0);
    assert_int_equal(r.kind, PB_REDIRECT_ASK);
    assert_int_equal(r.slot, 16383);
    assert_string_equal(r.host, "::1");
    assert_int_equal(r.port, 30012);
}

static void other_errors_and_malformed_redirects_are_refused(void **state)
{
    static const char *bad[] = {
        "ERR unknown command", "MOVED", "MOVED 3999", "MOVED 3999 127.0.0.1", "MOVED 16384 127.0.0.1:6381",
        "MOVED x 127.0.0.1:6381", "ASK 1 127.0.0.1:0", "ASK 1 127.0.0.1:65536", "ASK 1 :6379", "NOSCRIPT No matching",
        "moved 1 127.0.0.1:6381",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        pb_redirect r;
        assert_int_equal(pb_redis_parse_redirect(bad[i], strlen(bad[i]), &r), -1);
        assert_int_equal(r.kind, PB_REDIRECT_NONE);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc16_matches_the_cluster_spec_vector),
        cmocka_unit_test(key_slot_matches_cluster_keyslot),
        cmocka_unit_test(hash_tag_decides_the_slot),
        cmocka_unit_test(key_slot_reads_binary_keys_by_length),
        cmocka_unit_test(moved_reply_is_parsed),
        cmocka_unit_test(ask_reply_with_ipv6_host_is_parsed),
        cmocka_unit_test(other_errors_and_malformed_redirects_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
