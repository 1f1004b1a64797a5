#!/usr/bin/python3
"""pushbind on Redis, across a link with a round trip and on loopback.

  bench/redis_link.py [--seconds N] [--delay-us US]

One Redis (PB_BENCH_PORT_BASE + 1), reached directly and through
bench/latency_proxy (build/latency_proxy, `cmake --build build --target
latency_proxy`), which holds every chunk --delay-us each way. Rows, each run
for --seconds:
  link:     pushbind query-one through the proxy   vs redis-benchmark -c64 SMEMBERS through the proxy
  loopback: pushbind query-one on Redis directly   vs pushbind query-one on the embedded store
The link's own round trip is the median of PINGs through the proxy. Prints a Markdown table of ratios and p50/p99 to stdout.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'blackbox'))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
import bench  # noqa: E402  (wrk and redis-benchmark runners)

BUILD = os.environ.get('PB_BENCH_BUILD', os.path.join(ROOT, 'build'))
BIN = os.path.join(BUILD, 'pushbind')
PROXY = os.path.join(BUILD, 'latency_proxy')
BASE = int(os.environ.get('PB_BENCH_PORT_BASE', '33000'))
REDIS, LINK, PB_LINK, PB_LOCAL, PB_EMBEDDED = BASE + 1, BASE + 601, BASE + 602, BASE + 603, BASE + 604
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


def link_rtt_ms():
    """The median of 200 PINGs through the proxy, one at a time."""
    import socket
    s = socket.create_connection(('127.0.0.1', LINK))
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
    start([BIN, 'serve', '--listen', '127.0.0.1:%d' % port, '--log-format', 'off'] + store_args)
    wait_http(port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seconds', type=int, default=3)
    ap.add_argument('--delay-us', type=int, default=1000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='pushbind-bench-')
    try:
        start(['redis-server', '--port', str(REDIS), '--bind', '127.0.0.1', '--save', '', '--dir', tmp])
        time.sleep(0.5)
        start([PROXY, '--listen', '127.0.0.1:%d' % LINK, '--to', '127.0.0.1:%d' % REDIS,
               '--delay-us', str(args.delay_us), '--threads', '2'])
        url = 'redis://127.0.0.1:%d/bench' % REDIS
        data = os.path.join(tmp, 'db')
        for where in (['--store', url], ['--data', data]):
            subprocess.run([BIN, 'app', 'add'] + where + ['--access-id', bench.ACCESS_ID, '--secret-key', bench.SECRET],
                           check=True, stdout=subprocess.DEVNULL)
        serve(PB_LOCAL, ['--store', url])
        serve(PB_EMBEDDED, ['--data', data])
        fill(PB_LOCAL)
        fill(PB_EMBEDDED)
        serve(PB_LINK, ['--store', 'redis://127.0.0.1:%d/bench' % LINK])
        subprocess.run(['redis-cli', '-p', str(REDIS), 'SADD', 'bench-set', 'a', 'b'], check=True,
                       stdout=subprocess.DEVNULL)

        rtt = link_rtt_ms()
        env = {'PB_ACCOUNTS': str(ACCOUNTS), 'PB_PER_QUERY': '1'}
        link = bench.wrk('query.lua', PB_LINK, env, seconds=args.seconds)
        rb = bench.redis_benchmark(LINK, ['-n', str(8000 * args.seconds), 'SMEMBERS', 'bench-set'])
        local = bench.wrk('query.lua', PB_LOCAL, env, seconds=args.seconds)
        embedded = bench.wrk('query.lua', PB_EMBEDDED, env, seconds=args.seconds)
        env100 = dict(env, PB_PER_QUERY='100')
        link100 = bench.wrk('query.lua', PB_LINK, env100, seconds=args.seconds)

        print('link round trip (PING through the proxy, one client): median %.2f ms' % rtt)
        print()
        print('| row | pushbind req/s | p50 ms | p99 ms | baseline | baseline req/s | p50 ms | p99 ms | ratio |')
        print('|---|---|---|---|---|---|---|---|---|')
        print('| query-one across the link | %.0f | %.2f | %.2f | redis-benchmark -c64 SMEMBERS, same link | %.0f | %.2f | %.2f | %.2f |'
              % (link + rb + (link[0] / rb[0],)))
        print('| query-one, Redis on loopback | %.0f | %.2f | %.2f | embedded store | %.0f | %.2f | %.2f | %.2f |'
              % (local + embedded + (local[0] / embedded[0],)))
        print('| query-100 across the link | %.0f | %.2f | %.2f | | | | | |' % link100)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(10)
        subprocess.run(['rm', '-rf', tmp])


if __name__ == '__main__':
    main()
