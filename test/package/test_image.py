"""The container image (make image) under rootful podman: it serves the
embedded store from a volume on its published port, as a non-root user; an
app added with `podman exec` works at once; a `podman stop` is a SIGTERM that
pushbind, PID 1, answers by exiting 0; after `podman start` every acknowledged
binding is still there. Settings come from PUSHBIND_* variables or a mounted
settings file, and the health check follows them.

Run as root by `make test-image` (after `make image`) with /usr/bin/python3:

    /usr/bin/python3 test/package/test_image.py -v

PUSHBIND_IMAGE names the image (default localhost/pushbind:latest). Host
ports are podman's choice (-p 127.0.0.1::PORT), so runs never clash. Every
container and volume the test makes is named pushbind-test-<pid>-…, and is
removed on the way out, pass or fail.
"""

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'test', 'blackbox'))
import pbtest  # noqa: E402

IMAGE = os.environ.get('PUSHBIND_IMAGE', 'localhost/pushbind:latest')
PREFIX = 'pushbind-test-%d-' % os.getpid()
USER = '10001'
START_TIMEOUT = 20.0


def podman(*args, check=True, timeout=60):
    r = subprocess.run(('podman',) + args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError('podman %s exited %d\nstdout:\n%s\nstderr:\n%s'
                             % (' '.join(args), r.returncode, r.stdout, r.stderr))
    return r


class Container(object):
    """One container of the image, removed (with its anonymous volumes) by close()."""

    def __init__(self, testcase, name, port=8080, args=()):
        self.name = PREFIX + name
        self.port = port
        testcase.addCleanup(self.close)
        podman('run', '--detach', '--name', self.name, '--publish', '127.0.0.1::%d' % port, *args, IMAGE)
        self.wait_until_serving()

    def close(self):
        podman('rm', '--force', '--volumes', self.name, check=False)

    def host_port(self):
        out = podman('port', self.name, '%d/tcp' % self.port).stdout.split()
        return int(out[0].rsplit(':', 1)[1])

    def wait_until_serving(self):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if self.request('GET', '/healthz')[0] == 200:
                    return
            except (OSError, http.client.HTTPException, IndexError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError('%s not serving after %.0f s; logs:\n%s'
                                     % (self.name, START_TIMEOUT, self.logs()))
            time.sleep(0.2)

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection('127.0.0.1', self.host_port(), timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def post(self, path, body, auth):
        data = pbtest.encode_body(body)
        headers = {'Content-Type': 'application/json'}
        headers.update(pbtest.auth_headers(auth, pbtest.APP, data))
        status, raw = self.request('POST', path, data, headers)
        return status, json.loads(raw)

    def exec(self, *argv):
        return podman('exec', self.name, *argv).stdout

    def logs(self):
        r = podman('logs', self.name, check=False)
        return r.stdout + r.stderr

    def command_line(self):
        """PID 1's argv: what the entry point made of the environment."""
        return self.exec('cat', '/proc/1/cmdline').rstrip('\0').split('\0')

    def healthy(self):
        return podman('healthcheck', 'run', self.name, check=False).returncode == 0


class ContainerImageTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest('rootful podman: run as root (make test-image)')
        if shutil.which('podman') is None or podman('image', 'exists', IMAGE, check=False).returncode != 0:
            self.skipTest('no podman or no %s: make image' % IMAGE)

    def test_serves_a_volume_as_a_user_across_stop_and_start(self):
        volume = PREFIX + 'data'
        podman('volume', 'create', volume)
        self.addCleanup(podman, 'volume', 'rm', '--force', volume, check=False)
        # With the hardening docs/operations.md recommends: nothing but /data is written.
        box = Container(self, 'serve', args=('--volume', volume + ':/data', '--read-only', '--cap-drop=all',
                                             '--security-opt=no-new-privileges', '--stop-timeout=15'))
        self.assertEqual(box.command_line(), ['pushbind', 'serve', '--data=/data', '--listen=0.0.0.0:8080'])

        box.exec('pushbind', 'app', 'add', '--data', '/data',
                 '--access-id', pbtest.APP[0], '--secret-key', pbtest.APP[1])
        # The volume came up owned by the image's user, and what the server and
        # `podman exec` wrote there is that user's alone.
        self.assertEqual(box.exec('id', '-u').strip(), USER)
        owners = box.exec('stat', '-c', '%n %u %a', '/data', '/data/data.mdb', '/data/lock.mdb').splitlines()
        self.assertEqual(owners, ['/data %s 700' % USER, '/data/data.mdb %s 600' % USER,
                                  '/data/lock.mdb %s 600' % USER])

        bind = {'operator_type': 1, 'token_accounts': [
            {'token': 'token-image-1', 'account_list': [{'account': 'alice'}]}]}
        self.assertEqual(box.post(pbtest.BATCH, bind, 'sign'),
                         (200, {'ret_code': 0, 'err_msg': 'ok', 'result': ['0']}))
        query = {'operator_type': 1, 'account_list': [{'account': 'alice'}]}
        self.assertEqual(self.tokens(box, query), ['token-image-1'])
        self.assertTrue(box.healthy())

        podman('stop', box.name, timeout=30)
        state = podman('inspect', '--format', '{{.State.ExitCode}} {{.State.OOMKilled}}', box.name).stdout
        self.assertEqual(state.split(), ['0', 'false'])
        logs = box.logs()
        self.assertIn('endpoint=batchoperate op=1 items=1 code=0 status=200', logs)
        self.assertIn('pushbind: SIGTERM received, finishing open requests', logs)
        self.assertIn('pushbind: stopped', logs)

        podman('start', box.name)
        box.wait_until_serving()
        self.assertEqual(self.tokens(box, query), ['token-image-1'])

    def test_settings_from_the_environment(self):
        box = Container(self, 'env', port=9090, args=(
            '--env', 'PUSHBIND_LISTEN=0.0.0.0:9090', '--env', 'PUSHBIND_LOG_FORMAT=json',
            '--env', 'PUSHBIND_ONE_ACCOUNT_PER_TYPE=true', '--env', 'PUSHBIND_CONSOLE=off',
            '--env', 'PUSHBIND_SERVICE_HOST=10.0.0.1'))
        self.assertEqual(sorted(box.command_line()[2:]), [
            '--console=off', '--data=/data', '--listen=0.0.0.0:9090', '--log-format=json',
            '--one-account-per-type'])
        self.assertIn('PUSHBIND_SERVICE_HOST is no setting of pushbind serve: ignored', box.logs())
        self.assertEqual(box.request('GET', '/console/')[0], 404)
        self.assertTrue(box.healthy(), 'the health check follows PUSHBIND_LISTEN')
        access_log = [line for line in box.logs().splitlines() if line.startswith('{')]
        self.assertEqual({json.loads(line)['endpoint'] for line in access_log}, {'healthz', 'console'})

    def test_a_mounted_settings_file(self):
        config_dir = tempfile.mkdtemp(prefix='pushbind-image-')
        self.addCleanup(shutil.rmtree, config_dir)
        with open(os.path.join(config_dir, 'pushbind.conf'), 'w') as f:
            f.write('listen = 0.0.0.0:8081\ndata = /data\nmax-query-items = 2\n')
        os.chmod(config_dir, 0o755)
        box = Container(self, 'config', port=8081, args=(
            '--volume', config_dir + ':/etc/pushbind:ro',
            '--env', 'PUSHBIND_CONFIG=/etc/pushbind/pushbind.conf'))
        self.assertEqual(box.command_line(), ['pushbind', 'serve', '--config=/etc/pushbind/pushbind.conf'])
        self.assertTrue(box.healthy(), "the health check follows the file's listen")
        box.exec('pushbind', 'app', 'add', '--data', '/data',
                 '--access-id', pbtest.APP[0], '--secret-key', pbtest.APP[1])
        three = {'operator_type': 1, 'account_list': [{'account': a} for a in ('a', 'b', 'c')]}
        status, answer = box.post(pbtest.QUERY, three, 'basic')
        self.assertEqual((status, answer), (200, pbtest.query_error(pbtest.E_PARAM)))

    def tokens(self, box, query):
        status, answer = box.post(pbtest.QUERY, query, 'basic')
        self.assertEqual((status, answer['ret_code']), (200, 0), answer)
        return answer['account_tokens'][0]['token_list']


if __name__ == '__main__':
    unittest.main()
