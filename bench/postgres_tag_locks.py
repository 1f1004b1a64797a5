#!/usr/bin/python3
"""Does a fleet's tag writing fill PostgreSQL's lock table?

  bench/postgres_tag_locks.py [--processes P] [--threads T] [--connections C] [--seconds S]
                              [--max-connections N] [--max-locks-per-transaction L] [--held-token]

A PostgreSQL 15 server of its own (PB_BENCH_PORT_BASE + 731, PostgreSQL's
defaults but for the two settings given: 100 and 64 unless told) and P
`pushbind serve --threads T` on it (+ 732 …). C client connections, spread
over the processes, send op 7 of one tag to 500 fresh 50-byte tokens, one
request after another, for S seconds: each request holds 501 advisory locks
until its COMMIT, and a process has 4 write connections a thread, so at most
P × T × 4 requests hold theirs at once. Prints the answers by code, requests/s,
the latencies, the most advisory locks pg_locks showed (sampled every 0.1 s)
and what PostgreSQL logged: "out of shared memory" (the lock table is full),
backends that lost their client (pushbind gave a request up after its 2 s,
answering 1008004, and closed its connection: the backend ends at its next
check of the client, every second, or else when it next writes to it), and
connections refused for "too many clients".

--held-token: a psql session holds the lock of one token for the whole run,
and every request names that token too, so that each waits for it (holding
the locks it took before it) until pushbind gives it up: the case of a slow
writer ahead of the requests.
"""
import argparse
import collections
import http.client
import json
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'blackbox'))
sys.path.insert(0, os.path.join(ROOT, 'bench'))
import bench  # noqa: E402  (credentials)
import pgsingle  # noqa: E402  (PostgreSQL as the postgres user)
import redis_link  # noqa: E402  (serve, app_add)

BASE = int(os.environ.get('PB_BENCH_PORT_BASE', '33000'))
PG, PB = BASE + 731, BASE + 732
SCHEMA = 'bench_tag_locks'


def psql(sql):
    return subprocess.run(['psql', '-h', '127.0.0.1', '-p', str(PG), '-U', 'postgres', '-XAtqc', sql],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


HELD = 'held-token'


def load(ports, connections, seconds, held):
    """Op 7 requests of 500 new tokens (499 and HELD when `held`) from `connections` clients:
    ({(code, message): n}, latencies, peak locks)."""
    answers, latencies, lock = collections.Counter(), [], threading.Lock()
    sent = [0]
    peak = [0]
    stop = time.monotonic() + seconds

    def client(n):
        conn = http.client.HTTPConnection('127.0.0.1', ports[n % len(ports)], timeout=60)
        while time.monotonic() < stop:
            with lock:
                sent[0] += 1
                k = sent[0]
            body = json.dumps({'operator_type': 7, 'tag_list': ['tag-%d' % (k % 50)],
                               'token_list': [('c%d-r%d-%d-' % (n, k, i)).ljust(50, 'x') for i in range(500 - held)]
                               + [HELD] * held})
            started = time.monotonic()
            conn.request('POST', '/v3/device/tag', body=body,
                         headers={'Authorization': bench.BASIC, 'Content-Type': 'application/json'})
            answer = json.loads(conn.getresponse().read())
            with lock:
                answers[(answer['ret_code'], answer.get('err_msg', ''))] += 1
                latencies.append(time.monotonic() - started)
        conn.close()

    def sample():
        while time.monotonic() < stop:
            r = psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            if r.returncode == 0:  # a full lock table refuses new connections too
                peak[0] = max(peak[0], int(r.stdout))
            time.sleep(0.1)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    threads.append(threading.Thread(target=sample))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers, sorted(latencies), peak[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--processes', type=int, default=1)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--connections', type=int, default=16)
    ap.add_argument('--seconds', type=float, default=20)
    ap.add_argument('--max-connections', type=int, default=100)
    ap.add_argument('--max-locks-per-transaction', type=int, default=64)
    ap.add_argument('--held-token', action='store_true')
    args = ap.parse_args()
    pg = pgsingle.Postgres(PG)  # max_connections = 300: set again below, as the run asks
    try:
        pg.stop()
        with open(os.path.join(pg.data, 'postgresql.auto.conf'), 'a') as f:
            f.write('max_connections = %d\nmax_locks_per_transaction = %d\n'
                    % (args.max_connections, args.max_locks_per_transaction))
        pg.start()
        store = ['--store', '%s?pushbind_schema=%s' % (pg.url, SCHEMA)]
        redis_link.app_add(store)
        ports = [PB + i for i in range(args.processes)]
        for port in ports:
            redis_link.serve(port, store + ['--threads', str(args.threads), '--max-tags-per-app', '1000000'])
        holder = None
        if args.held_token:  # apply_batch()'s and tag_apply()'s key for the token
            holder = subprocess.Popen(['psql', '-h', '127.0.0.1', '-p', str(PG), '-U', 'postgres', '-XAtq'],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            holder.stdin.write("BEGIN;\nSELECT pg_advisory_xact_lock(hashtextextended('%s t %s', 0));\nSELECT 1;\n"
                               % (bench.ACCESS_ID, HELD))
            holder.stdin.flush()
            while holder.stdout.readline() not in ('1\n', ''):  # held once psql answers the SELECT after it
                pass
        started = time.monotonic()
        answers, latencies, peak = load(ports, args.connections, args.seconds, args.held_token)
        if holder is not None:
            holder.stdin.close()
            holder.wait()
        wall = time.monotonic() - started
        with open(os.path.join(pg.base, 'log'), errors='replace') as f:
            log = f.read()
        total = sum(answers.values())
        print('| run | throughput | answers by code | most advisory locks | "out of shared memory" | '
              'clients lost | "too many clients" |\n|---|---|---|---|---|---|---|')
        print('| %d × --threads %d (%d write connections), %d clients%s, max_connections %d, '
              'max_locks_per_transaction %d | %.1f req/s, p50 %.0f ms, p99 %.0f ms | %s | %d | %d | %d | %d |' % (
                  args.processes, args.threads, args.processes * args.threads * 4, args.connections,
                  ', a token held' if args.held_token else '', args.max_connections, args.max_locks_per_transaction, total / wall,
                  latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000,
                  ', '.join('%d × %d' % (n, code) for (code, _), n in sorted(answers.items())), peak,
                  log.count('out of shared memory'), log.count('connection to client lost'),
                  log.count('too many clients')))
        errors = collections.Counter(line.split(':  ', 1)[1].strip() for line in log.splitlines()
                                     if ' ERROR:  ' in line or ' FATAL:  ' in line)
        for message, n in errors.most_common(4):
            print('    PostgreSQL: %d × %s' % (n, message[:100]))
    finally:
        for p in redis_link.procs:
            p.terminate()
        pg.destroy()


if __name__ == '__main__':
    main()
