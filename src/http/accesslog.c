#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

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

/* "2026-11-27T01:23:45.678Z" */
static void format_time(char *buf, size_t size)
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t len = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + len, size - len, ".%03ldZ", now.tv_nsec / 1000000);
}

void pb_accesslog_write(const pb_accesslog *log, const pb_request_record *r)
{
    if (log->format == PB_LOG_OFF || log->fd == -1)
        return;
    char time_text[40], app[24] = "-", op[24] = "-", code[16] = "-", line[384];
    format_time(time_text, sizeof(time_text));
    if (r->access_id != 0)
        snprintf(app, sizeof(app), "%" PRIu64, r->access_id);
    if (r->operator_type != 0)
        snprintf(op, sizeof(op), "%" PRId64, r->operator_type);
    if (r->code >= 0)
        snprintf(code, sizeof(code), "%d", r->code);
    int len;
    if (log->format == PB_LOG_JSON)
        /* Every value is a number or a fixed word: nothing needs escaping. */
        len = snprintf(line, sizeof(line),
                       "{\"time\":\"%s\",\"app\":%s%s%s,\"endpoint\":\"%s\",\"op\":%s,\"items\":%" PRIu64
                       ",\"code\":%s,\"status\":%d,\"us\":%" PRIu64 "}\n",
                       time_text, r->access_id ? "\"" : "", r->access_id ? app : "null", r->access_id ? "\"" : "",
                       pb_endpoint_name(r->endpoint), r->operator_type ? op : "null", r->items, r->code >= 0 ? code : "null", r->status,
                       r->micros);
    else
        len = snprintf(line, sizeof(line), "%s app=%s endpoint=%s op=%s items=%" PRIu64 " code=%s status=%d us=%" PRIu64 "\n",
                       time_text, app, pb_endpoint_name(r->endpoint), op, r->items, code, r->status, r->micros);
    if (len > 0 && (size_t)len < sizeof(line)) {
        ssize_t ignored = write(log->fd, line, (size_t)len); /* a full disk must not stop the service */
        (void)ignored;
    }
}
