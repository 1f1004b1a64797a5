/*
 * The result codes pushbind answers with, as TPNS defined them.
 *
 * A code is either request-level (the whole request failed and nothing was read
 * or changed) or item-level (one element of a list failed; the others did not).
 * pb_code_message() gives the one-line message sent as errMsg / err_msg, and
 * docs/API.md lists the same table.
 */
#ifndef PB_CODES_H
#define PB_CODES_H

#include <stddef.h>

enum pb_code {
    PB_OK = 0,
    PB_ERR_PARSE = 1008001,       /* body is not valid JSON / not a JSON object */
    PB_ERR_MISSING = 1008002,     /* operator_type, or the list it needs, absent or empty */
    PB_ERR_AUTH = 1008003,        /* no valid credentials, unknown app, stale timestamp */
    PB_ERR_STORE = 1008004,       /* the store failed; nothing is half-applied */
    PB_ERR_TOKEN = 1008006,       /* (item) not a valid token string */
    PB_ERR_PARAM = 1008007,       /* wrong type or range, list too long, (item) bad account or over a limit */
    PB_ERR_PARTIAL = 1008026,     /* some items failed */
    PB_ERR_TOTAL = 1008027,       /* all items failed */
    PB_ERR_RATE = 1008028,        /* the app's rate limit was hit */
    PB_ERR_NO_BINDING = 10110008, /* (item) the account has no tokens / the token has no accounts */
};

/* The message for `code`; "unknown error" for a code not in the table. */
const char *pb_code_message(int code);

/*
 * The top-level code of a request whose `failed` items out of `total` did not
 * succeed: PB_OK when none failed, PB_ERR_TOTAL when all did, PB_ERR_PARTIAL
 * otherwise. (An item answered 10110008, "no binding", counts as failed.)
 */
int pb_code_for_failures(size_t failed, size_t total);

#endif
