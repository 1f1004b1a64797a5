#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "auth/auth.h"
#include "common/codes.h"

/* The test vector from docs/API.md ("Apps and authentication"). */
#define VEC_ID "1500001048"
#define VEC_TS "1565314789"
#define VEC_NOW ((time_t)1565314789)
#define VEC_SECRET "1452fcebae9f3115ba794fb0fff2fd73"
#define VEC_BODY                                                                                                \
    "{\"audience_type\": \"account\",\"platform\": \"android\",\"message\": {\"title\": \"test title\","       \
    "\"content\": \"test content\",\"android\": { \"action\": {\"action_type\": 3,\"intent\": "              \
    "\"xgscheme://com.xg.push/notify_detail?param1=xg\"}}},\"message_type\": \"notify\",\"account_list\": "    \
    "[\"5822f0eee44c3625ef0000bb\"] }"
#define VEC_HEX "cd20774682bf78bfdb43e17d1d5d56b3e5b789a1670fc1527ef54c65d2d7b76d"
#define VEC_SIGN "Y2QyMDc3NDY4MmJmNzhiZmRiNDNlMTdkMWQ1ZDU2YjNlNWI3ODlhMTY3MGZjMTUyN2VmNTRjNjVkMmQ3Yjc2ZA=="

#define COLON_ID "42"
#define COLON_SECRET "sec:ret:with:colons"

#define NO_ID UINT64_C(0xdeadbeef) /* sentinel: authenticate must not touch it on failure */

struct fake_app {
    uint64_t id;
    const char *secret;
};

static const struct fake_app fake_apps[] = {
    {UINT64_C(1500001048), VEC_SECRET},
    {42, COLON_SECRET},
    {7, ""}, /* a misconfigured app with an empty secret */
};

static int fake_lookup(void *arg, uint64_t access_id, pb_str *secret)
{
    int *calls = arg;
    if (calls)
        (*calls)++;
    for (size_t i = 0; i < sizeof(fake_apps) / sizeof(fake_apps[0]); i++) {
        if (fake_apps[i].id == access_id) {
            *secret = pb_str_from_cstr(fake_apps[i].secret);
            return 0;
        }
    }
    return -1;
}

/* A store that broke mid-read: it fails, though it had already set the secret. */
static int failing_lookup(void *arg, uint64_t access_id, pb_str *secret)
{
    *secret = PB_STR_LIT(VEC_SECRET);
    return -1;
}

/* "Basic " + base64(credentials), into buf. */
static pb_str basic_header(char *buf, size_t cap, const char *scheme, const char *credentials)
{
    size_t n = strlen(credentials);
    size_t prefix = (size_t)snprintf(buf, cap, "%s ", scheme);
    assert_true(prefix + (n + 2) / 3 * 4 + 1 <= cap);
    EVP_EncodeBlock((unsigned char *)buf + prefix, (const unsigned char *)credentials, (int)n);
    return pb_str_from_cstr(buf);
}

static pb_auth_request basic_request(pb_str authorization)
{
    return (pb_auth_request){
        .authorization = authorization,
        .body = PB_STR_LIT(VEC_BODY),
        .now = VEC_NOW,
        .window_seconds = PB_AUTH_DEFAULT_WINDOW_SECONDS,
    };
}

static pb_auth_request signature_request(const char *id, const char *ts, const char *sign, const char *body,
                                         time_t now)
{
    return (pb_auth_request){
        .access_id = pb_str_from_cstr(id),
        .timestamp = pb_str_from_cstr(ts),
        .sign = pb_str_from_cstr(sign),
        .body = pb_str_from_cstr(body),
        .now = now,
        .window_seconds = PB_AUTH_DEFAULT_WINDOW_SECONDS,
    };
}

/* Sign a + b + c under secret, the way a client would. */
static void sign3(const char *secret, const char *a, const char *b, const char *c, char out[89])
{
    char message[1024];
    int n = snprintf(message, sizeof(message), "%s%s%s", a, b, c);
    assert_true(n > 0 && (size_t)n < sizeof(message));
    pb_auth_sign(pb_str_from_cstr(secret), (pb_str){message, (size_t)n}, out);
}

static int authenticate(const pb_auth_request *req, uint64_t *id)
{
    *id = NO_ID;
    return pb_auth_authenticate(req, fake_lookup, NULL, id);
}

static void sign_matches_spec_test_vector(void **state)
{
    char sign[89];
    sign3(VEC_SECRET, VEC_TS, VEC_ID, VEC_BODY, sign);
    assert_string_equal(sign, VEC_SIGN);

    unsigned char hex[89] = {0};
    assert_int_equal(EVP_DecodeBlock(hex, (const unsigned char *)sign, 88), 66); /* 64 + 2 padding bytes */
    assert_memory_equal(hex, VEC_HEX, 64);
}

static void signature_documented_order_passes(void **state)
{
    uint64_t id;
    pb_auth_request req = signature_request(VEC_ID, VEC_TS, VEC_SIGN, VEC_BODY, VEC_NOW);
    assert_int_equal(authenticate(&req, &id), PB_OK);
    assert_int_equal(id, UINT64_C(1500001048));
}

static void signature_reversed_order_passes(void **state)
{
    char sign[89];
    uint64_t id;
    sign3(VEC_SECRET, VEC_ID, VEC_TS, VEC_BODY, sign);
    assert_string_not_equal(sign, VEC_SIGN);
    pb_auth_request req = signature_request(VEC_ID, VEC_TS, sign, VEC_BODY, VEC_NOW);
    assert_int_equal(authenticate(&req, &id), PB_OK);
    assert_int_equal(id, UINT64_C(1500001048));
}

static void signature_wrong_body_fails(void **state)
{
    uint64_t id;
    pb_auth_request req = signature_request(VEC_ID, VEC_TS, VEC_SIGN, VEC_BODY "\n", VEC_NOW);
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    assert_int_equal(id, NO_ID);

    req = signature_request(VEC_ID, VEC_TS, VEC_SIGN, "", VEC_NOW);
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
}

static void signature_timestamp_at_window_edge_passes(void **state)
{
    uint64_t id;
    pb_auth_request req = signature_request(VEC_ID, VEC_TS, VEC_SIGN, VEC_BODY, VEC_NOW + 600);
    assert_int_equal(authenticate(&req, &id), PB_OK);
    req.now = VEC_NOW - 600;
    assert_int_equal(authenticate(&req, &id), PB_OK);
}

static void signature_stale_timestamp_fails(void **state)
{
    uint64_t id;
    pb_auth_request req = signature_request(VEC_ID, VEC_TS, VEC_SIGN, VEC_BODY, VEC_NOW + 601);
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    req.now = VEC_NOW - 601;
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    assert_int_equal(id, NO_ID);
}

static void signature_non_numeric_timestamp_fails(void **state)
{
    /* Each is signed correctly, so only the timestamp rule can reject it. */
    static const char *const bad[] = {
        "+1565314789", "-1565314789", " 1565314789", "1565314789 ", "1565314789.0", "0x5d4d4d25",
        "15653147890000000000", /* 20 digits */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char sign[89];
        uint64_t id;
        sign3(VEC_SECRET, bad[i], VEC_ID, VEC_BODY, sign);
        pb_auth_request req = signature_request(VEC_ID, bad[i], sign, VEC_BODY, VEC_NOW);
        assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    }
}

static void signature_unknown_app_fails(void **state)
{
    char sign[89];
    uint64_t id;
    sign3(VEC_SECRET, VEC_TS, "1500001049", VEC_BODY, sign);
    pb_auth_request req = signature_request("1500001049", VEC_TS, sign, VEC_BODY, VEC_NOW);
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    assert_int_equal(id, NO_ID);
}

static void signature_non_numeric_access_id_fails(void **state)
{
    /* The raw header text is what was signed, so each is signed correctly. */
    static const char *const bad[] = {"+1500001048", "1500001048 ", " 1500001048", "0", "0x5967d218"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char sign[89];
        uint64_t id;
        sign3(VEC_SECRET, VEC_TS, bad[i], VEC_BODY, sign);
        pb_auth_request req = signature_request(bad[i], VEC_TS, sign, VEC_BODY, VEC_NOW);
        assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    }
}

static void basic_valid_passes(void **state)
{
    char buf[256];
    uint64_t id;
    pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), "Basic", VEC_ID ":" VEC_SECRET));
    assert_int_equal(authenticate(&req, &id), PB_OK);
    assert_int_equal(id, UINT64_C(1500001048));
}

static void basic_scheme_is_case_insensitive(void **state)
{
    static const char *const schemes[] = {"basic", "BASIC", "bAsIc", "Basic  "};
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        char buf[256];
        uint64_t id;
        pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), schemes[i], VEC_ID ":" VEC_SECRET));
        assert_int_equal(authenticate(&req, &id), PB_OK);
        assert_int_equal(id, UINT64_C(1500001048));
    }
}

static void basic_requires_space_after_scheme(void **state)
{
    static const char *const schemes[] = {"Basic", "Basic\t"};
    char buf[256];
    uint64_t id;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), schemes[i], VEC_ID ":" VEC_SECRET));
        /* basic_header puts one space after the scheme; take it out. */
        size_t at = strlen(schemes[i]);
        memmove(buf + at, buf + at + 1, strlen(buf + at + 1) + 1);
        req.authorization = pb_str_from_cstr(buf);
        assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    }
}

static void basic_wrong_secret_fails(void **state)
{
    char buf[256];
    uint64_t id;
    pb_auth_request req =
        basic_request(basic_header(buf, sizeof(buf), "Basic", VEC_ID ":1452fcebae9f3115ba794fb0fff2fd74"));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    assert_int_equal(id, NO_ID);
}

static void basic_secret_prefix_fails(void **state)
{
    char buf[256];
    uint64_t id;
    pb_auth_request req =
        basic_request(basic_header(buf, sizeof(buf), "Basic", VEC_ID ":1452fcebae9f3115ba794fb0fff2fd7"));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    req = basic_request(basic_header(buf, sizeof(buf), "Basic", VEC_ID ":"));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
}

static void basic_unknown_app_fails(void **state)
{
    char buf[256];
    uint64_t id;
    pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), "Basic", "1500001049:" VEC_SECRET));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
}

static void basic_invalid_base64_fails(void **state)
{
    /* base64("1500001048:<secret>") = "MTUwMDAwMTA0ODox...NzM=" with one flaw each. */
    char valid[256];
    uint64_t id;
    basic_header(valid, sizeof(valid), "Basic", VEC_ID ":" VEC_SECRET);
    size_t len = strlen(valid);
    assert_int_equal(valid[len - 1], '=');
    pb_auth_request req = basic_request(pb_str_from_cstr(valid));
    assert_int_equal(authenticate(&req, &id), PB_OK); /* the unflawed form passes */

    char flawed[sizeof(valid) + 1];
    memcpy(flawed, valid, len + 1);
    flawed[len - 1] = '\0'; /* padding dropped: length not a multiple of 4 */
    req = basic_request(pb_str_from_cstr(flawed));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);

    memcpy(flawed, valid, len + 1);
    flawed[10] = '*'; /* not in the alphabet */
    req = basic_request(pb_str_from_cstr(flawed));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);

    memcpy(flawed, valid, len + 1);
    flawed[10] = ' '; /* whitespace inside */
    req = basic_request(pb_str_from_cstr(flawed));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);

    /* Padding in the middle, in place of an 'A' (value 0) so that the bits stay the same. */
    memcpy(flawed, valid, len + 1);
    char *zero = strchr(flawed + strlen("Basic "), 'A');
    assert_non_null(zero);
    assert_true(zero < flawed + len - 4);
    *zero = '=';
    req = basic_request(pb_str_from_cstr(flawed));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);

    snprintf(flawed, sizeof(flawed), "%s ", valid); /* trailing space */
    req = basic_request(pb_str_from_cstr(flawed));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);

    static const char *const others[] = {"Basic", "Basic ", "Basic ====", "Basic MQ=", "BasicMTox", "Bearer MTox"};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        req = basic_request(pb_str_from_cstr(others[i]));
        assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    }
}

static void basic_without_colon_fails(void **state)
{
    char buf[256];
    uint64_t id;
    pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), "Basic", VEC_ID VEC_SECRET));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
}

static void basic_non_numeric_access_id_fails(void **state)
{
    static const char *const creds[] = {
        "+1500001048:" VEC_SECRET, " 1500001048:" VEC_SECRET, "1500001048 :" VEC_SECRET, "app:" VEC_SECRET,
        ":" VEC_SECRET,
    };
    for (size_t i = 0; i < sizeof(creds) / sizeof(creds[0]); i++) {
        char buf[256];
        uint64_t id;
        pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), "Basic", creds[i]));
        assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    }
}

static void secret_may_contain_colon(void **state)
{
    char buf[256], sign[89];
    uint64_t id;
    pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), "Basic", COLON_ID ":" COLON_SECRET));
    assert_int_equal(authenticate(&req, &id), PB_OK);
    assert_int_equal(id, 42);

    sign3(COLON_SECRET, VEC_TS, COLON_ID, VEC_BODY, sign);
    req = signature_request(COLON_ID, VEC_TS, sign, VEC_BODY, VEC_NOW);
    assert_int_equal(authenticate(&req, &id), PB_OK);
    assert_int_equal(id, 42);
}

static void no_credentials_fails(void **state)
{
    int calls = 0;
    uint64_t id = NO_ID;
    pb_auth_request req = {.body = PB_STR_LIT(VEC_BODY), .now = VEC_NOW, .window_seconds = 600};
    assert_int_equal(pb_auth_authenticate(&req, fake_lookup, &calls, &id), PB_ERR_AUTH);
    assert_int_equal(id, NO_ID);
    assert_int_equal(calls, 0);

    /* Signature needs all three headers. */
    req = signature_request(VEC_ID, VEC_TS, "", VEC_BODY, VEC_NOW);
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    req = signature_request(VEC_ID, "", VEC_SIGN, VEC_BODY, VEC_NOW);
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
    req = signature_request("", VEC_TS, VEC_SIGN, VEC_BODY, VEC_NOW);
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
}

static void bad_basic_falls_back_to_valid_signature(void **state)
{
    char buf[256];
    uint64_t id;
    pb_auth_request req = signature_request(VEC_ID, VEC_TS, VEC_SIGN, VEC_BODY, VEC_NOW);
    req.authorization = basic_header(buf, sizeof(buf), "Basic", VEC_ID ":wrong");
    assert_int_equal(authenticate(&req, &id), PB_OK);
    assert_int_equal(id, UINT64_C(1500001048));

    req.sign = PB_STR_LIT("Y2QyMDc3NDY4MmJmNzhiZmRiNDNlMTdkMWQ1ZDU2YjNlNWI3ODlhMTY3MGZjMTUyN2VmNTRjNjVkMmQ3Yjc2ZQ==");
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
}

/* A lookup that records the apps it was asked for, and finds them in fake_apps. */
struct recorded {
    uint64_t ids[4];
    size_t n;
};

static int recording_lookup(void *arg, uint64_t access_id, pb_str *secret)
{
    struct recorded *r = arg;
    if (r->n < 4)
        r->ids[r->n++] = access_id;
    return fake_lookup(NULL, access_id, secret);
}

static void apps_named_are_basic_then_signature(void **state)
{
    char buf[256];
    uint64_t ids[2];
    pb_auth_request req = signature_request(VEC_ID, VEC_TS, VEC_SIGN, VEC_BODY, VEC_NOW);
    req.authorization = basic_header(buf, sizeof(buf), "Basic", COLON_ID ":" COLON_SECRET);
    assert_int_equal(pb_auth_apps_named(&req, ids), 2);
    assert_int_equal(ids[0], 42);
    assert_int_equal(ids[1], UINT64_C(1500001048));

    req.authorization = basic_header(buf, sizeof(buf), "Basic", VEC_ID ":wrong");
    assert_int_equal(pb_auth_apps_named(&req, ids), 1); /* the same app once */
    assert_int_equal(ids[0], UINT64_C(1500001048));

    pb_auth_request none = basic_request(PB_STR_LIT("Bearer abc"));
    assert_int_equal(pb_auth_apps_named(&none, ids), 0);
}

static void apps_named_reads_the_longest_access_id(void **state)
{
    char buf[512], long_secret[300];
    uint64_t ids[2];
    memset(long_secret, 'k', sizeof(long_secret) - 1);
    long_secret[sizeof(long_secret) - 1] = '\0';
    char credentials[400];
    snprintf(credentials, sizeof(credentials), "123456789012345678:%s", long_secret);
    pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), "Basic", credentials));
    assert_int_equal(pb_auth_apps_named(&req, ids), 1);
    assert_int_equal(ids[0], UINT64_C(123456789012345678));
}

/* Whatever the credentials, every app authentication asks for was named beforehand. */
static void apps_named_cover_every_lookup(void **state)
{
    static const char *const credentials[] = {
        VEC_ID ":" VEC_SECRET, VEC_ID ":wrong", COLON_ID ":" COLON_SECRET, "7:", "1:x", "42", ":secret",
        "123456789012345678:" VEC_SECRET VEC_SECRET VEC_SECRET,
    };
    for (size_t i = 0; i < sizeof(credentials) / sizeof(credentials[0]); i++)
        for (int with_signature = 0; with_signature < 2; with_signature++) {
            char buf[512];
            uint64_t ids[2], id;
            struct recorded asked = {.n = 0};
            pb_auth_request req = with_signature ? signature_request(COLON_ID, VEC_TS, VEC_SIGN, VEC_BODY, VEC_NOW)
                                                 : basic_request(PB_STR_LIT(""));
            req.authorization = basic_header(buf, sizeof(buf), "Basic", credentials[i]);
            size_t n = pb_auth_apps_named(&req, ids);
            pb_auth_authenticate(&req, recording_lookup, &asked, &id);
            for (size_t k = 0; k < asked.n; k++)
                assert_true((n > 0 && ids[0] == asked.ids[k]) || (n > 1 && ids[1] == asked.ids[k]));
        }
}

static void access_id_parsing_rules(void **state)
{
    static const char *const bad[] = {
        "+1500001048", "-1500001048", " 1500001048", "1500001048 ", "1500 001048", "1234567890123456789",
        "0", "000", "", "15OOOO1048", "0x1f",
    };
    uint64_t id = NO_ID;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(pb_auth_parse_access_id(pb_str_from_cstr(bad[i]), &id), -1);
    assert_int_equal(pb_auth_parse_access_id((pb_str){NULL, 0}, &id), -1);
    assert_int_equal(id, NO_ID);

    assert_int_equal(pb_auth_parse_access_id(PB_STR_LIT("1500001048"), &id), 0);
    assert_int_equal(id, UINT64_C(1500001048));
    assert_int_equal(pb_auth_parse_access_id(PB_STR_LIT("999999999999999999"), &id), 0);
    assert_int_equal(id, UINT64_C(999999999999999999));
    /* Only the given length counts, not what follows it. */
    assert_int_equal(pb_auth_parse_access_id((pb_str){"12x", 2}, &id), 0);
    assert_int_equal(id, 12);
}

static void lookup_failure_is_auth_failure(void **state)
{
    char buf[256];
    uint64_t id = NO_ID;
    pb_auth_request req = signature_request(VEC_ID, VEC_TS, VEC_SIGN, VEC_BODY, VEC_NOW);
    req.authorization = basic_header(buf, sizeof(buf), "Basic", VEC_ID ":" VEC_SECRET);
    assert_int_equal(authenticate(&req, &id), PB_OK); /* the same request passes when the store answers */

    id = NO_ID;
    assert_int_equal(pb_auth_authenticate(&req, failing_lookup, NULL, &id), PB_ERR_AUTH);
    assert_int_equal(id, NO_ID);
}

/* An app with its SecretKey, an empty candidate (never passes) and a named key. */
static const pb_str key_candidates[] = {PB_STR_LIT(VEC_SECRET), PB_STR_LIT(""), PB_STR_LIT("named-key-0123456789")};

static int candidates_lookup(void *arg, uint64_t access_id, const pb_str **secrets, size_t *n)
{
    if (access_id != UINT64_C(1500001048))
        return -1;
    *secrets = key_candidates;
    *n = sizeof(key_candidates) / sizeof(key_candidates[0]);
    return 0;
}

static void any_candidate_passes_and_says_which(void **state)
{
    char buf[256], sign[89];
    uint64_t id = NO_ID;
    size_t matched = 99;
    pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), "Basic", VEC_ID ":named-key-0123456789"));
    assert_int_equal(pb_auth_authenticate_any(&req, candidates_lookup, NULL, &id, &matched), PB_OK);
    assert_int_equal(matched, 2);
    assert_int_equal(id, UINT64_C(1500001048));

    req = basic_request(basic_header(buf, sizeof(buf), "Basic", VEC_ID ":" VEC_SECRET));
    assert_int_equal(pb_auth_authenticate_any(&req, candidates_lookup, NULL, &id, &matched), PB_OK);
    assert_int_equal(matched, 0);

    for (int reversed = 0; reversed < 2; reversed++) {
        matched = 99;
        if (reversed)
            sign3("named-key-0123456789", VEC_ID, VEC_TS, VEC_BODY, sign);
        else
            sign3("named-key-0123456789", VEC_TS, VEC_ID, VEC_BODY, sign);
        req = signature_request(VEC_ID, VEC_TS, sign, VEC_BODY, VEC_NOW);
        assert_int_equal(pb_auth_authenticate_any(&req, candidates_lookup, NULL, &id, &matched), PB_OK);
        assert_int_equal(matched, 2);
    }
}

static void no_candidate_no_pass(void **state)
{
    char buf[256], sign[89];
    uint64_t id = NO_ID;
    size_t matched = 99;
    pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), "Basic", VEC_ID ":"));
    assert_int_equal(pb_auth_authenticate_any(&req, candidates_lookup, NULL, &id, &matched), PB_ERR_AUTH);
    req = basic_request(basic_header(buf, sizeof(buf), "Basic", VEC_ID ":named-key-012345678"));
    assert_int_equal(pb_auth_authenticate_any(&req, candidates_lookup, NULL, &id, &matched), PB_ERR_AUTH);
    sign3("", VEC_TS, VEC_ID, VEC_BODY, sign);
    req = signature_request(VEC_ID, VEC_TS, sign, VEC_BODY, VEC_NOW);
    assert_int_equal(pb_auth_authenticate_any(&req, candidates_lookup, NULL, &id, &matched), PB_ERR_AUTH);
    assert_int_equal(id, NO_ID);
    assert_int_equal(matched, 99);
}

static void empty_secret_never_authenticates(void **state)
{
    char buf[256], sign[89];
    uint64_t id;
    pb_auth_request req = basic_request(basic_header(buf, sizeof(buf), "Basic", "7:"));
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);

    sign3("", VEC_TS, "7", VEC_BODY, sign);
    req = signature_request("7", VEC_TS, sign, VEC_BODY, VEC_NOW);
    assert_int_equal(authenticate(&req, &id), PB_ERR_AUTH);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_matches_spec_test_vector),
        cmocka_unit_test(signature_documented_order_passes),
        cmocka_unit_test(signature_reversed_order_passes),
        cmocka_unit_test(signature_wrong_body_fails),
        cmocka_unit_test(signature_timestamp_at_window_edge_passes),
        cmocka_unit_test(signature_stale_timestamp_fails),
        cmocka_unit_test(signature_non_numeric_timestamp_fails),
        cmocka_unit_test(signature_unknown_app_fails),
        cmocka_unit_test(signature_non_numeric_access_id_fails),
        cmocka_unit_test(basic_valid_passes),
        cmocka_unit_test(basic_scheme_is_case_insensitive),
        cmocka_unit_test(basic_requires_space_after_scheme),
        cmocka_unit_test(basic_wrong_secret_fails),
        cmocka_unit_test(basic_secret_prefix_fails),
        cmocka_unit_test(basic_unknown_app_fails),
        cmocka_unit_test(basic_invalid_base64_fails),
        cmocka_unit_test(basic_without_colon_fails),
        cmocka_unit_test(basic_non_numeric_access_id_fails),
        cmocka_unit_test(secret_may_contain_colon),
        cmocka_unit_test(no_credentials_fails),
        cmocka_unit_test(bad_basic_falls_back_to_valid_signature),
        cmocka_unit_test(apps_named_are_basic_then_signature),
        cmocka_unit_test(apps_named_reads_the_longest_access_id),
        cmocka_unit_test(apps_named_cover_every_lookup),
        cmocka_unit_test(access_id_parsing_rules),
        cmocka_unit_test(lookup_failure_is_auth_failure),
        cmocka_unit_test(empty_secret_never_authenticates),
        cmocka_unit_test(any_candidate_passes_and_says_which),
        cmocka_unit_test(no_candidate_no_pass),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
