#include <stdio.h>

#include "common/progress.h"
#include "common/clock.h"

#define BAR_WIDTH 30

double pb_progress_now(void)
{
    return (double)pb_clock_ns() / 1e9;
}

void pb_progress_start(pb_progress *progress, const char *what, bool tty, uint64_t total_bytes)
{
    double now = pb_progress_now();
    *progress = (pb_progress){.what = what, .tty = tty, .total_bytes = total_bytes, .start = now, .last = now};
}

static void format_eta(char *buf, size_t size, double seconds)
{
    unsigned long s = (unsigned long)(seconds + 0.5);
    snprintf(buf, size, "%lu:%02lu:%02lu", s / 3600, s / 60 % 60, s % 60);
}

static void report(pb_progress *progress, double now, uint64_t lines, uint64_t items, uint64_t bytes)
{
    progress->last = now;
    double elapsed = now - progress->start;
    double rate = elapsed > 0 ? (double)lines / elapsed : 0;
    double fraction = progress->total_bytes != 0 ? (double)bytes / (double)progress->total_bytes : -1;
    if (fraction > 1)
        fraction = 1;
    char eta[32] = "?";
    if (fraction > 0)
        format_eta(eta, sizeof(eta), elapsed / fraction - elapsed);

    /* What follows the counts: the errors, then the caller's note. */
    char extra[40 + sizeof(progress->note)] = "";
    size_t used = 0;
    if (progress->errors != 0)
        used = (size_t)snprintf(extra, sizeof(extra), ", %llu errors", (unsigned long long)progress->errors);
    if (progress->note[0] != '\0')
        snprintf(extra + used, sizeof(extra) - used, "%s%s", progress->tty ? "  " : ", ", progress->note);
    if (!progress->tty) {
        if (fraction >= 0)
            fprintf(stderr, "pushbind %s: %llu lines, %llu bound, %.0f lines/s, %.0f%%, ETA %s%s\n", progress->what,
                    (unsigned long long)lines, (unsigned long long)items, rate, fraction * 100, eta, extra);
        else
            fprintf(stderr, "pushbind %s: %llu lines, %llu bound, %.0f lines/s%s\n", progress->what,
                    (unsigned long long)lines, (unsigned long long)items, rate, extra);
        return;
    }
    char bar[BAR_WIDTH + 1];
    int filled = fraction >= 0 ? (int)(fraction * BAR_WIDTH) : 0;
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : fraction >= 0 ? '.' : ' ';
    bar[BAR_WIDTH] = '\0';
    if (fraction >= 0) {
        char done[40] = "";
        if (progress->show_items)
            snprintf(done, sizeof(done), "  %llu bound", (unsigned long long)items);
        fprintf(stderr, "\r\033[K[%s] %3.0f%%  %llu lines%s  %.0f/s  ETA %s%s", bar, fraction * 100,
                (unsigned long long)lines, done, rate, eta, extra);
    } else {
        fprintf(stderr, "\r\033[K%llu lines  %llu bound  %.0f/s%s", (unsigned long long)lines,
                (unsigned long long)items, rate, extra);
    }
    progress->drawn = true;
}

void pb_progress_update(pb_progress *progress, uint64_t lines, uint64_t items, uint64_t bytes)
{
    double now = pb_progress_now();
    if (now - progress->last >= (progress->tty ? PB_PROGRESS_TTY_SECONDS : PB_PROGRESS_PLAIN_SECONDS))
        report(progress, now, lines, items, bytes);
}

void pb_progress_show(pb_progress *progress, uint64_t lines, uint64_t items, uint64_t bytes)
{
    if (progress->tty)
        report(progress, pb_progress_now(), lines, items, bytes);
}

void pb_progress_clear(pb_progress *progress)
{
    if (progress->drawn)
        fputs("\r\033[K", stderr);
    progress->drawn = false;
}
