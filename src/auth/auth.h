/*
 * auth.h — who is calling: TPNS Basic and Signature authentication.
 *
 * Basic:      Authorization: Basic base64("<AccessId>:<SecretKey>")
 * Signature:  headers AccessId, TimeStamp, Sign with
 *             Sign = base64(hex_lowercase(HMAC-SHA256(SecretKey,
 *                                                     TimeStamp + AccessId + body)))
 *             The message AccessId + TimeStamp + body is accepted too, since
 *             published clients build it in that order.
 *
 * The module does not know where secrets live: the caller passes a lookup
 * function. Secrets are compared in constant time and never copied out.
 *
 * Thread rules: none; every function is re-entrant.
 */
#ifndef PB_AUTH_H
#define PB_AUTH_H

#include <stdint.h>
#include <time.h>

#include "common/str.h"

/* docs/API.md: a timestamp further than 600 s from the server clock fails. */
#define PB_AUTH_DEFAULT_WINDOW_SECONDS 600

/*
 * The credentials a request carried. A header that was absent is an empty
 * string (base == NULL is fine).
 */
typedef struct pb_auth_request {
    pb_str authorization; /* Authorization header value */
    pb_str access_id;     /* AccessId header value */
    pb_str timestamp;     /* TimeStamp header value */
    pb_str sign;          /* Sign header value */
    pb_str body;          /* the raw request body, as signed */
    time_t now;           /* server clock, Unix seconds */
    uint32_t window_seconds;
} pb_auth_request;

/*
 * Finds the secret of app `access_id`. Returns 0 and sets *secret (valid until
 * pb_auth_authenticate returns), or non-zero when there is no such app or it
 * cannot be looked up.
 */
typedef int (*pb_auth_secret_lookup)(void *arg, uint64_t access_id, pb_str *secret);

/*
 * Authenticates a request. Basic is tried when an Authorization header is
 * present, Signature when AccessId, TimeStamp and Sign are; the request passes
 * if either passes. Returns 0 and sets *access_id, or PB_ERR_AUTH.
 */
int pb_auth_authenticate(const pb_auth_request *request, pb_auth_secret_lookup lookup, void *lookup_arg,
                         uint64_t *access_id);

/*
 * Finds every secret app `access_id` accepts: its own and its named keys'
 * (store.h). Returns 0 and sets *secrets to *n of them (valid until
 * pb_auth_authenticate_any returns), or non-zero when there is no such app or
 * it cannot be looked up.
 */
typedef int (*pb_auth_secrets_lookup)(void *arg, uint64_t access_id, const pb_str **secrets, size_t *n);

/*
 * pb_auth_authenticate() for an app with several secrets, any of which
 * passes. Sets *access_id and *matched (the index in the lookup's list of
 * the secret that passed). Basic compares the given secret with every
 * candidate, each in constant time, and all of them whichever matches; a
 * Signature costs up to two HMACs per candidate (both message orders), so a
 * wrong signature on an app with k keys costs 2(k+1) HMACs.
 */
int pb_auth_authenticate_any(const pb_auth_request *request, pb_auth_secrets_lookup lookup, void *lookup_arg,
                             uint64_t *access_id, size_t *matched);

/*
 * The apps whose secrets pb_auth_authenticate() would look up for `request`,
 * in that order, without a secret: the Basic credential's AccessId, then the
 * AccessId header when Signature's three headers are there. Returns how many
 * (0 to 2, never the same id twice) it wrote to `ids`. For a caller that must
 * fetch the secrets before it can authenticate (a store across a network);
 * naming an app proves nothing, and a malformed credential may name none.
 */
size_t pb_auth_apps_named(const pb_auth_request *request, uint64_t ids[2]);

/*
 * Parses a decimal AccessId (1 to 18 digits, no sign, no spaces, not zero).
 * Returns 0 or -1.
 */
int pb_auth_parse_access_id(pb_str text, uint64_t *access_id);

/*
 * Computes the Sign value for `message` under `secret` into out[0..88] (88
 * characters plus a NUL): base64 of the 64 hex characters of the HMAC.
 */
void pb_auth_sign(pb_str secret, pb_str message, char out[89]);

#endif
