#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "common/str.h"
#include "http/accesslog.h"

#define LOG_FILE_MODE 0640

static int open_file(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, LOG_FILE_MODE);
}

int pb_accesslog_open(pb_accesslog *log, pb_log_format format, const char *path)
{
    *log = (pb_accesslog){.format = format, .path = path, .fd = STDERR_FILENO};
    if (path == NULL || format == PB_LOG_OFF)
        return 0;
    log->fd = open_file(path);
    return log->fd == -1 ? -1 : 0;
}

int pb_accesslog_reopen(pb_accesslog *log)
{
    if (log->path == NULL || log->fd == STDERR_FILENO)
        return 0;
    int fd = open_file(log->path);
    if (fd == -1)
        return -1;
    int rc = dup2(fd, log->fd) == -1 ? -1 : 0;
    close(fd);
    return rc;
}

void pb_accesslog_close(pb_accesslog *log)
{
    if (log->fd != STDERR_FILENO && log->fd != -1)
        close(log->fd);
    log->fd = -1;
}

/*
 * The line is built by hand rather than by snprintf: at the HTTP ceiling a
 * line per request is a visible share of the loop's time, and every field is
 * a number, a fixed word or a short text of known characters but the path.
 */
static char *put_str(char *p, const char *s)
{
    size_t len = strlen(s);
    memcpy(p, s, len);
    return p + len;
}

/* "2026-11-27T01:23:45.678Z" */
static char *put_time(char *p, pb_accesslog_clock *clock)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec != clock->second || clock->text[0] == '\0') {
        struct tm tm;
        gmtime_r(&now.tv_sec, &tm);
        if (strftime(clock->text, sizeof(clock->text), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            clock->text[0] = '\0';
        clock->second = now.tv_sec;
    }
    p = put_str(p, clock->text);
    unsigned ms = (unsigned)(now.tv_nsec / 1000000);
    *p++ = '.';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    *p++ = 'Z';
    return p;
}

/* The path's bytes, at most PB_ACCESSLOG_MAX_PATH, escaped for a quoted string of the log's format. */
static char *put_escaped(char *p, pb_str s, bool json)
{
    static const char hex[] = "0123456789abcdef";
    size_t len = s.len > PB_ACCESSLOG_MAX_PATH ? PB_ACCESSLOG_MAX_PATH : s.len;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s.base[i];
        if (c == '"' || c == '\\') {
            *p++ = '\\';
            *p++ = (char)c;
        } else if (c >= 0x20 && c < 0x7f) {
            *p++ = (char)c;
        } else {
            p = put_str(p, json ? "\\u00" : "\\x");
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    if (len < s.len)
        p = put_str(p, "...");
    return p;
}

static char *put_address(char *p, const pb_client_address *address)
{
    return p + pb_client_format(address, p);
}

/* The fields after us=: who asked, with what key, and what was asked when no endpoint answers it. */
static char *format_text_who(char *p, const pb_request_record *r)
{
    p = put_str(p, " client=");
    p = put_address(p, &r->peer);
    if (r->forwarded.known) {
        p = put_str(p, " fwd=");
        p = put_address(p, &r->forwarded);
    }
    p = put_str(p, " key=");
    if (r->key_name.len != 0) {
        memcpy(p, r->key_name.base, r->key_name.len);
        p += r->key_name.len;
    } else {
        *p++ = '-';
    }
    if (r->auth != PB_AUTH_FAILURE_NONE) {
        p = put_str(p, " auth=");
        p = put_str(p, pb_auth_failure_name(r->auth));
        p = put_str(p, " tried=");
        p = r->tried_access_id != 0 ? pb_put_u64(p, r->tried_access_id) : put_str(p, "-");
    }
    if (r->endpoint == PB_ENDPOINT_OTHER && r->path.len != 0) {
        p = put_str(p, " path=\"");
        p = put_escaped(p, r->path, false);
        *p++ = '"';
    }
    return p;
}

static char *format_json_who(char *p, const pb_request_record *r)
{
    p = put_str(p, ",\"client\":\"");
    p = put_address(p, &r->peer);
    *p++ = '"';
    if (r->forwarded.known) {
        p = put_str(p, ",\"forwarded\":\"");
        p = put_address(p, &r->forwarded);
        *p++ = '"';
    }
    p = put_str(p, ",\"key\":");
    if (r->key_name.len != 0) {
        *p++ = '"';
        memcpy(p, r->key_name.base, r->key_name.len); /* [A-Za-z0-9._@-] only, or "main" */
        p += r->key_name.len;
        *p++ = '"';
    } else {
        p = put_str(p, "null");
    }
    if (r->auth != PB_AUTH_FAILURE_NONE) {
        p = put_str(p, ",\"auth\":\"");
        p = put_str(p, pb_auth_failure_name(r->auth));
        p = put_str(p, "\",\"tried\":");
        if (r->tried_access_id != 0) {
            *p++ = '"';
            p = pb_put_u64(p, r->tried_access_id);
            *p++ = '"';
        } else {
            p = put_str(p, "null");
        }
    }
    if (r->endpoint == PB_ENDPOINT_OTHER && r->path.len != 0) {
        p = put_str(p, ",\"path\":\"");
        p = put_escaped(p, r->path, true);
        *p++ = '"';
    }
    return p;
}

static char *format_text(char *p, pb_accesslog_clock *clock, const pb_request_record *r)
{
    p = put_time(p, clock);
    p = put_str(p, " app=");
    p = r->access_id != 0 ? pb_put_u64(p, r->access_id) : put_str(p, "-");
    p = put_str(p, " endpoint=");
    p = put_str(p, pb_endpoint_name(r->endpoint));
    p = put_str(p, " op=");
    p = r->operator_type != 0 ? pb_put_i64(p, r->operator_type) : put_str(p, "-");
    p = put_str(p, " items=");
    p = pb_put_u64(p, r->items);
    p = put_str(p, " code=");
    p = r->code >= 0 ? pb_put_i64(p, r->code) : put_str(p, "-");
    p = put_str(p, " status=");
    p = pb_put_i64(p, r->status);
    p = put_str(p, " us=");
    p = pb_put_u64(p, r->micros);
    return format_text_who(p, r);
}

/* Every value is a number, a fixed word, an address or a key name, but the path: only it is escaped. */
static char *format_json(char *p, pb_accesslog_clock *clock, const pb_request_record *r)
{
    p = put_str(p, "{\"time\":\"");
    p = put_time(p, clock);
    p = put_str(p, "\",\"app\":");
    if (r->access_id != 0) {
        *p++ = '"';
        p = pb_put_u64(p, r->access_id);
        *p++ = '"';
    } else {
        p = put_str(p, "null");
    }
    p = put_str(p, ",\"endpoint\":\"");
    p = put_str(p, pb_endpoint_name(r->endpoint));
    p = put_str(p, "\",\"op\":");
    p = r->operator_type != 0 ? pb_put_i64(p, r->operator_type) : put_str(p, "null");
    p = put_str(p, ",\"items\":");
    p = pb_put_u64(p, r->items);
    p = put_str(p, ",\"code\":");
    p = r->code >= 0 ? pb_put_i64(p, r->code) : put_str(p, "null");
    p = put_str(p, ",\"status\":");
    p = pb_put_i64(p, r->status);
    p = put_str(p, ",\"us\":");
    p = pb_put_u64(p, r->micros);
    p = format_json_who(p, r);
    *p++ = '}';
    return p;
}

size_t pb_accesslog_format(const pb_accesslog *log, pb_accesslog_clock *clock, const pb_request_record *record,
                           char *out)
{
    char *end = log->format == PB_LOG_JSON ? format_json(out, clock, record) : format_text(out, clock, record);
    *end++ = '\n';
    return (size_t)(end - out);
}

void pb_accesslog_write(const pb_accesslog *log, const char *lines, size_t len)
{
    while (len > 0 && log->fd != -1) {
        ssize_t n = write(log->fd, lines, len);
        if (n <= 0)
            return;
        lines += n;
        len -= (size_t)n;
    }
}
