"""The tag rows of `make bench` (bench/bench.py runs them; PB_BENCH_ONLY=tags runs them alone).

A pushbind of its own on an empty store, and two Redis servers of their own
(one with `appendfsync always`, one without an AOF), all written to and read
by bench/tags_load.c (`bench_tags`), the same client for both sides:

6, 6b. op 7 (one tag to 500 fresh 20-byte tokens, in random order as real
   tokens come) in pairs per second, against one pipeline per request with
   the same members: SADD of the tag's set with the 500 tokens and one SADD
   per token into the token's set of tags (6: the two indexes pushbind
   keeps), or the tag's set alone (6b); 6c as 6 with each connection's tokens
   in key order (an app's own sequential ids), which is what decides how many
   of the store's pages a request touches;
7, 7b. op 9 (500 pairs, tags cycling through 50) the same way: one SADD per pair
   into its tag's set, and one per pair into its token's set (7) or not (7b);
8, 8b. every token of a tag holding a million, page by page on one
   connection: op 2 of /pushbind/v1/tag/query at the largest page the API
   allows (8: limit 10,000) and at its default (8b: 1,000), against SSCAN
   COUNT 1000 of the same million tokens in Redis, in tokens per second;
plus the compacted store's bytes per (tag, token) at that million, Redis's
used_memory per member of the same set (for scale, not a goal), and each
side's CPU time and storage writes per pair in rows 6-7b.

Durability: pushbind answers a write once its group's commit is fsync'ed;
the baseline of rows 6-7b is the Redis with `appendonly yes`, `appendfsync
always` (a write is answered after the AOF's fsync, one per event-loop
iteration, so a pipeline shares one); the same rows against the Redis without
an AOF are printed below the table.
"""

import os
import statistics
import subprocess

PORTS = {'pb_tags': 31015, 'redis_tags': 31006, 'redis_tags_nofsync': 31007}
CONNECTIONS = 64
PAIRS = 1000000  # the tag read page by page
FILL_CONNECTIONS = 16
READS_PER_ROUND = 3  # a read of a million takes well under a second: each round's figure is three


def figures(argv, bench):
    """bench_tags' one line of output, as floats (the credential left out of the report)."""
    shown = ["'Basic <base64 of id:secret>'" if a == bench.BASIC else a for a in argv]
    return [float(x) for x in bench.run(argv, shown_argv=shown).stdout.split()]


def measure(bench, tmp):
    """Runs rows 6-8b; returns (table rows as bench.report() takes them, lines for below the table)."""
    tool = os.path.join(bench.ROOT, 'build-bench', 'bench_tags')
    data = os.path.join(tmp, 'tags-db')
    subprocess.run([bench.BIN, 'app', 'add', '--data', data, '--access-id', bench.ACCESS_ID, '--secret-key',
                    bench.SECRET], check=True, stdout=subprocess.DEVNULL)
    bench.server_pids['pb_tags'] = [bench.start([bench.BIN, 'serve', '--data', data, '--listen',
                                                 '127.0.0.1:%d' % PORTS['pb_tags'], '--log-format', 'off']).pid]
    bench.wait_http(PORTS['pb_tags'])
    bench.PORTS.update(PORTS)
    redis_pids = {}
    for key, fsync in (('redis_tags', True), ('redis_tags_nofsync', False)):
        bench.start_redis(tmp, key, fsync=fsync)
        redis_pids[key] = bench.procs[-1].pid
    pb = str(PORTS['pb_tags'])
    costs = {}  # side -> {'cpu': [µs of server CPU per pair, each run], 'written': [bytes per pair, each run]}
    device = device_stat(tmp)

    def costed(side, pid, argv):
        """bench_tags' figures for a timed run, noting the server's CPU and storage writes per pair."""
        cpu, written = bench.cpu_seconds([pid]), sectors_written(device)
        rate, p50, p99, errors = figures(argv, bench)
        if errors:
            bench.log('bench_tags: %d requests or replies failed' % errors)
        pairs = max(rate * bench.SECONDS, 1)
        cost = costs.setdefault(side, {'cpu': [], 'written': []})
        cost['cpu'].append((bench.cpu_seconds([pid]) - cpu) / pairs * 1e6)
        cost['written'].append((sectors_written(device) - written) * 512 / pairs)
        return rate, p50, p99

    def write_pb(op, run, ordered=False):
        return costed('pb%d%s' % (op, 'o' if ordered else ''), bench.server_pids['pb_tags'][0],
                      [tool, 'write', 'http', pb, str(CONNECTIONS), str(bench.SECONDS), str(op), run, bench.BASIC] +
                      (['0', 'ordered'] if ordered else []))

    def write_redis(key, op, run, sides, ordered=False):
        return costed('%s%d-%d%s' % (key, op, sides, 'o' if ordered else ''), redis_pids[key],
                      [tool, 'write', 'redis', str(PORTS[key]), str(CONNECTIONS), str(bench.SECONDS), str(op), run,
                       str(sides)] + (['0', 'ordered'] if ordered else []))

    def fill(argv):
        rate = figures(argv, bench)[0]
        bench.log('tags: filled at %.0f pairs/s' % rate)

    # The million-token tag "op7-big", on both sides (Redis: the tag's set is all SSCAN reads).
    bench.log('tags: one tag to %d tokens, on pushbind and Redis' % PAIRS)
    used_before = redis_used_memory(PORTS['redis_tags'])
    fill([tool, 'write', 'http', pb, str(FILL_CONNECTIONS), '0', '7', 'big', bench.BASIC, str(PAIRS // 500)])
    fill([tool, 'write', 'redis', str(PORTS['redis_tags']), str(FILL_CONNECTIONS), '0', '7', 'big', '1',
          str(PAIRS // 500)])
    redis_per_member = (redis_used_memory(PORTS['redis_tags']) - used_before) / PAIRS
    copy = os.path.join(tmp, 'tags-copy')
    subprocess.run([bench.BIN, 'backup', '--data', data, copy], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    per_pair = os.path.getsize(os.path.join(copy, 'data.mdb')) / PAIRS
    bench.commands.append('%s backup --data <tags-db> <copy>   # data.mdb bytes / %d' % (bench.BIN, PAIRS))

    def scan(side, page):
        runs = []
        for _ in range(READS_PER_ROUND):
            if side == 'pb':
                tokens, seconds, _, _ = figures([tool, 'scan', 'http', pb, 'op7-big', str(page), bench.BASIC], bench)
            else:
                tokens, seconds, _, _ = figures([tool, 'scan', 'redis', str(PORTS['redis_tags']), 'op7-big',
                                                 str(page)], bench)
            if tokens != PAIRS:
                bench.log('tags: a read gave %d tokens, not %d' % (tokens, PAIRS))
            runs.append(tokens / seconds)
        return statistics.median(runs), None, None

    results, extra = [], []
    pb_read, base_read, _, _ = bench.alternate('8', lambda r: scan('pb', 10000), lambda r: scan('redis', 1000))
    results.append(('8. a 1M-token tag page by page, op 2 limit 10000 (tokens/s)', pb_read,
                    'redis SSCAN COUNT 1000', base_read, 1.0))
    pb_read, base_read, _, _ = bench.alternate('8b', lambda r: scan('pb', 1000), lambda r: scan('redis', 1000))
    results.append(('8b. same, op 2 limit 1000 (tokens/s)', pb_read, 'redis SSCAN COUNT 1000', base_read, 1.0))

    # Each round runs every side once, pushbind first; a side is a function of the round's run name.
    write_rows = [
        (7, '6', {'pb': lambda run: write_pb(7, run),
                  'both': lambda run: write_redis('redis_tags', 7, run, 2),
                  'tag': lambda run: write_redis('redis_tags', 7, run + 't', 1),
                  'both_nofsync': lambda run: write_redis('redis_tags_nofsync', 7, run, 2),
                  'tag_nofsync': lambda run: write_redis('redis_tags_nofsync', 7, run + 't', 1),
                  'pb_ordered': lambda run: write_pb(7, run + 'o', ordered=True),
                  'both_ordered': lambda run: write_redis('redis_tags', 7, run + 'o', 2, ordered=True)}),
        (9, '7', {'pb': lambda run: write_pb(9, run),
                  'both': lambda run: write_redis('redis_tags', 9, run, 2),
                  'tag': lambda run: write_redis('redis_tags', 9, run + 't', 1),
                  'both_nofsync': lambda run: write_redis('redis_tags_nofsync', 9, run, 2),
                  'tag_nofsync': lambda run: write_redis('redis_tags_nofsync', 9, run + 't', 1)}),
    ]
    for op, row, runs in write_rows:
        sides = {k: [] for k in runs}
        for r in range(bench.ROUNDS):
            for k, side in runs.items():
                sides[k].append(side('o%dr%d' % (op, r)))
            bench.log('%s round %d: %s pairs/s' % (row, r + 1, ', '.join('%s %.0f' % (k, v[-1][0])
                                                                      for k, v in sides.items())))
        med = {k: bench.median_run(v) for k, v in sides.items()}
        what = 'op 7, one tag to 500 tokens' if op == 7 else 'op 9, 500 (tag, token) pairs'
        results.append(('%s. tags %s a request, random 20-byte tokens (pairs/s)' % (row, what), med['pb'],
                        'redis SADD pipelined, both indexes, appendfsync always', med['both'], 1.0))
        results.append(('%sb. same, against the tag\'s set alone (pairs/s)' % row, med['pb'],
                        'redis SADD pipelined, tag sets only, appendfsync always', med['tag'], 1.0))
        if 'pb_ordered' in med:
            results.append(('%sc. same as %s, tokens in key order, 64 streams (pairs/s)' % (row, row),
                            med['pb_ordered'], 'redis SADD pipelined, both indexes, appendfsync always',
                            med['both_ordered'], 1.0))
        extra.append('- row %s/%sb against Redis without an AOF (`appendonly no`, nothing durable): both indexes '
                     '%.0f pairs/s (%.2f), tag sets only %.0f (%.2f)' % (
                         row, row, med['both_nofsync'][0], med['pb'][0] / med['both_nofsync'][0],
                         med['tag_nofsync'][0], med['pb'][0] / med['tag_nofsync'][0]))
    for what, unit in (('cpu', 'server CPU per pair (utime + stime), µs'),
                       ('written', 'bytes the disk wrote per pair (its sectors written during the run, '
                                   'whatever wrote them; one server runs at a time)')):
        extra.append('- %s, median of the rounds: %s' % (unit, ', '.join(
            '%s %.*f' % (side, 2 if what == 'cpu' else 0, statistics.median(c[what])) for side, c in costs.items())))
    extra.append('- bytes per (tag, token) at %d pairs, 20-byte tokens, one tag (the compacted store of '
                 '`pushbind backup` over the pairs): %.1f (goal <= 100: %s); Redis\'s used_memory per member of '
                 'the same set: %.1f' % (PAIRS, per_pair, 'met' if per_pair <= 100 else 'NOT met', redis_per_member))
    extra.append('- rows 8/8b: each round\'s figure is the median of %d whole reads; rows 6-7b: %d connections, '
                 '%d s a run; in the cost lines pb7 is row 6, pb7o row 6c, redis_tags7-2 its baseline, '
                 'redis_tags7-1 row 6b\'s, and so on' % (READS_PER_ROUND, CONNECTIONS, bench.SECONDS))
    return results, extra


def device_stat(path):
    """The block device statistics of the disk that holds `path` (/sys/dev/block/MAJOR:MINOR/stat).

    Not /proc/PID/io: its write_bytes counts a whole page-cache folio each time
    one page of it is dirtied, and the kernel here caches LMDB's file in large
    folios, so it showed five times what reached the disk.
    """
    st = os.stat(path)
    return '/sys/dev/block/%d:%d/stat' % (os.major(st.st_dev), os.minor(st.st_dev))


def sectors_written(stat_path):
    try:
        with open(stat_path) as f:
            return int(f.read().split()[6])
    except OSError:
        return 0


def redis_used_memory(port):
    out = subprocess.run(['redis-cli', '-p', str(port), 'info', 'memory'], stdout=subprocess.PIPE, text=True,
                         check=True).stdout
    for line in out.splitlines():
        if line.startswith('used_memory:'):
            return int(line.split(':')[1])
    return 0

