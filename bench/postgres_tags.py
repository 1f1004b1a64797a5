#!/usr/bin/python3
"""Tags on PostgreSQL: what a (tag, token) pair costs, and delete_all_device of a big tag.

  bench/postgres_tags.py [--pairs N] [--tags K]

A PostgreSQL 15 server (PB_BENCH_PORT_BASE + 721, test/blackbox/pgsingle.py)
and `pushbind serve` on it (+ 722). Fills N pairs through the API with op 7
(one tag to 500 tokens a request; 50-byte tokens; K tags of N/K tokens each),
from 4 connections at once, and prints:
  fill:     op 7 requests/s and pairs/s
  bytes:    pg_total_relation_size() of tag_pairs, tags and tag_apps (heap
            and indexes, after VACUUM ANALYZE) over N
  read:     one tag's tokens page by page (1000 a page): pairs/s
  delete:   delete_all_device of that tag: its answer's time; query-one's
            p50/p99 from 4 connections before, and while the pairs are freed;
            how long the background took to free them
Prints Markdown to stdout.
"""
import argparse
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
import redis_link  # noqa: E402  (serve, post, app_add)

BASE = int(os.environ.get('PB_BENCH_PORT_BASE', '33000'))
PG, PB = BASE + 721, BASE + 722
SCHEMA = 'bench_tags'


def conn_post(conn, path, body):
    conn.request('POST', path, body=json.dumps(body),
                 headers={'Authorization': bench.BASIC, 'Content-Type': 'application/json'})
    answer = json.loads(conn.getresponse().read())
    assert answer['ret_code'] == 0, answer
    return answer


def token(tag, i):
    return ('%s-%d-' % (tag, i)).ljust(50, 'x')


def fill(pairs, tags):
    per_tag = pairs // tags
    work = [(t, i) for t in range(tags) for i in range(0, per_tag, 500)]
    lock = threading.Lock()

    def client():
        conn = http.client.HTTPConnection('127.0.0.1', PB, timeout=60)
        while True:
            with lock:
                if not work:
                    break
                t, first = work.pop()
            name = 'tag-%d' % t
            conn_post(conn, '/v3/device/tag', {'operator_type': 7, 'tag_list': [name], 'token_list': [
                token(name, i) for i in range(first, min(first + 500, per_tag))]})
        conn.close()

    requests = len(work)
    started = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    return requests / wall, per_tag * tags / wall


def read_pages(tag):
    conn = http.client.HTTPConnection('127.0.0.1', PB, timeout=60)
    started, read, cursor = time.monotonic(), 0, None
    while True:
        body = {'operator_type': 2, 'tag': tag, 'limit': 1000}
        if cursor is not None:
            body['cursor'] = cursor
        answer = conn_post(conn, '/pushbind/v1/tag/query', body)
        read += len(answer['token_list'])
        cursor = answer.get('next_cursor')
        if cursor is None:
            return read, read / (time.monotonic() - started)


def query_latencies(stop):
    """query-one from 4 connections until stop is set: the latencies, sorted."""
    latencies = []

    def client():
        conn = http.client.HTTPConnection('127.0.0.1', PB, timeout=60)
        while not stop.is_set():
            started = time.monotonic()
            conn_post(conn, '/v3/device/account/query', {'operator_type': 2, 'token_list': ['someone']})
            latencies.append(time.monotonic() - started)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    return threads, latencies


def percentiles(latencies):
    latencies.sort()
    return (latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000)


def psql(sql):
    return subprocess.run(['psql', '-h', '127.0.0.1', '-p', str(PG), '-U', 'postgres', '-XAtqc', sql],
                          check=True, stdout=subprocess.PIPE, text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--pairs', type=int, default=200000)
    ap.add_argument('--tags', type=int, default=4)
    args = ap.parse_args()
    pg = pgsingle.Postgres(PG)
    store = ['--store', '%s?pushbind_schema=%s' % (pg.url, SCHEMA)]
    try:
        redis_link.app_add(store)
        redis_link.serve(PB, store + ['--max-tags-per-app', '100000'])
        conn = http.client.HTTPConnection('127.0.0.1', PB, timeout=60)
        conn_post(conn, '/v3/device/account/batchoperate', {'operator_type': 1, 'token_accounts': [
            {'token': 'someone', 'account_list': [{'account': 'alice'}]}]})
        rps, pps = fill(args.pairs, args.tags)
        psql('VACUUM ANALYZE %s.tag_pairs, %s.tags' % (SCHEMA, SCHEMA))
        size = int(psql("SELECT sum(pg_total_relation_size('%s.' || t)) FROM unnest(ARRAY['tag_pairs', 'tags', "
                        "'tag_apps']) AS t" % SCHEMA))
        read, read_rate = read_pages('tag-0')
        stop = threading.Event()
        threads, before = query_latencies(stop)
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()
        stop.clear()
        threads, during = query_latencies(stop)
        time.sleep(0.5)
        conn = http.client.HTTPConnection('127.0.0.1', PB, timeout=60)  # the first one idled out during the fill
        started = time.monotonic()
        conn_post(conn, '/v3/device/tag/delete_all_device', {'tag_list': ['tag-0']})
        answered = time.monotonic() - started
        while int(psql('SELECT count(*) FROM %s.tag_graves' % SCHEMA)) != 0:
            time.sleep(0.1)
        freed = time.monotonic() - started
        stop.set()
        for t in threads:
            t.join()
        print('| what | figure |\n|---|---|')
        print('| fill: op 7 (500 tokens), 4 connections | %.0f requests/s, %.0f pairs/s |' % (rps, pps))
        print('| bytes per (tag, token), %d pairs of %d tags | %.0f |' % (args.pairs, args.tags, size / args.pairs))
        print('| read tag-0 (%d tokens) by pages of 1000 | %.0f tokens/s |' % (read, read_rate))
        print('| delete_all_device of tag-0: answered in | %.1f ms |' % (answered * 1000))
        print('| its pairs freed in the background in | %.1f s |' % freed)
        print('| query-one p50 / p99, 4 connections, before | %.2f / %.2f ms |' % percentiles(before))
        print('| query-one p50 / p99, while tag-0 is deleted and freed | %.2f / %.2f ms |' % percentiles(during))
    finally:
        for p in redis_link.procs:
            p.terminate()
        pg.destroy()


if __name__ == '__main__':
    main()
