/*
 * accesslog.h — one line per answered request, as text or JSON.
 *
 * A line holds: the time (UTC, milliseconds), the app's AccessId (once it
 * authenticated; "-" otherwise), the endpoint, operator_type, the number of
 * items, the TPNS ret_code (API endpoints), the HTTP status and the
 * microseconds the request took. Never a secret, a signature, a token or an
 * account: nothing from the request's headers or body but the numbers above.
 *
 * Threads: pb_accesslog_write() may be called from every event-loop thread at
 * once; each line is one write(2) on an O_APPEND descriptor, so lines never
 * interleave. pb_accesslog_reopen() may run on another thread meanwhile: it
 * swaps the file under the same descriptor number with dup2(), so a writer
 * never sees a closed descriptor.
 */
#ifndef PB_ACCESSLOG_H
#define PB_ACCESSLOG_H

#include <stdint.h>

#include "common/endpoint.h"

typedef enum pb_log_format {
    PB_LOG_TEXT = 0,
    PB_LOG_JSON,
    PB_LOG_OFF,
} pb_log_format;

typedef struct pb_accesslog {
    pb_log_format format;
    const char *path; /* NULL: stderr */
    int fd;
} pb_accesslog;

/* What one line says about one request. */
typedef struct pb_request_record {
    pb_endpoint endpoint;
    uint64_t access_id;     /* 0: not authenticated */
    int64_t operator_type;  /* 0: absent or not an integer in 1..5 */
    uint64_t items;         /* list items in the request */
    int code;               /* TPNS ret_code; -1 for non-API endpoints */
    int status;             /* HTTP status */
    uint64_t micros;
} pb_request_record;

/*
 * Opens the log: `path` (appended to, created mode 0640) or stderr when NULL.
 * Returns 0, or -1 with errno set.
 */
int pb_accesslog_open(pb_accesslog *log, pb_log_format format, const char *path);

/*
 * Reopens `path` (after logrotate moved it): later lines go to the new file.
 * A no-op for stderr. Returns 0, or -1 with errno set (the old file stays in
 * use).
 */
int pb_accesslog_reopen(pb_accesslog *log);

void pb_accesslog_close(pb_accesslog *log);

/* Writes one line for `record` (nothing when the format is PB_LOG_OFF). */
void pb_accesslog_write(const pb_accesslog *log, const pb_request_record *record);

#endif
