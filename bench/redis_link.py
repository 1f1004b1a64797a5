#!/usr/bin/python3
"""pushbind on Redis, across a link with a round trip and on loopback.

  bench/redis_link.py [--seconds N] [--delay-us US]

One Redis (PB_BENCH_PORT_BASE + 1) and a 3-primary Redis Cluster (+ 11..13,
buses + 511..513), all `appendonly yes`, `appendfsync everysec`, reached
directly and through bench/latency_proxy (build/latency_proxy, `cmake --build
build --target latency_proxy`: + 601 before the one Redis, + 611..613 before
the cluster's nodes), which holds every chunk --delay-us each way. The cluster
is measured on loopback first; then each node announces its proxy's port
(cluster-announce-port), so that every client, redirects and slot maps
included, goes through the link. Rows, each run for --seconds, each against a
baseline measured in the same run:
  link:     pushbind query-one, bind-20 through the proxy   vs redis-benchmark -c64 SMEMBERS, SADD through it
  loopback: pushbind query-one, bind-20 on Redis directly   vs pushbind on the embedded store
  cluster:  the same on the cluster: on loopback, and across the link (redis-benchmark --cluster)
  proxy:    redis-benchmark -c64 SMEMBERS through the proxy with no delay vs to Redis directly, first,
            so that the proxy is shown not to be the limit of the link rows
query-one reads one account's tokens (wrk/query.lua); bind-20 binds 20 new
tokens per request, op 1 (wrk/bind.lua). The link's own round trip is the
median of PINGs through the proxy. Prints a Markdown table of ratios and
p50/p99 to stdout, then where the CPU went during each pushbind row: the
machine's busy share of all its cores (/proc/stat), and the CPU time per
request of pushbind, of the Redis servers and of the proxies (/proc/PID/stat),
so that a row limited by the machine's cores shows as such (by Little's law a
saturated row's latency is its 64 requests in flight over its rate).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'blackbox'))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
import bench  # noqa: E402  (wrk and redis-benchmark runners)
import pbredis  # noqa: E402  (the cluster)

BUILD = os.environ.get('PB_BENCH_BUILD', os.path.join(ROOT, 'build'))
BIN = os.path.join(BUILD, 'pushbind')
PROXY = os.path.join(BUILD, 'latency_proxy')
BASE = int(os.environ.get('PB_BENCH_PORT_BASE', '33000'))
REDIS, LINK, PB_LINK, PB_LOCAL, PB_EMBEDDED = BASE + 1, BASE + 601, BASE + 602, BASE + 603, BASE + 604
PB_CLUSTER_LOCAL, PB_CLUSTER_LINK = BASE + 605, BASE + 606
BARE_PROXY = BASE + 607  # the proxy with no delay: its own cost
CLUSTER = (BASE + 11, BASE + 12, BASE + 13)
CLUSTER_LINK = tuple(p + 600 for p in CLUSTER)
ACCOUNTS = 2000
procs = []


def start(argv):
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(p)
    return p


def wait_http(port):
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen('http://127.0.0.1:%d/healthz' % port, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit('pushbind on %d did not answer' % port)


def post(port, path, body):
    req = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path), data=json.dumps(body).encode(),
                                 headers={'Authorization': bench.BASIC, 'Content-Type': 'application/json'})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())


def fill(port):
    """Two tokens per account, 20 bindings per request, accounts named as query.lua asks."""
    for first in range(0, ACCOUNTS, 10):
        items = []
        for a in range(first, first + 10):
            for t in range(2):
                items.append({'token': 'tok-%d-%d' % (a, t), 'account_list': [{'account': '%012d' % a}]})
        answer = post(port, '/v3/device/account/batchoperate', {'operator_type': 1, 'token_accounts': items})
        assert answer['ret_code'] == 0, answer


def link_rtt_ms(port):
    """The median of 200 PINGs through the proxy on `port`, one at a time."""
    import socket
    s = socket.create_connection(('127.0.0.1', port))
    times = []
    for _ in range(200):
        t = time.perf_counter()
        s.sendall(b'PING\r\n')
        while not s.recv(64).endswith(b'\r\n'):
            pass
        times.append((time.perf_counter() - t) * 1000)
    s.close()
    return sorted(times)[len(times) // 2]


def serve(port, store_args):
    p = start([BIN, 'serve', '--listen', '127.0.0.1:%d' % port, '--log-format', 'off'] + store_args)
    wait_http(port)
    return p


def busy_seconds():
    """CPU time the whole machine spent not idle, over all cores, in seconds."""
    with open('/proc/stat') as f:
        cpu = [int(v) for v in f.readline().split()[1:]]
    return (sum(cpu) - cpu[3] - cpu[4]) / os.sysconf('SC_CLK_TCK')


def measured(run, seconds, groups):
    """run()'s (req/s, p50, p99), and the CPU it cost: (busy share of all cores,
    {group: CPU µs per request}) for `groups`, {name: [pids]}."""
    t0, b0 = time.monotonic(), busy_seconds()
    c0 = {g: bench.cpu_seconds(pids) for g, pids in groups.items()}
    result = run()
    wall = time.monotonic() - t0
    busy = (busy_seconds() - b0) / (wall * os.cpu_count())
    requests = result[0] * seconds
    return result, (busy, {g: (bench.cpu_seconds(pids) - c0[g]) / requests * 1e6 for g, pids in groups.items()})


def app_add(store_args):
    subprocess.run([BIN, 'app', 'add'] + store_args + ['--access-id', bench.ACCESS_ID, '--secret-key', bench.SECRET],
                   check=True, stdout=subprocess.DEVNULL)


def through_links(cluster):
    """Makes every node announce its proxy's port, and waits until every node's slot map says so."""
    for p in cluster.ports:
        pbredis.cli(p, 'CONFIG', 'SET', 'cluster-announce-port', p + 600)
    deadline = time.time() + 30
    while any(sorted(int(f) for f in pbredis.cli(p, 'CLUSTER', 'SLOTS').split() if f.isdigit() and int(f) > 16383)
              != list(CLUSTER_LINK) for p in cluster.ports):
        if time.time() > deadline:
            raise SystemExit('the cluster nodes do not announce their proxies')
        time.sleep(0.1)


runs = iter(range(1, 1000))


def bind20(port, seconds):
    """wrk/bind.lua: op 1, 20 new tokens per request (a new PB_RUN each time, so every token is new)."""
    return bench.wrk('bind.lua', port, {'PB_RUN': 'r%d' % next(runs)}, seconds=seconds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seconds', type=int, default=3)
    ap.add_argument('--delay-us', type=int, default=1000)
    args = ap.parse_args()
    sec = args.seconds
    n = str(8000 * sec)  # redis-benchmark runs a count, not a time: about --seconds across the link
    tmp = tempfile.mkdtemp(prefix='pushbind-bench-')
    cluster = None
    rows = []
    try:
        start(['redis-server', '--port', str(REDIS), '--bind', '127.0.0.1', '--save', '', '--dir', tmp,
               '--appendonly', 'yes', '--appendfsync', 'everysec'])
        cluster = pbredis.Cluster(CLUSTER, os.path.join(tmp, 'cluster'), replicas=0)
        for p in CLUSTER:
            start([PROXY, '--listen', '127.0.0.1:%d' % (p + 600), '--to', '127.0.0.1:%d' % p,
                   '--delay-us', str(args.delay_us), '--threads', '1'])
        time.sleep(0.5)
        start([PROXY, '--listen', '127.0.0.1:%d' % LINK, '--to', '127.0.0.1:%d' % REDIS,
               '--delay-us', str(args.delay_us), '--threads', '2'])
        start([PROXY, '--listen', '127.0.0.1:%d' % BARE_PROXY, '--to', '127.0.0.1:%d' % REDIS,
               '--delay-us', '0', '--threads', '2'])
        url = 'redis://127.0.0.1:%d/bench' % REDIS
        cluster_url = 'redis-cluster://%s/bench' % ','.join('127.0.0.1:%d' % p for p in CLUSTER)
        data = os.path.join(tmp, 'db')
        for where in (['--store', url], ['--data', data], ['--store', cluster_url]):
            app_add(where)
        pb_local = serve(PB_LOCAL, ['--store', url])
        serve(PB_EMBEDDED, ['--data', data])
        pb_cluster_local = serve(PB_CLUSTER_LOCAL, ['--store', cluster_url])
        for port in (PB_LOCAL, PB_EMBEDDED, PB_CLUSTER_LOCAL):
            fill(port)
        pb_link = serve(PB_LINK, ['--store', 'redis://127.0.0.1:%d/bench' % LINK])
        redis_pid, proxy_pids = procs[0].pid, [p.pid for p in procs[1:5]]  # the delaying ones
        cluster_pids = [cluster.nodes[p].proc.pid for p in CLUSTER]
        costs = []

        def cost(name, pushbind, redis_pids, run):
            result, spent = measured(run, sec, {'pushbind': [pushbind.pid], 'redis': redis_pids,
                                                'proxies': proxy_pids})
            costs.append((name, spent))
            return result
        subprocess.run(['redis-cli', '-p', str(REDIS), 'SADD', 'bench-set', 'a', 'b'], check=True,
                       stdout=subprocess.DEVNULL)

        rtt = link_rtt_ms(LINK)
        bare_rb = bench.redis_benchmark(BARE_PROXY, ['-n', str(4 * int(n)), 'SMEMBERS', 'bench-set'])
        direct_rb = bench.redis_benchmark(REDIS, ['-n', str(4 * int(n)), 'SMEMBERS', 'bench-set'])
        env = {'PB_ACCOUNTS': str(ACCOUNTS), 'PB_PER_QUERY': '1'}
        env100 = dict(env, PB_PER_QUERY='100')
        q_link = cost('query-one across the link', pb_link, [redis_pid],
                      lambda: bench.wrk('query.lua', PB_LINK, env, seconds=sec))
        q_rb = bench.redis_benchmark(LINK, ['-n', n, 'SMEMBERS', 'bench-set'])
        q100_link = cost('query-100 across the link', pb_link, [redis_pid],
                         lambda: bench.wrk('query.lua', PB_LINK, env100, seconds=sec))
        b_link = cost('bind-20 across the link', pb_link, [redis_pid], lambda: bind20(PB_LINK, sec))
        b_rb = bench.redis_benchmark(LINK, ['-n', n, '-r', '1000000', 'SADD', 'bench-sadd', '__rand_int__'])
        q_local = cost('query-one, Redis on loopback', pb_local, [redis_pid],
                       lambda: bench.wrk('query.lua', PB_LOCAL, env, seconds=sec))
        q_embedded = bench.wrk('query.lua', PB_EMBEDDED, env, seconds=sec)
        q_cluster = cost('query-one, cluster on loopback', pb_cluster_local, cluster_pids,
                         lambda: bench.wrk('query.lua', PB_CLUSTER_LOCAL, env, seconds=sec))
        b_local = cost('bind-20, Redis on loopback', pb_local, [redis_pid], lambda: bind20(PB_LOCAL, sec))
        b_embedded = bind20(PB_EMBEDDED, sec)
        b_cluster = cost('bind-20, cluster on loopback', pb_cluster_local, cluster_pids,
                         lambda: bind20(PB_CLUSTER_LOCAL, sec))

        through_links(cluster)
        cluster_rtt = link_rtt_ms(CLUSTER_LINK[0])
        pb_cluster_link = serve(PB_CLUSTER_LINK, ['--store', 'redis-cluster://%s/bench' % ','.join(
            '127.0.0.1:%d' % p for p in CLUSTER_LINK)])
        # {tag} puts a key on every node; the SADD gives each node's set a member, as bench-set has.
        cluster_rb = ['--cluster', '-n', n]
        bench.redis_benchmark(CLUSTER_LINK[0], ['--cluster', '-n', '1000', 'SADD', 'bench-set-{tag}', 'a'])
        qc_link = cost('query-one, cluster across the link', pb_cluster_link, cluster_pids,
                       lambda: bench.wrk('query.lua', PB_CLUSTER_LINK, env, seconds=sec))
        qc_rb = bench.redis_benchmark(CLUSTER_LINK[0], cluster_rb + ['SMEMBERS', 'bench-set-{tag}'])
        bc_link = cost('bind-20, cluster across the link', pb_cluster_link, cluster_pids,
                       lambda: bind20(PB_CLUSTER_LINK, sec))
        bc_rb = bench.redis_benchmark(CLUSTER_LINK[0], cluster_rb + ['-r', '1000000', 'SADD', 'bench-sadd-{tag}',
                                                                     '__rand_int__'])
        link_rb = 'redis-benchmark -c64 %s, same link'
        cluster_link_rb = 'redis-benchmark --cluster -c64 %s, same links'
        rows = [
            ('the proxy with no delay: redis-benchmark -c64 SMEMBERS through it', bare_rb,
             'redis-benchmark -c64 SMEMBERS, to Redis directly', direct_rb),
            ('query-one across the link', q_link, link_rb % 'SMEMBERS', q_rb),
            ('query-100 across the link', q100_link, '', None),
            ('bind-20 across the link', b_link, link_rb % 'SADD', b_rb),
            ('query-one, Redis on loopback', q_local, 'embedded store', q_embedded),
            ('bind-20, Redis on loopback', b_local, 'embedded store', b_embedded),
            ('query-one, cluster on loopback', q_cluster, 'embedded store', q_embedded),
            ('bind-20, cluster on loopback', b_cluster, 'embedded store', b_embedded),
            ('query-one, cluster across the link', qc_link, cluster_link_rb % 'SMEMBERS', qc_rb),
            ('bind-20, cluster across the link', bc_link, cluster_link_rb % 'SADD', bc_rb),
        ]
        print('link round trip (PING through the proxy, one client): median %.2f ms to the one Redis, '
              '%.2f ms to a cluster node; %d s per row; bind-20 rows are requests/s of 20 binds'
              % (rtt, cluster_rtt, sec))
        print()
        print('| row (pushbind unless named) | req/s | p50 ms | p99 ms | baseline | baseline req/s | p50 ms | p99 ms | ratio |')
        print('|---|---|---|---|---|---|---|---|---|')
        for name, pb, base_name, base in rows:
            if base is None:
                print('| %s | %.0f | %.2f | %.2f | | | | | |' % ((name,) + pb))
            else:
                print('| %s | %.0f | %.2f | %.2f | %s | %.0f | %.2f | %.2f | %.2f |'
                      % ((name,) + pb + (base_name,) + base + (pb[0] / base[0],)))
        print()
        print('Where the CPU went during the pushbind rows (%d cores; CPU per request; a bind-20 request '
              'is 20 binds):' % os.cpu_count())
        print()
        print('| row | machine busy | pushbind µs | Redis µs | proxies µs |')
        print('|---|---|---|---|---|')
        for name, (busy, per) in costs:
            print('| %s | %.0f %% | %.0f | %.0f | %.0f |' % (name, busy * 100, per['pushbind'], per['redis'],
                                                            per['proxies']))
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(10)
        if cluster is not None:
            cluster.close()
        subprocess.run(['rm', '-rf', tmp])


if __name__ == '__main__':
    main()
