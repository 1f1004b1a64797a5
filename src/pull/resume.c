/* resume.c — the resume file, loaded once and appended to per batch. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pull/resume.h"

static const char header[] = "# pushbind pull: input lines finished (resume file)\n";

static int by_first(const void *a, const void *b)
{
    const pb_pull_range *x = a, *y = b;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Parses "N" or "N-M" (N <= M). */
static bool parse_range(const char *line, pb_pull_range *range)
{
    char *end;
    if (line[0] < '0' || line[0] > '9')
        return false;
    range->first = range->last = strtoull(line, &end, 10);
    if (*end == '-') {
        const char *second = end + 1;
        if (second[0] < '0' || second[0] > '9')
            return false;
        range->last = strtoull(second, &end, 10);
    }
    return *end == '\0' && range->first >= 1 && range->first <= range->last;
}

static int load(pb_pull_resume *resume, FILE *in)
{
    char *line = NULL;
    size_t capacity = 0, allocated = 0;
    ssize_t len;
    while ((len = getline(&line, &capacity, in)) > 0) {
        pb_pull_range range;
        if (line[len - 1] != '\n') /* torn by a crash: not a record */
            break;
        line[len - 1] = '\0';
        if (!parse_range(line, &range))
            continue;
        if (resume->n == allocated) {
            allocated = allocated == 0 ? 256 : allocated * 2;
            pb_pull_range *grown = realloc(resume->ranges, allocated * sizeof(*grown));
            if (grown == NULL) {
                free(line);
                return -1;
            }
            resume->ranges = grown;
        }
        resume->ranges[resume->n++] = range;
    }
    free(line);
    if (ferror(in))
        return -1;
    if (resume->n > 0)
        qsort(resume->ranges, resume->n, sizeof(*resume->ranges), by_first);
    size_t merged = 0;
    for (size_t i = 0; i < resume->n; i++) {
        if (merged > 0 && resume->ranges[i].first <= resume->ranges[merged - 1].last + 1) {
            if (resume->ranges[i].last > resume->ranges[merged - 1].last)
                resume->ranges[merged - 1].last = resume->ranges[i].last;
        } else {
            resume->ranges[merged++] = resume->ranges[i];
        }
    }
    resume->n = merged;
    return 0;
}

/* Writes all of `text`, or fails. */
static int write_all(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        text += n;
        len -= (size_t)n;
    }
    return 0;
}

int pb_pull_resume_open(pb_pull_resume *resume, const char *path)
{
    *resume = (pb_pull_resume){.fd = -1};
    if (path == NULL)
        return 0;
    resume->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    FILE *in = resume->fd >= 0 ? fdopen(dup(resume->fd), "r") : NULL;
    if (in == NULL || load(resume, in) != 0) {
        fprintf(stderr, "pushbind pull: cannot read the resume file %s: %m\n", path);
        if (in != NULL)
            fclose(in);
        pb_pull_resume_close(resume);
        return -1;
    }
    /*
     * A crash may have left a torn last record, which may read as a smaller
     * number than was meant: "#" spoils it for good, and the next record
     * starts on a line of its own.
     */
    bool empty = fseeko(in, 0, SEEK_END) == 0 && ftello(in) == 0;
    bool torn = false;
    if (!empty && fseeko(in, -1, SEEK_END) == 0)
        torn = fgetc(in) != '\n';
    fclose(in);
    if ((empty && write_all(resume->fd, header, sizeof(header) - 1) != 0) ||
        (torn && write_all(resume->fd, "#\n", 2) != 0)) {
        fprintf(stderr, "pushbind pull: cannot write the resume file %s: %m\n", path);
        pb_pull_resume_close(resume);
        return -1;
    }
    return 0;
}

bool pb_pull_resume_done(pb_pull_resume *resume, uint64_t number)
{
    while (resume->next < resume->n && resume->ranges[resume->next].last < number)
        resume->next++;
    return resume->next < resume->n && resume->ranges[resume->next].first <= number;
}

int pb_pull_resume_record(pb_pull_resume *resume, const uint64_t *numbers, size_t n)
{
    if (resume->fd < 0 || n == 0)
        return 0;
    /* 2 × 20 digits, a dash and a newline per range. */
    char *text = malloc(n * 42);
    if (text == NULL)
        return -1;
    size_t len = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && numbers[j + 1] == numbers[j] + 1)
            j++;
        if (j == i)
            len += (size_t)sprintf(text + len, "%llu\n", (unsigned long long)numbers[i]);
        else
            len += (size_t)sprintf(text + len, "%llu-%llu\n", (unsigned long long)numbers[i],
                                   (unsigned long long)numbers[j]);
        i = j + 1;
    }
    int rc = write_all(resume->fd, text, len) == 0 && fdatasync(resume->fd) == 0 ? 0 : -1;
    free(text);
    return rc;
}

void pb_pull_resume_close(pb_pull_resume *resume)
{
    if (resume->fd >= 0)
        close(resume->fd);
    free(resume->ranges);
    *resume = (pb_pull_resume){.fd = -1};
}
