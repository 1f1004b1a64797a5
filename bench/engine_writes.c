/*
 * engine_writes.c — the tag rows' writes on LMDB and on RocksDB, apart from
 * pushbind: is another embedded engine what the write and bytes goals of
 * the tag rows need? (docs/performance.md, "The tag rows of `make bench`").
 *
 * Two indexes of (tag, token) pairs in one keyspace, plain keys: the tag's
 * side 't' gen(8) seq(8) -> token(20), appended; the token's side
 * 'k' token(20) gen(8) -> seq(8) time(4), random. A million pairs first (in
 * commits of 50,000), then GROUPS commits of PAIRS pairs of fresh random
 * tokens, each pair after a read of its token (LMDB: a cursor seek;
 * RocksDB: a point Get, or with `seek` an iterator seek), each commit
 * durable before the next (LMDB: its commit and fdatasync; RocksDB: a
 * WriteBatch written with sync). Prints the timed part's pairs per second,
 * the process's CPU per pair (RocksDB's compaction threads included), the
 * bytes the disk holding DIR wrote per pair, and the bytes per pair at rest.
 *
 * Not built by CMake (RocksDB is no dependency of pushbind):
 *   apt-get install librocksdb-dev
 *   cc -O2 -o /tmp/engine_writes bench/engine_writes.c -llmdb -lrocksdb
 *   /tmp/engine_writes lmdb|rocksdb|rocksdb-seek DIR [GROUPS PAIRS]   # DIR new or empty
 */
#define _GNU_SOURCE
#include <lmdb.h>
#include <rocksdb/c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#define BASE_PAIRS 1000000L
#define BASE_COMMIT 50000

static uint64_t rng = 88172645463325252ull, seq = 1;
static char device_stat[64];

static void fresh_token(unsigned char *t)
{
    for (int i = 0; i < 20; i += 8) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        memcpy(t + i, &rng, i + 8 <= 20 ? 8 : 4);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

/* Sectors the disk has written (field 7 of its stat), the disk found from DIR. */
static long sectors_written(void)
{
    long v[7] = {0};
    FILE *f = fopen(device_stat, "r");
    if (f == NULL || fscanf(f, "%ld %ld %ld %ld %ld %ld %ld", v, v + 1, v + 2, v + 3, v + 4, v + 5, v + 6) != 7)
        v[6] = 0;
    if (f != NULL)
        fclose(f);
    return v[6];
}

static void be64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static size_t tag_key(unsigned char *k, uint64_t s)
{
    k[0] = 't';
    be64(k + 1, 1);
    be64(k + 9, s);
    return 17;
}

static size_t token_key(unsigned char *k, const unsigned char *t)
{
    k[0] = 'k';
    memcpy(k + 1, t, 20);
    be64(k + 21, 1);
    return 29;
}

/* One pair: the token read, then both sides written; `put` is the engine's. */
typedef struct engine engine;
struct engine {
    void (*begin)(engine *);
    void (*read)(engine *, const unsigned char *key, size_t len); /* the token's entries */
    void (*put)(engine *, const unsigned char *key, size_t klen, const void *value, size_t vlen);
    void (*commit)(engine *);
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    MDB_cursor *cursor;
    rocksdb_t *db;
    rocksdb_writeoptions_t *wo;
    rocksdb_readoptions_t *ro;
    rocksdb_writebatch_t *batch;
    rocksdb_iterator_t *it;
    int seek;
};

static void lmdb_begin(engine *e)
{
    mdb_txn_begin(e->env, NULL, 0, &e->txn);
    mdb_cursor_open(e->txn, e->dbi, &e->cursor);
}
static void lmdb_read(engine *e, const unsigned char *key, size_t len)
{
    MDB_val k = {len, (void *)key}, v;
    mdb_cursor_get(e->cursor, &k, &v, MDB_SET_RANGE);
}
static void lmdb_put(engine *e, const unsigned char *key, size_t klen, const void *value, size_t vlen)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)value};
    if (mdb_put(e->txn, e->dbi, &k, &v, 0) != 0)
        exit(1);
}
static void lmdb_commit(engine *e)
{
    mdb_cursor_close(e->cursor);
    if (mdb_txn_commit(e->txn) != 0)
        exit(1);
}

static void rocks_begin(engine *e)
{
    e->batch = rocksdb_writebatch_create();
    e->it = e->seek ? rocksdb_create_iterator(e->db, e->ro) : NULL;
}
static void rocks_read(engine *e, const unsigned char *key, size_t len)
{
    char *err = NULL;
    if (e->seek) {
        rocksdb_iter_seek(e->it, (const char *)key, len - 8);
        return;
    }
    size_t vlen;
    free(rocksdb_get(e->db, e->ro, (const char *)key, len, &vlen, &err));
    free(err);
}
static void rocks_put(engine *e, const unsigned char *key, size_t klen, const void *value, size_t vlen)
{
    rocksdb_writebatch_put(e->batch, (const char *)key, klen, value, vlen);
}
static void rocks_commit(engine *e)
{
    char *err = NULL;
    if (e->it != NULL)
        rocksdb_iter_destroy(e->it);
    rocksdb_write(e->db, e->wo, e->batch, &err);
    rocksdb_writebatch_destroy(e->batch);
    if (err != NULL) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
}

static void write_pairs(engine *e, long commits, int per_commit)
{
    for (long c = 0; c < commits; c++) {
        e->begin(e);
        for (int i = 0; i < per_commit; i++) {
            unsigned char token[20], tk[32], gk[32], v[12] = {0};
            fresh_token(token);
            size_t tk_len = token_key(tk, token);
            e->read(e, tk, tk_len);
            memcpy(v, &seq, 8);
            e->put(e, tk, tk_len, v, sizeof(v));
            e->put(e, gk, tag_key(gk, seq++), token, sizeof(token));
        }
        e->commit(e);
    }
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s lmdb|rocksdb|rocksdb-seek DIR [GROUPS PAIRS]\n", argv[0]);
        return 2;
    }
    const char *name = argv[1], *dir = argv[2];
    long groups = argc > 3 ? atol(argv[3]) : 30;
    int pairs = argc > 4 ? atoi(argv[4]) : 6000;
    struct stat st;
    mkdir(dir, 0700);
    if (stat(dir, &st) != 0)
        return 1;
    snprintf(device_stat, sizeof(device_stat), "/sys/dev/block/%u:%u/stat", major(st.st_dev), minor(st.st_dev));
    engine e = {0};
    rocksdb_options_t *options = NULL;
    if (strcmp(name, "lmdb") == 0) {
        e = (engine){.begin = lmdb_begin, .read = lmdb_read, .put = lmdb_put, .commit = lmdb_commit};
        mdb_env_create(&e.env);
        mdb_env_set_mapsize(e.env, (size_t)8 << 30);
        if (mdb_env_open(e.env, dir, 0, 0644) != 0)
            return 1;
        mdb_txn_begin(e.env, NULL, 0, &e.txn);
        mdb_dbi_open(e.txn, NULL, 0, &e.dbi);
        mdb_txn_commit(e.txn);
    } else {
        char *err = NULL;
        e = (engine){.begin = rocks_begin, .read = rocks_read, .put = rocks_put, .commit = rocks_commit};
        e.seek = strcmp(name, "rocksdb-seek") == 0;
        options = rocksdb_options_create();
        rocksdb_options_set_create_if_missing(options, 1);
        rocksdb_options_increase_parallelism(options, 2);
        rocksdb_block_based_table_options_t *table = rocksdb_block_based_options_create();
        rocksdb_block_based_options_set_filter_policy(table, rocksdb_filterpolicy_create_bloom(10));
        rocksdb_options_set_block_based_table_factory(options, table);
        if ((e.db = rocksdb_open(options, dir, &err)) == NULL) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        e.wo = rocksdb_writeoptions_create();
        rocksdb_writeoptions_set_sync(e.wo, 1);
        e.ro = rocksdb_readoptions_create();
    }
    write_pairs(&e, BASE_PAIRS / BASE_COMMIT, BASE_COMMIT);
    double t0 = now_s(), c0 = cpu_s();
    long s0 = sectors_written();
    write_pairs(&e, groups, pairs);
    double seconds = now_s() - t0, n = (double)groups * pairs;
    printf("%s: %.0f pairs on %ld: %.0f pairs/s, %.2f us of CPU a pair, %.0f bytes the disk wrote a pair",
           name, n, BASE_PAIRS, n / seconds, (cpu_s() - c0) / n * 1e6, (sectors_written() - s0) * 512.0 / n);
    double at_rest;
    if (e.env != NULL) {
        MDB_envinfo info;
        MDB_stat env_stat;
        mdb_env_info(e.env, &info);
        mdb_env_stat(e.env, &env_stat);
        at_rest = (double)(info.me_last_pgno + 1) * env_stat.ms_psize; /* pages in use */
        mdb_env_close(e.env);
    } else {
        rocksdb_compact_range(e.db, NULL, 0, NULL, 0);
        char *size = rocksdb_property_value(e.db, "rocksdb.total-sst-files-size");
        at_rest = size != NULL ? strtod(size, NULL) : 0; /* its files after a full compaction */
        free(size);
        rocksdb_close(e.db);
    }
    printf("; at rest %.1f bytes a pair\n", at_rest / (BASE_PAIRS + n));
    return 0;
}
