#!/usr/bin/env python3
"""Tags on the embedded store: one tag given to N tokens by op 7 (500 a
request), the bytes a (tag, token) pair costs (a compacted backup's size over
N), and the latency of queries and binds before and while that tag is deleted
for every token (delete_all_device).

    scripts/bench-tags.py [N]        (default 1000000; PUSHBIND_BIN, default build/pushbind)
"""

import base64
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.environ.get('PUSHBIND_BIN', os.path.join(os.path.dirname(__file__), '..', 'build', 'pushbind'))
APP, SECRET = '1500001048', '1452fcebae9f3115ba794fb0fff2fd73'
AUTH = {'Authorization': 'Basic ' + base64.b64encode(('%s:%s' % (APP, SECRET)).encode()).decode()}


def post(conn, path, body):
    conn.request('POST', path, json.dumps(body).encode(), AUTH)
    return json.loads(conn.getresponse().read())


def timed(port, path, make, seconds):
    """Latencies of `path` requests (bodies from make(i)) sent back to back for `seconds`."""
    conn, lat, i = http.client.HTTPConnection('127.0.0.1', port), [], 0
    end = time.time() + seconds
    while time.time() < end:
        t = time.perf_counter()
        answer = post(conn, path, make(i))
        lat.append(time.perf_counter() - t)
        assert answer['ret_code'] in (0, 1008027), answer
        i += 1
    return sorted(lat)


def summary(lat):
    return 'n=%d p50=%.2f ms p99=%.2f ms max=%.2f ms' % (len(lat), lat[len(lat) // 2] * 1e3,
                                                        lat[int(len(lat) * 0.99)] * 1e3, lat[-1] * 1e3)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    work = tempfile.mkdtemp(prefix='pushbind-bench-tags-')
    data = os.path.join(work, 'data')
    subprocess.run([BIN, 'app', 'add', '--data', data, '--access-id', APP, '--secret-key', SECRET], check=True,
                   stdout=subprocess.DEVNULL)
    server = subprocess.Popen([BIN, 'serve', '--data', data, '--listen', '127.0.0.1:0', '--log-format', 'off'],
                              stderr=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r'127\.0\.0\.1:(\d+)', server.stderr.readline()).group(1))
        conn = http.client.HTTPConnection('127.0.0.1', port)
        started = time.time()
        for first in range(0, n, 500):
            tokens = ['tok%017d' % j for j in range(first, min(n, first + 500))]
            assert post(conn, '/v3/device/tag', {'operator_type': 7, 'tag_list': ['vip'], 'token_list': tokens})[
                'ret_code'] == 0
        took = time.time() - started
        print('op 7: %d pairs in %.1f s, %.0f pairs/s' % (n, took, n / took))
        subprocess.run([BIN, 'backup', '--data', data, os.path.join(work, 'copy')], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        size = os.path.getsize(os.path.join(work, 'copy', 'data.mdb'))
        print('bytes per (tag, token): %.1f (compacted copy %d bytes, 20-byte tokens)' % (size / n, size))
        query = lambda i: {'operator_type': 2, 'token_list': ['tok%017d' % (i % 1000)]}
        bind = lambda i: {'operator_type': 1, 'token_accounts': [{'token': 'b%d' % i, 'account_list': [
            {'account': 'a%d' % i}]}]}
        print('before: query-one', summary(timed(port, '/v3/device/account/query', query, 3)))
        print('before: bind-one ', summary(timed(port, '/v3/device/account/batchoperate', bind, 3)))
        during = {}
        readers = [threading.Thread(target=lambda: during.__setitem__(
                       'query', timed(port, '/v3/device/account/query', query, 6))),
                   threading.Thread(target=lambda: during.__setitem__(
                       'bind', timed(port, '/v3/device/account/batchoperate', lambda i: bind(i + 10**7), 6)))]
        for t in readers:
            t.start()
        time.sleep(0.5)
        t = time.perf_counter()
        assert post(conn, '/v3/device/tag/delete_all_device', {'tag_list': ['vip']})['ret_code'] == 0
        print('delete_all_device answered in %.1f ms' % ((time.perf_counter() - t) * 1e3))
        for t in readers:
            t.join()
        print('during: query-one', summary(during['query']))
        print('during: bind-one ', summary(during['bind']))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
