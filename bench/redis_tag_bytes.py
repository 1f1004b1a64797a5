#!/usr/bin/env python3
"""Tags on Redis: bytes of Redis RAM per (tag, token) pair, and delete_all of a big tag.

Starts a Redis and a pushbind on it (ports from PB_TEST_PORT_BASE + 70, 71),
gives N new tokens a first tag and then a second one with op 7 (500 tokens a
request), reading `used_memory` before and after each, then deletes the first
tag with delete_all_device while a second thread queries one token's tags
unpipelined, until the sweeper has freed the deleted tag's pairs, and prints
the figures docs/design.md quotes ("Tags (Redis)").

  PUSHBIND_BIN=build/pushbind python3 bench/redis_tag_bytes.py [N]
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get('PUSHBIND_BIN') or os.path.join(HERE, '..', 'build', 'pushbind')
BASE = int(os.environ.get('PB_TEST_PORT_BASE', '13000'))
REDIS_PORT, HTTP_PORT = BASE + 70, BASE + 71
APP, SECRET = '1500000001', 'abcdefabcdefabcdef'
AUTH = 'Basic ' + base64.b64encode(('%s:%s' % (APP, SECRET)).encode()).decode()


def redis(*args):
    return subprocess.run(['redis-cli', '-p', str(REDIS_PORT)] + list(args), capture_output=True, text=True,
                          check=True).stdout


def used_memory():
    for line in redis('info', 'memory').splitlines():
        if line.startswith('used_memory:'):
            return int(line.split(':')[1])
    raise RuntimeError('no used_memory')


def post(conn, path, body):
    data = json.dumps(body).encode()
    conn.request('POST', path, data, {'Authorization': AUTH, 'Content-Type': 'application/json'})
    answer = json.loads(conn.getresponse().read())
    assert answer['ret_code'] == 0, answer
    return answer


def tag_all(conn, tag, n):
    started = time.time()
    for i in range(0, n, 500):
        tokens = ['tok%018d' % j for j in range(i, min(n, i + 500))]  # 21 bytes
        post(conn, '/v3/device/tag', {'operator_type': 7, 'tag_list': [tag], 'token_list': tokens})
    return n / (time.time() - started)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    tmp = tempfile.mkdtemp(prefix='pushbind-tagbytes-')
    store = 'redis://127.0.0.1:%d' % REDIS_PORT
    server = subprocess.Popen(['redis-server', '--port', str(REDIS_PORT), '--bind', '127.0.0.1', '--save', '',
                               '--appendonly', 'no', '--dir', tmp], stdout=subprocess.DEVNULL)
    serve = None
    try:
        time.sleep(0.5)
        subprocess.run([BIN, 'app', 'add', '--store', store, '--access-id', APP, '--secret-key', SECRET],
                       check=True, capture_output=True)
        serve = subprocess.Popen([BIN, 'serve', '--store', store, '--listen', '127.0.0.1:%d' % HTTP_PORT,
                                  '--log-format', 'off'])
        time.sleep(0.7)
        conn = http.client.HTTPConnection('127.0.0.1', HTTP_PORT)
        m0 = used_memory()
        rate1 = tag_all(conn, 'first', n)
        m1 = used_memory()
        rate2 = tag_all(conn, 'second', n)
        m2 = used_memory()
        print('%d tokens: first pair %.0f bytes, further pair %.0f bytes; %.0f and %.0f pairs/s'
              % (n, (m1 - m0) / n, (m2 - m1) / n, rate1, rate2))
        latencies, stop = [], threading.Event()

        def query():
            c = http.client.HTTPConnection('127.0.0.1', HTTP_PORT)
            while not stop.is_set():
                t = time.time()
                post(c, '/pushbind/v1/tag/query', {'operator_type': 1, 'token_list': ['tok%018d' % 5]})
                latencies.append(time.time() - t)

        thread = threading.Thread(target=query)
        thread.start()
        time.sleep(1)
        gen = redis('hget', 'pushbind:tags:{%s}' % APP, 'first').split('|')[0]
        index = 'pushbind:tx:{%s:first}:%s' % (APP, gen)
        before = sorted(latencies)
        t = time.time()
        post(conn, '/v3/device/tag/delete_all_device', {'tag_list': ['first']})
        took = time.time() - t
        while int(redis('zcard', index)) != 0:
            time.sleep(0.2)
        freed_in = time.time() - t
        stop.set()
        thread.join()
        during = sorted(latencies[len(before):])
        p99 = lambda xs: xs[int(len(xs) * 0.99)] * 1000
        print('delete_all of %d tokens answered in %.1f ms, its pairs freed in %.1f s (%d bytes); query-one '
              'p99 %.2f ms before, %.2f ms while freeing (%d queries)'
              % (n, took * 1000, freed_in, m2 - used_memory(), p99(before), p99(during), len(during)))
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait()
        server.terminate()
        server.wait()


if __name__ == '__main__':
    main()
