/*
 * process.c — the series every Prometheus exporter has (process_*, read from
 * /proc as the Prometheus client libraries read them), the build's version,
 * and the store's space gauges.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics/metrics.h"

#ifndef PB_VERSION
#error "PB_VERSION is defined by the build (CMakeLists.txt: project VERSION)"
#endif

/* The fields of /proc/self/stat that the process_* series come from (proc(5)). */
typedef struct proc_stat {
    unsigned long long utime, stime; /* clock ticks */
    unsigned long long starttime;    /* clock ticks after boot */
    unsigned long long vsize;        /* bytes */
    long long rss;                   /* pages */
} proc_stat;

/*
 * The command name (field 2) is in parentheses and may hold spaces and
 * parentheses itself, so fields are counted from the last ')'.
 */
static bool read_proc_stat(proc_stat *st)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (f == NULL)
        return false;
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    const char *p = strrchr(buf, ')');
    if (p == NULL)
        return false;
    /* Field 3 (state) onwards; utime is field 14, starttime 22, vsize 23, rss 24. */
    return sscanf(p + 1,
                  " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld",
                  &st->utime, &st->stime, &st->starttime, &st->vsize, &st->rss) == 5;
}

/* The system's boot time, Unix seconds ("btime" in /proc/stat); 0 when unknown. */
static unsigned long long boot_time(void)
{
    char line[256];
    unsigned long long btime = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    fclose(f);
    return btime;
}

/* Open descriptors: the entries of /proc/self/fd, the one reading it included, as the clients count. -1 when unknown. */
static long open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return -1;
    long n = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (entry->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

static void gauge(FILE *out, const char *name, const char *type, const char *help, double value)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n%s %.15g\n", name, help, name, type, name, value);
}

void pb_metrics_render_process(FILE *out)
{
    proc_stat st;
    double ticks = (double)sysconf(_SC_CLK_TCK);
    if (read_proc_stat(&st) && ticks > 0) {
        gauge(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
              (double)(st.utime + st.stime) / ticks);
        gauge(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", (double)st.vsize);
        gauge(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
              (double)st.rss * (double)sysconf(_SC_PAGESIZE));
        unsigned long long btime = boot_time();
        if (btime != 0)
            gauge(out, "process_start_time_seconds", "gauge",
                  "Start time of the process since unix epoch in seconds.",
                  (double)btime + (double)st.starttime / ticks);
    }
    long fds = open_fds();
    if (fds >= 0)
        gauge(out, "process_open_fds", "gauge", "Number of open file descriptors.", (double)fds);
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
        gauge(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.", (double)limit.rlim_cur);
    fprintf(out, "# HELP pushbind_build_info The version of pushbind running (always 1).\n"
                 "# TYPE pushbind_build_info gauge\npushbind_build_info{version=\"%s\"} 1\n",
            PB_VERSION);
}

void pb_metrics_render_space(const pb_metrics_space *space, FILE *out)
{
    gauge(out, "pushbind_store_size_bytes", "gauge",
          "Bytes of the embedded store's map holding data (pages in use times the page size).",
          (double)space->size_bytes);
    gauge(out, "pushbind_store_capacity_bytes", "gauge",
          "The embedded store's map size (--map-size-mib): the most its data may grow to.",
          (double)space->capacity_bytes);
    gauge(out, "pushbind_store_reserve_bytes", "gauge",
          "Bytes of the map binds leave free so that unbinds and app removal still succeed.",
          (double)space->reserve_bytes);
}
