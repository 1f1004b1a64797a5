/*
 * accesslog.h — one line per answered request, as text or JSON.
 *
 * A line holds: the time (UTC, milliseconds), the app's AccessId (once it
 * authenticated; "-" otherwise), the endpoint, operator_type, the number of
 * items, the TPNS ret_code (API endpoints), the HTTP status, the
 * microseconds the request took, the client's address (and the first
 * X-Forwarded-For hop when the peer is a trusted proxy: client.h), the name
 * of the key that authenticated ("main" for the app's SecretKey), and when
 * authentication failed why and the AccessId the credentials named; for a
 * path no endpoint answers, the path, escaped (at most
 * PB_ACCESSLOG_MAX_PATH bytes of it). Never a secret, a signature, a token or
 * an account.
 *
 * This module formats lines and writes whole buffers of them; the buffering
 * per event loop (and when a buffer is written) is logbuffer.h's.
 *
 * Threads: pb_accesslog_write() may be called from every event-loop thread at
 * once; each buffer is one write(2) on an O_APPEND descriptor, so lines never
 * interleave. pb_accesslog_reopen() may run on another thread meanwhile: it
 * swaps the file under the same descriptor number with dup2(), so a writer
 * never sees a closed descriptor. A pb_accesslog_clock belongs to one thread.
 */
#ifndef PB_ACCESSLOG_H
#define PB_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The most of an unknown path a line holds; each byte may take 6 escaped. */
#define PB_ACCESSLOG_MAX_PATH 128

/* The longest line pb_accesslog_format() writes (every field at its widest fits). */
#define PB_ACCESSLOG_MAX_LINE (640 + 6 * PB_ACCESSLOG_MAX_PATH)

#include "common/endpoint.h"
#include "common/str.h"
#include "http/client.h"
#include "metrics/metrics.h"

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
    pb_client_address peer;      /* who connected */
    pb_client_address forwarded; /* the first X-Forwarded-For hop, when the peer is trusted */
    pb_str key_name;             /* the key that authenticated: "main" or a named key's; empty: none */
    pb_auth_failure auth;        /* why authentication failed; NONE when it did not */
    uint64_t tried_access_id;    /* when it failed: the AccessId the credentials named (0: none) */
    pb_str path;                 /* PB_ENDPOINT_OTHER: the path asked for (must live until the line is added) */
} pb_request_record;

/*
 * The formatted current second, "2026-11-27T01:23:45", kept by one thread so
 * that a line formats only its milliseconds while the second lasts.
 * Zero-initialise before the first use.
 */
typedef struct pb_accesslog_clock {
    time_t second;
    char text[24];
} pb_accesslog_clock;

/*
 * Opens the log: `path` (appended to, created mode 0640) or stderr when NULL.
 * Returns 0, or -1 with errno set.
 */
int pb_accesslog_open(pb_accesslog *log, pb_log_format format, const char *path);

/*
 * Reopens `path` (after logrotate moved it): later writes go to the new file.
 * A no-op for stderr. Returns 0, or -1 with errno set (the old file stays in
 * use). Lines still buffered by the loops are not the log's to flush: the
 * caller has them written first (logbuffer.h) when they belong to the old file.
 */
int pb_accesslog_reopen(pb_accesslog *log);

void pb_accesslog_close(pb_accesslog *log);

/*
 * Formats the line for `record`, stamped with the current time, into `out`
 * (room for PB_ACCESSLOG_MAX_LINE bytes) and returns its length, the
 * newline included. The log's format must not be PB_LOG_OFF.
 */
size_t pb_accesslog_format(const pb_accesslog *log, pb_accesslog_clock *clock, const pb_request_record *record,
                           char *out);

/*
 * Writes `len` bytes of whole lines with one write(2) (more only when the
 * kernel takes part of them, as a full pipe on stderr may). Errors are
 * dropped: a full disk must not stop the service.
 */
void pb_accesslog_write(const pb_accesslog *log, const char *lines, size_t len);

#endif
