#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "auth/auth.h"
#include "common/codes.h"

/* "Basic" plus at least one space. */
#define BASIC_SCHEME "Basic"
#define BASIC_SCHEME_LEN (sizeof(BASIC_SCHEME) - 1)

/*
 * Decoded "<AccessId>:<SecretKey>" lives on the stack so that the secret never
 * reaches the heap; 1 KiB is far beyond any real secret (32 hex characters).
 */
#define BASIC_MAX_DECODED 1024

#define SIGN_HEX_LEN 64 /* SHA-256 is 32 bytes */
#define SIGN_LEN 88     /* base64 of 64 bytes */
#define TIMESTAMP_MAX_DIGITS 19
#define ACCESS_ID_MAX_DIGITS 18

/*
 * Strict standard base64: padded, length a multiple of 4, '=' only as the last
 * one or two characters. OpenSSL decodes the alphabet and refuses anything
 * else inside the text, whitespace included; but it would take '=' in the
 * middle (as a zero), and it drops whitespace at either end, which shows as
 * fewer bytes decoded than the length promises.
 */
static int base64_decode(pb_str in, unsigned char *out, size_t cap, size_t *out_len)
{
    if (in.len == 0 || in.len % 4 != 0 || in.len / 4 * 3 > cap || in.len > INT_MAX)
        return -1;
    size_t pad = in.base[in.len - 1] == '=' ? (in.base[in.len - 2] == '=' ? 2 : 1) : 0;
    if (memchr(in.base, '=', in.len - pad) != NULL)
        return -1;
    int n = EVP_DecodeBlock(out, (const unsigned char *)in.base, (int)in.len);
    if (n < 0 || (size_t)n != in.len / 4 * 3)
        return -1;
    *out_len = (size_t)n - pad; /* EVP_DecodeBlock counts the padding as zero bytes */
    return 0;
}

/*
 * Reads 1 to `max_digits` decimal digits and nothing else. Both callers allow
 * at most 19 digits, which always fit in uint64_t (10^19 - 1 < 2^64).
 */
static int parse_decimal(pb_str text, size_t max_digits, uint64_t *value)
{
    if (text.len == 0 || text.len > max_digits)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < text.len; i++) {
        char c = text.base[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (uint64_t)(c - '0');
    }
    *value = v;
    return 0;
}

int pb_auth_parse_access_id(pb_str text, uint64_t *access_id)
{
    uint64_t v;
    if (parse_decimal(text, ACCESS_ID_MAX_DIGITS, &v) != 0 || v == 0)
        return -1;
    *access_id = v;
    return 0;
}

static int parse_timestamp(pb_str text, uint64_t *ts)
{
    return parse_decimal(text, TIMESTAMP_MAX_DIGITS, ts);
}

static int timestamp_fresh(uint64_t ts, time_t now, uint32_t window)
{
    if (now < 0) /* a clock before 1970 is broken; trust nothing */
        return 0;
    uint64_t n = (uint64_t)now;
    uint64_t diff = ts > n ? ts - n : n - ts;
    return diff <= window;
}

/* The candidates of app `id`; -1 when there are none. (An empty one never passes: see usable().) */
static int lookup_secrets(pb_auth_secrets_lookup lookup, void *arg, uint64_t id, const pb_str **secrets, size_t *n)
{
    *secrets = NULL;
    *n = 0;
    if (lookup(arg, id, secrets, n) != 0 || *n == 0 || *secrets == NULL)
        return -1;
    return 0;
}

/* A lookup that "succeeds" with no secret must not let an empty key through. */
static bool usable(pb_str secret)
{
    return secret.len != 0 && secret.base != NULL;
}

/*
 * HMAC-SHA256 over the concatenation of parts, fed one after another so that
 * the message is never copied.
 */
static int hmac_parts(pb_str secret, const pb_str *parts, size_t nparts, unsigned char mac[32])
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    /* A NULL key means "reuse the previous key" to OpenSSL, so never pass one. */
    const unsigned char *key = secret.base ? (const unsigned char *)secret.base : (const unsigned char *)"";
    size_t mac_len = 0;
    int rc = -1;

    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = hmac ? EVP_MAC_CTX_new(hmac) : NULL;
    if (ctx == NULL || !EVP_MAC_init(ctx, key, secret.len, params))
        goto fail;
    for (size_t i = 0; i < nparts; i++)
        if (parts[i].len > 0 && !EVP_MAC_update(ctx, (const unsigned char *)parts[i].base, parts[i].len))
            goto fail;
    if (!EVP_MAC_final(ctx, mac, &mac_len, 32) || mac_len != 32)
        goto fail;
    rc = 0;
fail:
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    return rc;
}

/* Writes the Sign value (NUL-terminated) into out; "" when OpenSSL fails. */
static int sign_parts(pb_str secret, const pb_str *parts, size_t nparts, char out[SIGN_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char mac[32];
    unsigned char hexed[SIGN_HEX_LEN];

    out[0] = '\0';
    if (hmac_parts(secret, parts, nparts, mac) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(mac); i++) {
        hexed[2 * i] = (unsigned char)hex[mac[i] >> 4];
        hexed[2 * i + 1] = (unsigned char)hex[mac[i] & 0x0f];
    }
    if (EVP_EncodeBlock((unsigned char *)out, hexed, SIGN_HEX_LEN) != SIGN_LEN) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

void pb_auth_sign(pb_str secret, pb_str message, char out[89])
{
    sign_parts(secret, &message, 1, out);
}

/*
 * Compares in a time that depends on neither secret's content: both are
 * copied into zeroed buffers of one size (the longest secret the store keeps)
 * and compared whole, and the lengths are compared with them. (This replaced
 * hashing both with SHA-256, which cost a tenth of the server's time on a
 * one-account query; see docs/performance.md.) The buffers are compared a
 * 64-bit word at a time, every word folded into one difference with no branch
 * on it: CRYPTO_memcmp() does the same a byte at a time, and on 256 bytes that
 * was a twentieth of a one-account query. Copies of secrets are wiped with
 * explicit_bzero(), which the compiler may not drop either: OPENSSL_cleanse()
 * stores a byte at a time, and cost as much as the comparison.
 */
#define SECRET_COMPARE_WORDS (256 / sizeof(uint64_t))

static int secrets_equal(pb_str given, pb_str stored)
{
    uint64_t a[SECRET_COMPARE_WORDS] = {0}, b[SECRET_COMPARE_WORDS] = {0};
    if (given.len > sizeof(a) || stored.len > sizeof(b))
        return 0;
    if (given.len != 0)
        memcpy(a, given.base, given.len);
    if (stored.len != 0)
        memcpy(b, stored.base, stored.len);
    uint64_t difference = (uint64_t)(given.len ^ stored.len);
    for (size_t i = 0; i < SECRET_COMPARE_WORDS; i++)
        difference |= a[i] ^ b[i];
    explicit_bzero(a, sizeof(a));
    explicit_bzero(b, sizeof(b));
    return difference == 0;
}

/* `decoded` is "<AccessId>:<SecretKey>"; the id cannot hold ':', the secret may. */
/*
 * Every candidate is compared, whichever matches, so that the time says
 * nothing of which one did.
 */
static int check_basic_credentials(const char *decoded, size_t n, pb_auth_secrets_lookup lookup, void *arg,
                                   uint64_t *access_id, size_t *matched)
{
    const char *colon = memchr(decoded, ':', n);
    if (colon == NULL)
        return -1;
    size_t id_len = (size_t)(colon - decoded);
    uint64_t id;
    const pb_str *stored;
    size_t n_stored, found = SIZE_MAX;
    if (pb_auth_parse_access_id((pb_str){decoded, id_len}, &id) != 0)
        return -1;
    if (lookup_secrets(lookup, arg, id, &stored, &n_stored) != 0)
        return -1;
    pb_str given = {colon + 1, n - id_len - 1};
    for (size_t i = 0; i < n_stored; i++)
        if (secrets_equal(given, stored[i]) && usable(stored[i]) && found == SIZE_MAX)
            found = i;
    if (found == SIZE_MAX)
        return -1;
    *access_id = id;
    *matched = found;
    return 0;
}

/* The base64 part of "Basic <base64>"; -1 when the header is not of that scheme. */
static int basic_payload(pb_str h, pb_str *payload)
{
    if (h.len <= BASIC_SCHEME_LEN || strncasecmp(h.base, BASIC_SCHEME, BASIC_SCHEME_LEN) != 0)
        return -1;
    size_t i = BASIC_SCHEME_LEN;
    if (h.base[i] != ' ')
        return -1;
    while (i < h.len && h.base[i] == ' ')
        i++;
    *payload = (pb_str){h.base + i, h.len - i};
    return 0;
}

static int authenticate_basic(const pb_auth_request *req, pb_auth_secrets_lookup lookup, void *arg,
                              uint64_t *access_id, size_t *matched)
{
    pb_str payload;
    if (basic_payload(req->authorization, &payload) != 0)
        return -1;
    unsigned char decoded[BASIC_MAX_DECODED];
    size_t n = 0;
    int rc = -1;
    if (base64_decode(payload, decoded, sizeof(decoded), &n) == 0)
        rc = check_basic_credentials((const char *)decoded, n, lookup, arg, access_id, matched);
    /* It may hold the caller's secret; the decoder writes at most 3 bytes per 4 given. */
    size_t written = payload.len / 4 * 3;
    explicit_bzero(decoded, written < sizeof(decoded) ? written : sizeof(decoded));
    return rc;
}

/*
 * The app a Basic credential names, from the first BASIC_ID_CHARS of its
 * base64 only: they decode to 21 bytes, room for the longest AccessId and its
 * ':', and stop short of most of the secret.
 */
#define BASIC_ID_CHARS 28
static int basic_app(pb_str authorization, uint64_t *id)
{
    pb_str payload;
    if (basic_payload(authorization, &payload) != 0)
        return -1;
    if (payload.len > BASIC_ID_CHARS)
        payload.len = BASIC_ID_CHARS;
    unsigned char decoded[BASIC_ID_CHARS / 4 * 3];
    size_t n = 0;
    int rc = -1;
    if (base64_decode(payload, decoded, sizeof(decoded), &n) == 0) {
        const unsigned char *colon = memchr(decoded, ':', n);
        if (colon != NULL)
            rc = pb_auth_parse_access_id((pb_str){(const char *)decoded, (size_t)(colon - decoded)}, id);
    }
    explicit_bzero(decoded, sizeof(decoded));
    return rc;
}

size_t pb_auth_apps_named(const pb_auth_request *request, uint64_t ids[2])
{
    size_t n = 0;
    if (request->authorization.len > 0 && basic_app(request->authorization, &ids[n]) == 0)
        n++;
    if (request->access_id.len > 0 && request->timestamp.len > 0 && request->sign.len > 0 &&
        pb_auth_parse_access_id(request->access_id, &ids[n]) == 0 && (n == 0 || ids[0] != ids[n]))
        n++;
    return n;
}

static int sign_matches(pb_str secret, pb_str first, pb_str second, pb_str body, pb_str sign)
{
    char expected[SIGN_LEN + 1];
    pb_str parts[3] = {first, second, body};
    if (sign_parts(secret, parts, 3, expected) != 0)
        return 0;
    return CRYPTO_memcmp(expected, sign.base, SIGN_LEN) == 0;
}

static int authenticate_signature(const pb_auth_request *req, pb_auth_secrets_lookup lookup, void *arg,
                                  uint64_t *access_id, size_t *matched)
{
    uint64_t id, ts;
    const pb_str *secrets;
    size_t n_secrets;
    if (pb_auth_parse_access_id(req->access_id, &id) != 0)
        return -1;
    if (parse_timestamp(req->timestamp, &ts) != 0)
        return -1;
    if (!timestamp_fresh(ts, req->now, req->window_seconds))
        return -1;
    if (req->sign.len != SIGN_LEN) /* the client's value; its length is no secret */
        return -1;
    if (lookup_secrets(lookup, arg, id, &secrets, &n_secrets) != 0)
        return -1;

    /* The documented order first, then the one published clients use. */
    for (size_t i = 0; i < n_secrets; i++) {
        if (!usable(secrets[i]))
            continue;
        if (sign_matches(secrets[i], req->timestamp, req->access_id, req->body, req->sign) ||
            sign_matches(secrets[i], req->access_id, req->timestamp, req->body, req->sign)) {
            *access_id = id;
            *matched = i;
            return 0;
        }
    }
    return -1;
}

int pb_auth_authenticate_any(const pb_auth_request *request, pb_auth_secrets_lookup lookup, void *lookup_arg,
                             uint64_t *access_id, size_t *matched)
{
    if (request->authorization.len > 0 && authenticate_basic(request, lookup, lookup_arg, access_id, matched) == 0)
        return PB_OK;
    if (request->access_id.len > 0 && request->timestamp.len > 0 && request->sign.len > 0 &&
        authenticate_signature(request, lookup, lookup_arg, access_id, matched) == 0)
        return PB_OK;
    return PB_ERR_AUTH;
}

/* pb_auth_authenticate()'s one secret as a list of one. */
typedef struct one_secret {
    pb_auth_secret_lookup lookup;
    void *arg;
    pb_str secret;
} one_secret;

static int lookup_one(void *arg, uint64_t access_id, const pb_str **secrets, size_t *n)
{
    one_secret *one = arg;
    one->secret = (pb_str){NULL, 0};
    if (one->lookup(one->arg, access_id, &one->secret) != 0)
        return -1;
    *secrets = &one->secret;
    *n = 1;
    return 0;
}

int pb_auth_authenticate(const pb_auth_request *request, pb_auth_secret_lookup lookup, void *lookup_arg,
                         uint64_t *access_id)
{
    one_secret one = {lookup, lookup_arg, {NULL, 0}};
    size_t matched;
    return pb_auth_authenticate_any(request, lookup_one, &one, access_id, &matched);
}
