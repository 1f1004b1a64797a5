#!/usr/bin/python3
"""pushbind on PostgreSQL, across a link with a round trip and on loopback.

  bench/postgres_link.py [--seconds N] [--delay-us US] [--bindings N]

A PostgreSQL 15 primary (PB_BENCH_PORT_BASE + 701) with a synchronous standby
(+ 702, synchronous_standby_names = 's2': every COMMIT waits until the standby
has the WAL on disk), both started here as the postgres user
(test/blackbox/pgsingle.py), reached directly and through bench/latency_proxy
(+ 703, --delay-us each way; + 707 with no delay). Rows, each run for
--seconds, each against a baseline of the same run:
  proxy:    pgbench -c64 with query-one's statement through the proxy with no
            delay vs to PostgreSQL directly, first, so that the proxy is shown
            not to be the limit of the link rows
  link:     pushbind query-one, query-100, bind-20 through the proxy (wrk -c64)
            vs pgbench -c8 and -c64 -M prepared running the same statement
            (bind-20: the same apply_batch() call, 20 new tokens) through it;
            and pushbind query-one on one Redis through a proxy of the same
            delay (the Redis backend's row of this run)
  loopback: pushbind query-one on PostgreSQL directly vs on the embedded store
  bytes:    the same --bindings (50-byte tokens, 27-byte accounts) in each
            store: the embedded store's file and PostgreSQL's table and
            indexes (both by `pushbind import`), Redis's used_memory (bound
            through the API, 100 a request: import does not write Redis)
pgbench's statement takes its account as a pgbench variable (-M prepared
makes it a parameter) and builds the arrays pushbind sends as parameters
from it. The link's own round trip is pgbench -c1 SELECT 1 through it.
Prints Markdown tables to stdout, with the exact commands.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'blackbox'))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
import bench  # noqa: E402  (wrk runner, credentials)
import pgsingle  # noqa: E402  (PostgreSQL as the postgres user)
import redis_link  # noqa: E402  (serve, fill, measured, bind20)

BUILD = os.environ.get('PB_BENCH_BUILD', os.path.join(ROOT, 'build'))
BIN = os.path.join(BUILD, 'pushbind')
PROXY = os.path.join(BUILD, 'latency_proxy')
BASE = int(os.environ.get('PB_BENCH_PORT_BASE', '33000'))
PRIMARY, STANDBY, LINK, BARE_PROXY = BASE + 701, BASE + 702, BASE + 703, BASE + 707
PB_LINK, PB_LOCAL, PB_EMBEDDED, PB_REDIS_LINK = BASE + 704, BASE + 705, BASE + 706, BASE + 708
REDIS, REDIS_LINK, PB_REDIS_LOCAL = BASE + 709, BASE + 710, BASE + 711
SCHEMA = 'bench'
ACCOUNTS = redis_link.ACCOUNTS
procs = redis_link.procs  # redis_link.serve() starts its servers there
commands = []


def pg_url(port):
    return 'postgresql://postgres@127.0.0.1:%d/postgres' % port


def store_url(port):
    return '%s?pushbind_schema=%s' % (pg_url(port), SCHEMA)


def start_pair(tmp):
    """The primary and its synchronous standby (docs/operations.md's setup, on one machine)."""
    primary = pgsingle.Postgres(PRIMARY)
    with open(os.path.join(primary.data, 'postgresql.auto.conf'), 'a') as f:
        f.write("wal_level = replica\nmax_wal_senders = 4\nsynchronous_standby_names = 's2'\n")
    with open(os.path.join(primary.data, 'pg_hba.conf'), 'a') as f:
        f.write('host replication all 127.0.0.1/32 trust\n')
    primary.stop()
    primary.start()
    standby = pgsingle.Postgres(STANDBY, base=tempfile.mkdtemp(prefix='pushbind-pg-standby-', dir=tmp))
    os.chmod(standby.base, 0o755)
    shutil.chown(standby.base, 'postgres', 'postgres')
    pgsingle._as_postgres(pgsingle.BIN + '/pg_basebackup', '-R', '-X', 'stream', '-D', standby.data, '-d',
                          'host=127.0.0.1 port=%d user=postgres application_name=s2' % PRIMARY)
    with open(os.path.join(standby.data, 'postgresql.auto.conf'), 'a') as f:
        f.write("port = %d\nunix_socket_directories = '%s'\nsynchronous_standby_names = ''\n"
                % (STANDBY, standby.base))
    standby.start()
    deadline = time.time() + 30
    while psql(PRIMARY, "SELECT sync_state FROM pg_stat_replication WHERE application_name = 's2'") != 'sync':
        if time.time() > deadline:
            raise SystemExit('the standby did not become synchronous')
        time.sleep(0.2)
    return primary, standby


def psql(port, sql):
    return subprocess.run(['psql', '-qAtX', pg_url(port), '-c', sql], check=True, stdout=subprocess.PIPE,
                          text=True).stdout.strip()


def pgbench(port, clients, script, seconds, tmp, shown):
    """pgbench -M prepared with `script` (its text); (tps, p50 ms, p99 ms) from the per-transaction log."""
    path = os.path.join(tmp, 'pgbench-%s.sql' % shown)
    with open(path, 'w') as f:
        f.write(script)
    logdir = tempfile.mkdtemp(dir=tmp)
    argv = ['pgbench', '-n', '-M', 'prepared', '-c', str(clients), '-j', '2', '-T', str(seconds), '-l',
            '--log-prefix', os.path.join(logdir, 'log'), '-f', path, pg_url(port)]
    commands.append('pgbench -n -M prepared -c %d -j 2 -T %d -f <%s> %s' % (clients, seconds, shown, pg_url(port)))
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    if re.search(r'tps = ([\d.]+)', out) is None or 'aborted' in out and 'number of failed' not in out:
        raise SystemExit('pgbench failed:\n' + out)
    tps = float(re.search(r'tps = ([\d.]+)', out).group(1))
    lat = []
    for name in os.listdir(logdir):
        with open(os.path.join(logdir, name)) as f:
            lat.extend(int(line.split()[2]) for line in f)
    lat.sort()
    shutil.rmtree(logdir)
    return tps, lat[len(lat) // 2] / 1000.0, lat[len(lat) * 99 // 100] / 1000.0


def query_script(per_query):
    """pushbind's PB_PG_TOKENS_OF for `per_query` random accounts of the filled set."""
    if per_query == 1:
        names = "ARRAY[lpad(:a::text, 12, '0')]"
    else:
        names = ("ARRAY(SELECT lpad(((:a + g * 7919) %% %d)::text, 12, '0') FROM generate_series(1, %d) g)"
                 % (ACCOUNTS, per_query))
    return ('\\set a random(0, %d)\n'
            'SELECT q.i, b.token FROM unnest(array_fill(0, ARRAY[%d]), %s) WITH ORDINALITY AS q(atype, account, i)'
            ' JOIN %s.bindings b ON b.app = %s AND b.atype = q.atype AND b.account = q.account'
            ' WHERE b.last_bind_time > -9223372036854775807 ORDER BY q.i, b.seq;\n'
            % (ACCOUNTS - 1, per_query, names, SCHEMA, bench.ACCESS_ID))


# pushbind's PB_PG_APPLY for wrk/bind.lua's request: 20 new tokens, each an APPEND of one account (the same for all 20).
BIND_SCRIPT = ('\\set r random(1, 1000000000000)\n'
               "SELECT %s.apply_batch(%s, extract(epoch FROM now())::bigint, 0, 32, 100, array_fill(1, ARRAY[20]),"
               " ARRAY(SELECT 'pgb-' || :client_id || '-' || :r || '-' || g || '-xxxxxxxxxxxxxxxxxxx'"
               " FROM generate_series(1, 20) g), array_fill(0, ARRAY[20]), array_fill(1, ARRAY[20]),"
               " array_fill(0, ARRAY[20]), array_fill('pgb-' || :client_id || '-' || :r, ARRAY[20]),"
               " array_fill(NULL::bigint, ARRAY[20]), array_fill(NULL::bigint, ARRAY[20]));\n"
               % (SCHEMA, bench.ACCESS_ID))


def link_rtt_ms(port, tmp):
    return pgbench(port, 1, 'SELECT 1;\n', 2, tmp, 'select1')[1]


def generated(n, path):
    """n bindings, 50-byte tokens and 27-byte accounts, two tokens an account, as NDJSON."""
    with open(path, 'w') as f:
        for i in range(n):
            f.write('{"token":"%050d","account":"acct-%022d"}\n' % (i * 7919 % 10 ** 12 * 10 ** 38 + i, i // 2))


def redis_bytes(n, path):
    """Redis's used_memory growth for the bindings in `path`, bound through pushbind (100 a request)."""
    before = int(re.search(r'used_memory:(\d+)', subprocess.run(
        ['redis-cli', '-p', str(REDIS), 'INFO', 'memory'], stdout=subprocess.PIPE, text=True).stdout).group(1))
    lines = [json.loads(l) for l in open(path)]

    def post(first):
        items = [{'token': d['token'], 'account_list': [{'account': d['account']}]} for d in lines[first:first + 100]]
        answer = redis_link.post(PB_REDIS_LOCAL, '/v3/device/account/batchoperate',
                                 {'operator_type': 1, 'token_accounts': items})
        assert answer['ret_code'] == 0, answer
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(post, range(0, n, 100)))
    after = int(re.search(r'used_memory:(\d+)', subprocess.run(
        ['redis-cli', '-p', str(REDIS), 'INFO', 'memory'], stdout=subprocess.PIPE, text=True).stdout).group(1))
    return after - before


def bytes_per_binding(n, tmp):
    path = os.path.join(tmp, 'bytes.ndjson')
    generated(n, path)
    data = os.path.join(tmp, 'bytes-db')
    url = '%s?pushbind_schema=bytes' % pg_url(PRIMARY)
    for where in (['--data', data], ['--store', url]):
        redis_link.app_add(where)
        subprocess.run([BIN, 'import'] + where + ['--access-id', bench.ACCESS_ID, path], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    embedded = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data))
    stats = subprocess.run([BIN, 'stats', '--store', url], check=True, stdout=subprocess.PIPE, text=True).stdout
    table, indexes = (int(re.search(r'^%s: [\d.]+ MiB \((\d+) bytes\)' % k, stats, re.M).group(1))
                      for k in ('table', 'indexes'))
    redis_link.app_add(['--store', 'redis://127.0.0.1:%d/bytes' % REDIS])
    redis_link.serve(PB_REDIS_LOCAL, ['--store', 'redis://127.0.0.1:%d/bytes' % REDIS, '--max-batch-items', '100'])
    return embedded / n, (table + indexes) / n, redis_bytes(n, path) / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seconds', type=int, default=5)
    ap.add_argument('--delay-us', type=int, default=1000)
    ap.add_argument('--bindings', type=int, default=1000000)
    args = ap.parse_args()
    sec = args.seconds
    tmp = tempfile.mkdtemp(prefix='pushbind-bench-pg-')
    os.chmod(tmp, 0o755)
    primary = standby = None
    try:
        primary, standby = start_pair(tmp)
        redis_link.start(['redis-server', '--port', str(REDIS), '--bind', '127.0.0.1', '--save', '', '--dir', tmp,
                          '--appendonly', 'yes', '--appendfsync', 'everysec'])
        for port, to in ((LINK, PRIMARY), (REDIS_LINK, REDIS)):
            redis_link.start([PROXY, '--listen', '127.0.0.1:%d' % port, '--to', '127.0.0.1:%d' % to,
                              '--delay-us', str(args.delay_us), '--threads', '2'])
        redis_link.start([PROXY, '--listen', '127.0.0.1:%d' % BARE_PROXY, '--to', '127.0.0.1:%d' % PRIMARY,
                          '--delay-us', '0', '--threads', '2'])
        data = os.path.join(tmp, 'db')
        redis_url = 'redis://127.0.0.1:%d/bench' % REDIS
        for where in (['--store', store_url(PRIMARY)], ['--data', data], ['--store', redis_url]):
            redis_link.app_add(where)
        redis_link.serve(PB_LOCAL, ['--store', store_url(PRIMARY)])
        redis_link.serve(PB_EMBEDDED, ['--data', data])
        redis_link.serve(PB_REDIS_LINK, ['--store', 'redis://127.0.0.1:%d/bench' % REDIS_LINK])
        for port in (PB_LOCAL, PB_EMBEDDED, PB_REDIS_LINK):
            redis_link.fill(port)
        redis_link.serve(PB_LINK, ['--store', store_url(LINK)])
        psql(PRIMARY, 'ANALYZE %s.bindings' % SCHEMA)

        rtt = link_rtt_ms(LINK, tmp)
        q1, q100 = query_script(1), query_script(100)
        env = {'PB_ACCOUNTS': str(ACCOUNTS), 'PB_PER_QUERY': '1'}
        env100 = dict(env, PB_PER_QUERY='100')
        wrk = lambda script, port, e: bench.wrk(script, port, e, seconds=sec)  # noqa: E731
        bare = pgbench(BARE_PROXY, 64, q1, sec, tmp, 'query-one')
        direct = pgbench(PRIMARY, 64, q1, sec, tmp, 'query-one')
        rows = [('the proxy with no delay: pgbench -c64 query-one through it', bare,
                 'pgbench -c64, to PostgreSQL directly', direct)]
        pushbind = wrk('query.lua', PB_LINK, env)
        for c in (8, 64):
            rows.append(('query-one across the link', pushbind, 'pgbench -c%d, same statement, same link' % c,
                         pgbench(LINK, c, q1, sec, tmp, 'query-one')))
        rows.append(('query-one across the link', pushbind, 'pushbind on one Redis, a link of the same delay',
                     wrk('query.lua', PB_REDIS_LINK, env)))
        pushbind = wrk('query.lua', PB_LINK, env100)
        for c in (8, 64):
            rows.append(('query-100 across the link', pushbind, 'pgbench -c%d, same statement, same link' % c,
                         pgbench(LINK, c, q100, sec, tmp, 'query-100')))
        pushbind = redis_link.bind20(PB_LINK, sec)
        for c in (8, 64):
            rows.append(('bind-20 across the link, synchronous standby', pushbind,
                         'pgbench -c%d, same apply_batch(), same link' % c,
                         pgbench(LINK, c, BIND_SCRIPT, sec, tmp, 'bind-20')))
        rows.append(('query-one, PostgreSQL on loopback', wrk('query.lua', PB_LOCAL, env), 'embedded store',
                     wrk('query.lua', PB_EMBEDDED, env)))
        embedded_b, pg_b, redis_b = bytes_per_binding(args.bindings, tmp)

        print('link round trip (pgbench -c1 SELECT 1 through the proxy, median): %.2f ms; %d s per row; bind-20 '
              'rows are requests (pgbench: calls) per second of 20 binds; p99 in link round trips in the last '
              'column' % (rtt, sec))
        print()
        print('| row (pushbind unless named) | req/s | p50 ms | p99 ms | baseline | baseline req/s | p50 ms '
              '| p99 ms | ratio | pushbind p99 / rtt |')
        print('|---|---|---|---|---|---|---|---|---|---|')
        for name, pb, base_name, base in rows:
            print('| %s | %.0f | %.2f | %.2f | %s | %.0f | %.2f | %.2f | %.2f | %.1f |'
                  % ((name,) + pb + (base_name,) + base + (pb[0] / base[0], pb[2] / rtt)))
        print()
        print('Bytes per binding, the same %d bindings (50-byte tokens, 27-byte accounts) in each store: '
              'embedded %.0f (file), PostgreSQL %.0f (table + indexes), Redis %.0f (used_memory, RAM)'
              % (args.bindings, embedded_b, pg_b, redis_b))
        print()
        print('pgbench commands (scripts in bench/postgres_link.py), wrk as in bench/redis_link.py:')
        print()
        for c in dict.fromkeys(commands):
            print('    ' + c)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(10)
        for server in (standby, primary):
            if server is not None:
                server.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
