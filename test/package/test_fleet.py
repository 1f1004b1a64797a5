"""The fleet (make fleet, scripts/fleet.sh) under rootful podman: two pushbind
replicas on PostgreSQL with a synchronous standby, HAProxy in front on one
published port. A binding made through one replica is read through the other;
the balancer spreads queries over both; after `podman kill` of one replica
every query through the published port is still answered, and the replica
started again serves; `fleet.sh down`
leaves no pod, container or volume behind.

Run as root by `make test-fleet` (after `make image`) with /usr/bin/python3:

    /usr/bin/python3 test/package/test_fleet.py -v

The fleet is named pushbind-test-<pid>-fleet and published on a port the
kernel picked free, so it never meets a fleet of `make fleet`; it is removed
on the way out, pass or fail.
"""

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'test', 'blackbox'))
import pbtest  # noqa: E402
from test_image import podman  # noqa: E402

NAME = 'pushbind-test-%d-fleet' % os.getpid()
FLEET = os.path.join(ROOT, 'scripts', 'fleet.sh')
REPLICA_PORTS = {'replica-1': 8081, 'replica-2': 8082}
QUERIES_AFTER_KILL = 200
HEALTH_CHECK_TIMEOUT = 30.0
ACCESS_LOG_FLUSH = 0.5  # a replica writes its access log every 100 ms (PB_LOG_FLUSH_MS)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def fleet(command, port):
    env = dict(os.environ, FLEET_NAME=NAME, FLEET_PORT=str(port),
               ACCESS_ID=pbtest.APP[0], SECRET_KEY=pbtest.APP[1])
    return subprocess.run([FLEET, command], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=env, timeout=300)


def post(host, port, path, body, auth='basic'):
    data = pbtest.encode_body(body)
    headers = {'Content-Type': 'application/json'}
    headers.update(pbtest.auth_headers(auth, pbtest.APP, data))
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request('POST', path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            raise AssertionError('%s:%d%s answered %d %r' % (host, port, path, resp.status, raw)) from None
    finally:
        conn.close()


def query_count(container):
    """How many queries the replica's access log shows (all its runs), as
    flushed so far."""
    r = podman('logs', container)
    return (r.stdout + r.stderr).count('endpoint=query ')


class FleetTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest('rootful podman: run as root (make test-fleet)')
        if shutil.which('podman') is None or \
                podman('image', 'exists', 'localhost/pushbind:latest', check=False).returncode != 0:
            self.skipTest('no podman or no localhost/pushbind:latest: make image')

    def test_two_replicas_one_port_and_a_kill(self):
        port = free_port()
        self.addCleanup(fleet, 'down', port)
        up = fleet('up', port)
        self.assertEqual(up.returncode, 0, 'fleet.sh up:\n%s%s' % (up.stdout, up.stderr))

        # What it prints works as printed: the curl through the published port.
        curls = re.findall(r"^  (curl .*)$", up.stdout, re.M)
        self.assertEqual(len(curls), 2, up.stdout)
        bound = subprocess.run(curls[0], shell=True, capture_output=True, text=True, timeout=10)
        self.assertEqual(json.loads(bound.stdout), {'ret_code': 0, 'err_msg': 'ok', 'result': ['0']})
        read = subprocess.run(curls[1], shell=True, capture_output=True, text=True, timeout=10)
        self.assertEqual(json.loads(read.stdout)['account_tokens'],
                         [{'account': 'alice', 'token_list': ['token-1']}])

        # Each replica directly, at the pod's address: bind through one, read through the other.
        address = re.search(r'http://([0-9.]+):8081/ +replica-1', up.stdout).group(1)
        account = pbtest.uniq('fleet-')
        bind = {'operator_type': 1, 'token_accounts': [
            {'token': 'token-fleet-1', 'account_list': [{'account': account}]}]}
        self.assertEqual(post(address, REPLICA_PORTS['replica-1'], pbtest.BATCH, bind, 'sign'),
                         (200, {'ret_code': 0, 'err_msg': 'ok', 'result': ['0']}))
        query = {'operator_type': 1, 'account_list': [{'account': account}]}
        self.assertEqual(self.tokens(address, REPLICA_PORTS['replica-2'], query), ['token-fleet-1'])

        # The published port spreads queries over both replicas.
        before = {r: query_count('%s-%s' % (NAME, r)) for r in REPLICA_PORTS}
        for _ in range(10):
            self.assertEqual(self.tokens('127.0.0.1', port, query), ['token-fleet-1'])
        time.sleep(ACCESS_LOG_FLUSH)
        after = {r: query_count('%s-%s' % (NAME, r)) for r in REPLICA_PORTS}
        for r in REPLICA_PORTS:
            self.assertGreaterEqual(after[r] - before[r], 3, 'round robin: %s %s' % (before, after))

        # Kill one replica: every query through the published port is answered,
        # first by the balancer sending refused connections to the other
        # replica, then once its health check took the dead one out. Podman
        # leaves a container it killed stopped (restartPolicy: Always restarts
        # only what exits on its own).
        killed = '%s-replica-1' % NAME
        podman('kill', killed)
        self.assertEqual(podman('inspect', '--format', '{{.State.Running}}', killed).stdout.strip(), 'false')
        for _ in range(QUERIES_AFTER_KILL):
            self.assertEqual(self.tokens('127.0.0.1', port, query), ['token-fleet-1'])
        deadline = time.monotonic() + HEALTH_CHECK_TIMEOUT
        while 'replicas/replica-1 is DOWN' not in self.balancer_log():
            self.assertLess(time.monotonic(), deadline, 'the balancer kept replica-1:\n' + self.balancer_log())
            time.sleep(0.2)
        for _ in range(QUERIES_AFTER_KILL):
            self.assertEqual(self.tokens('127.0.0.1', port, query), ['token-fleet-1'])
        self.assertEqual(podman('inspect', '--format', '{{.State.Running}}', killed).stdout.strip(), 'false')
        bind['token_accounts'][0]['token'] = 'token-fleet-2'
        self.assertEqual(post('127.0.0.1', port, pbtest.BATCH, bind)[1]['result'], ['0'])

        # Started again, it reads what was written while it was away.
        podman('start', killed)
        deadline = time.monotonic() + HEALTH_CHECK_TIMEOUT
        while True:
            try:
                self.assertEqual(sorted(self.tokens(address, REPLICA_PORTS['replica-1'], query)),
                                 ['token-fleet-1', 'token-fleet-2'])
                break
            except (OSError, http.client.HTTPException):
                self.assertLess(time.monotonic(), deadline, '%s not serving again' % killed)
                time.sleep(0.2)

        down = fleet('down', port)
        self.assertEqual(down.returncode, 0, down.stderr)
        self.assertNotEqual(podman('pod', 'exists', NAME, check=False).returncode, 0)
        self.assertEqual(podman('ps', '--all', '--quiet', '--filter', 'name=' + NAME).stdout, '')
        self.assertEqual(podman('volume', 'ls', '--quiet', '--filter', 'name=' + NAME).stdout, '')

    def balancer_log(self):
        r = podman('logs', '%s-balancer' % NAME)
        return r.stdout + r.stderr

    def tokens(self, host, port, query):
        status, answer = post(host, port, pbtest.QUERY, query)
        self.assertEqual((status, answer['ret_code']), (200, 0), answer)
        return answer['account_tokens'][0]['token_list']


if __name__ == '__main__':
    unittest.main()
