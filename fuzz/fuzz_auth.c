/*
 * fuzz_auth.c — libFuzzer target for authentication: header parsing and the
 * signature check.
 *
 * The first input byte picks a mode; the rest is split on '\n' into fields.
 *   mode 0: Authorization, AccessId, TimeStamp, Sign, body taken as they come.
 *           Whatever they are, the answer is PB_OK or PB_ERR_AUTH, and PB_OK
 *           names the one app that exists.
 *   mode 1: a body and a timestamp offset; the Signature headers are computed
 *           here with OpenSSL directly (not with pb_auth_sign), in both message
 *           orders. A fresh timestamp must pass, a stale one or a Sign with one
 *           byte changed must fail.
 *   mode 2: a secret guess; Basic must pass exactly when it is the secret.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/auth.h"
#include "common/codes.h"

#define CHECK(cond)        \
    do {                   \
        if (!(cond))       \
            abort();       \
    } while (0)

#define APP_ID 1500001048u
#define APP_ID_TEXT "1500001048"
#define SECRET "1452fcebae9f3115ba794fb0fff2fd73"
#define NOW 1565314789
#define WINDOW 600
#define MAX_FIELDS 5

static int lookup(void *arg, uint64_t access_id, pb_str *secret)
{
    if (access_id != APP_ID)
        return -1;
    *secret = PB_STR_LIT(SECRET);
    return 0;
}

/* Splits data on '\n' into at most MAX_FIELDS fields; the last takes the rest. */
static size_t split(const uint8_t *data, size_t size, pb_str *fields)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i < size && n < MAX_FIELDS - 1; i++) {
        if (data[i] == '\n') {
            fields[n++] = (pb_str){(const char *)data + start, i - start};
            start = i + 1;
        }
    }
    fields[n++] = (pb_str){(const char *)data + start, size - start};
    return n;
}

static int authenticate(pb_str authorization, pb_str access_id, pb_str timestamp, pb_str sign, pb_str body)
{
    pb_auth_request req = {authorization, access_id, timestamp, sign, body, NOW, WINDOW};
    uint64_t who = 0;
    int code = pb_auth_authenticate(&req, lookup, NULL, &who);
    CHECK(code == PB_OK || code == PB_ERR_AUTH);
    CHECK(code != PB_OK || who == APP_ID);
    return code;
}

/* base64(hex(HMAC-SHA256(SECRET, a + b + body))), docs/API.md's formula, into out[89]. */
static void reference_sign(pb_str a, pb_str b, pb_str body, char out[89])
{
    unsigned char mac[32];
    unsigned int mac_len = 0;
    unsigned char *message = malloc(a.len + b.len + body.len + 1);
    CHECK(message != NULL);
    memcpy(message, a.base, a.len);
    memcpy(message + a.len, b.base, b.len);
    if (body.len != 0)
        memcpy(message + a.len + b.len, body.base, body.len);
    CHECK(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), message, a.len + b.len + body.len, mac, &mac_len) != NULL);
    free(message);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)hex, 64);
}

static void signature_round_trip(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    int offset = (int)(int8_t)data[0] * 10; /* -1280 .. 1270 s from the server clock */
    pb_str body = {(const char *)data + 1, size - 1};
    char ts_text[24];
    snprintf(ts_text, sizeof(ts_text), "%lld", (long long)NOW + offset);
    pb_str ts = pb_str_from_cstr(ts_text), id = PB_STR_LIT(APP_ID_TEXT), none = {NULL, 0};
    bool fresh = offset >= -WINDOW && offset <= WINDOW;
    for (int order = 0; order < 2; order++) {
        char sign[89];
        if (order == 0)
            reference_sign(ts, id, body, sign);
        else
            reference_sign(id, ts, body, sign);
        pb_str s = {sign, 88};
        CHECK((authenticate(none, id, ts, s, body) == PB_OK) == fresh);
        sign[data[0] % 86] ^= 0x01; /* one character changed, padding left alone */
        CHECK(authenticate(none, id, ts, s, body) == PB_ERR_AUTH);
    }
}

static void basic_guess(const uint8_t *data, size_t size)
{
    char plain[256], header[6 + 4 * sizeof(plain) / 3 + 4] = "Basic ";
    if (size > sizeof(plain) - sizeof(APP_ID_TEXT))
        size = sizeof(plain) - sizeof(APP_ID_TEXT);
    int n = snprintf(plain, sizeof(plain), "%s:", APP_ID_TEXT);
    memcpy(plain + n, data, size);
    n += (int)size;
    int len = EVP_EncodeBlock((unsigned char *)header + 6, (const unsigned char *)plain, n);
    pb_str none = {NULL, 0}, auth = {header, (size_t)len + 6};
    bool right = size == strlen(SECRET) && memcmp(data, SECRET, size) == 0;
    CHECK((authenticate(auth, none, none, none, none) == PB_OK) == right);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0: {
        pb_str f[MAX_FIELDS] = {{NULL, 0}};
        split(data + 1, size - 1, f);
        authenticate(f[0], f[1], f[2], f[3], f[4]);
        uint64_t id;
        pb_auth_parse_access_id(f[1], &id);
        break;
    }
    case 1:
        signature_round_trip(data + 1, size - 1);
        break;
    case 2:
        basic_guess(data + 1, size - 1);
        break;
    }
    return 0;
}
