"""Black-box harness for pushbind: start the real binary, speak HTTP to it.

Standard library, plus openapi_check (PyYAML, jsonschema), which checks
every answer Server.request reads against docs/openapi.yaml. A test gets a
server with

    srv = pbtest.Server.for_test(self, apps=[APP], args=['--max-batch-items', '3'])

(or Server.for_class(cls, ...) in setUpClass); the server, its temp data dir
and its HTTP connection are cleaned up by addCleanup / addClassCleanup even
when the test fails.

PUSHBIND_BIN names the binary; the default is ../../build/pushbind relative
to this file.

PUSHBIND_STORE picks the store every server and command line uses: unset for
the embedded store (--data DIR), a Redis URL without namespace
(redis://HOST:PORT, redis-cluster://HOST:PORT,…) or a PostgreSQL URL without
pushbind_schema (postgresql://USER@HOST:PORT/DB). With Redis, each temp data
dir stands for its own namespace (--store URL/NAME), so tests stay as isolated
as with separate directories and read unchanged: run_cli() and Server turn
'--data DIR' into '--store URL/NAME'; with PostgreSQL, into its own schema
(--store URL?pushbind_schema=NAME).
"""

import base64
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import openapi_check

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.abspath(os.environ.get('PUSHBIND_BIN') or os.path.join(HERE, '..', '..', 'build', 'pushbind'))

STORE_URL = os.environ.get('PUSHBIND_STORE') or None
# 'lmdb', 'redis', 'cluster' or 'postgres': which store the suite runs against.
STORE_KIND = ('lmdb' if STORE_URL is None else 'cluster' if STORE_URL.startswith('redis-cluster://')
              else 'postgres' if STORE_URL.startswith(('postgresql://', 'postgres://')) else 'redis')


def store_args(data_dir):
    """The flags naming the store behind `data_dir` (see PUSHBIND_STORE)."""
    if STORE_URL is None:
        return ['--data', data_dir]
    if STORE_KIND == 'postgres':
        return ['--store', '%s%spushbind_schema=%s' % (STORE_URL, '&' if '?' in STORE_URL else '?',
                                                      os.path.basename(os.path.normpath(data_dir)))]
    base, _, query = STORE_URL.partition('?')  # a Redis URL's ?wait=N goes after the namespace
    return ['--store', '%s/%s%s' % (base, os.path.basename(os.path.normpath(data_dir)), '?' + query if query else '')]


def lmdb_only(reason):
    """Skips a test about the embedded store itself when the suite runs on Redis or PostgreSQL."""
    return unittest.skipIf(STORE_KIND != 'lmdb', 'embedded store only: ' + reason)


QUERY = '/v3/device/account/query'
BATCH = '/v3/device/account/batchoperate'

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0

# The codes and the expected answers (pbanswers.py), re-exported for the tests.
from pbanswers import (OK, E_PARSE, E_MISSING, E_AUTH, E_STORE, E_TOKEN, E_PARAM, E_PARTIAL, E_TOTAL,  # noqa: F401
                       E_NO_BINDING, MESSAGES, acc, acc_list, query_error, batch_error, batch_answer, top_code,
                       query_answer)

# Apps used across the suite: (AccessId, SecretKey).
APP = ('1500001048', '1452fcebae9f3115ba794fb0fff2fd73')
APP2 = ('1500001049', '9f0e1d2c3b4a59687766554433221100')
APP3 = ('1500001050', 'c0ffee00c0ffee00c0ffee00c0ffee00')

LISTEN_RE = re.compile(r'^pushbind: listening on https?://127\.0\.0\.1:(\d+)')
# serve --admin-listen prints this line before LISTEN_RE's.
ADMIN_LISTEN_RE = re.compile(r'^pushbind: admin listening on https?://127\.0\.0\.1:(\d+)')

_counter = itertools.count(1)


def uniq(prefix='x'):
    """A name no other call in this process returns: printable ASCII, no spaces."""
    return '%s-%d-%d' % (prefix, os.getpid(), next(_counter))


def uniq_digits(width=11):
    """A decimal string of `width` digits no other call in this process returns."""
    return ('%0*d' % (width, (os.getpid() * 100000 + next(_counter))))[-width:]


# ---- Signing ---------------------------------------------------------------

def sign_message(secret, message):
    """docs/API.md: base64(hex_lowercase(HMAC-SHA256(key=secret, message)))."""
    if isinstance(secret, str):
        secret = secret.encode('utf-8')
    if isinstance(message, str):
        message = message.encode('utf-8')
    digest = hmac.new(secret, message, hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode('ascii')).decode('ascii')


def sign(secret, access_id, timestamp, body, reversed_order=False):
    """The Sign header for `body` (bytes): TimeStamp + AccessId + body, or
    AccessId + TimeStamp + body when reversed_order."""
    ts = str(timestamp).encode('ascii')
    aid = str(access_id).encode('ascii')
    message = (aid + ts if reversed_order else ts + aid) + body
    return sign_message(secret, message)


def basic_header(access_id, secret):
    raw = ('%s:%s' % (access_id, secret)).encode('utf-8')
    return 'Basic ' + base64.b64encode(raw).decode('ascii')


def encode_body(body):
    if body is None:
        return b''
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode('utf-8')
    return json.dumps(body, ensure_ascii=False).encode('utf-8')


def auth_headers(auth, app, body, timestamp=None):
    """Headers for auth in (None, 'basic', 'sign', 'sign-reversed')."""
    if auth is None:
        return {}
    access_id, secret = app
    if auth == 'basic':
        return {'Authorization': basic_header(access_id, secret)}
    if auth in ('sign', 'sign-reversed'):
        ts = int(time.time()) if timestamp is None else timestamp
        return {
            'AccessId': str(access_id),
            'TimeStamp': str(ts),
            'Sign': sign(secret, access_id, ts, body, reversed_order=(auth == 'sign-reversed')),
        }
    raise ValueError('unknown auth %r' % (auth,))


def wait_for_second_start(max_fraction=0.5):
    """Sleep until the wall clock is early in a second, so that a request sent
    now reaches the server within the same Unix second (for exact timestamp
    window boundaries)."""
    while True:
        frac = time.time() % 1.0
        if frac < max_fraction and frac > 0.02:
            return
        time.sleep((1.0 - frac) + 0.03 if frac >= max_fraction else 0.03)


# ---- Command line ----------------------------------------------------------

class Result(object):
    def __init__(self, argv, returncode, stdout, stderr):
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self):
        return 'Result(argv=%r, returncode=%r, stdout=%r, stderr=%r)' % (
            self.argv, self.returncode, self.stdout, self.stderr)


def run_cli(*args, timeout=10):
    """Runs `pushbind ARGS...`; returns Result with decoded stdout/stderr."""
    argv = [BIN]
    args = [str(a) for a in args]
    i = 0
    while i < len(args):
        if args[i] == '--data' and i + 1 < len(args):
            argv += store_args(args[i + 1])
            i += 2
        else:
            argv.append(args[i])
            i += 1
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout)
    return Result(argv, proc.returncode,
                  proc.stdout.decode('utf-8', 'replace'), proc.stderr.decode('utf-8', 'replace'))


def app_add(data_dir, access_id, secret=None, store_url=None):
    """`pushbind app add` on the store behind data_dir, or on store_url when given."""
    where = ['--store', store_url] if store_url else ['--data', data_dir]
    args = ['app', 'add'] + where + ['--access-id', access_id]
    if secret is not None:
        args += ['--secret-key', secret]
    r = run_cli(*args)
    if r.returncode != 0:
        raise AssertionError('app add failed: %r' % (r,))
    return r


def new_temp_dir(register_cleanup):
    d = tempfile.mkdtemp(prefix='pushbind-bb-')
    register_cleanup(shutil.rmtree, d, True)
    return d


def _wait_for_backends_gone(schema, timeout=STOP_TIMEOUT):
    """Waits until no PostgreSQL backend has a statement of `schema` as its last (each
    pushbind connection's statements name the schema: these are a killed server's)."""
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
           "AND position('\"%s\".' in query) > 0" % schema)
    deadline = time.time() + timeout
    while True:
        r = subprocess.run(['psql', STORE_URL.split('?')[0], '-Atc', sql], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
        if r.returncode == 0 and r.stdout.strip() == b'0':
            return
        if time.time() > deadline:
            raise AssertionError('the killed server\'s PostgreSQL backends are still there: %r' % (r,))
        time.sleep(0.02)


# ---- Server ----------------------------------------------------------------

class Server(object):
    """One `pushbind serve` process on 127.0.0.1 with a port it picked."""

    def __init__(self, apps=(APP,), args=(), data_dir=None, store_url=None, embedded=False):
        """store_url: serve this Redis URL instead of the suite's store (tests of Redis itself).
        embedded: serve data_dir's LMDB store whatever the suite's store (a store filled by import);
        apps must then be empty (add them with the embedded store's own tools)."""
        self.store_url = store_url
        self.embedded = embedded
        self.apps = [tuple(a) for a in apps]
        self.default_app = self.apps[0] if self.apps else None
        self.args = [str(a) for a in args]
        self._own_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix='pushbind-bb-')
        self.proc = None
        self.port = None
        self.admin_port = None  # with --admin-listen: the operator's listener
        self.conn = None
        self._stderr_lines = []
        self._stderr_lock = threading.Lock()
        self._reader = None
        self._stdout_file = None
        try:
            for access_id, secret in self.apps:
                app_add(self.data_dir, access_id, secret, store_url=self.store_url)
            self.start()
        except BaseException:
            self.close()
            raise

    # -- construction with cleanup --

    @classmethod
    def for_test(cls, testcase, **kw):
        srv = cls(**kw)
        testcase.addCleanup(srv.close)
        return srv

    @classmethod
    def for_class(cls, testcase_class, **kw):
        srv = cls(**kw)
        testcase_class.addClassCleanup(srv.close)
        return srv

    # -- process control --

    @property
    def stderr_text(self):
        with self._stderr_lock:
            return ''.join(self._stderr_lines)

    def _read_stderr(self, stream, found, holder):
        for raw in iter(stream.readline, b''):
            line = raw.decode('utf-8', 'replace')
            with self._stderr_lock:
                self._stderr_lines.append(line)
            m = ADMIN_LISTEN_RE.search(line)
            if m and holder.get('port') is None:
                holder['admin_port'] = int(m.group(1))
            if holder.get('port') is None:
                m = LISTEN_RE.search(line)
                if m:
                    holder['port'] = int(m.group(1))
                    found.set()
        stream.close()
        found.set()

    def start(self, args=None):
        """Starts the server on the data dir; waits for its listening line."""
        if args is not None:
            self.args = [str(a) for a in args]
        if self.proc is not None and self.proc.poll() is None:
            raise AssertionError('server already running')
        with self._stderr_lock:
            self._stderr_lines.append('---- start %s\n' % ' '.join(self.args))
        where = (['--store', self.store_url] if self.store_url else
                 ['--data', self.data_dir] if self.embedded else store_args(self.data_dir))
        argv = [BIN, 'serve'] + where + ['--listen', '127.0.0.1:0'] + self.args
        self._close_conn()
        if self._stdout_file is not None:
            self._stdout_file.close()
        self._stdout_file = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._stdout_file,
                                     stderr=subprocess.PIPE)
        found = threading.Event()
        holder = {'port': None, 'admin_port': None}
        self._reader = threading.Thread(target=self._read_stderr, args=(self.proc.stderr, found, holder),
                                        daemon=True)
        self._reader.start()
        found.wait(START_TIMEOUT)
        if holder['port'] is None:
            exited = self.proc.poll()
            self._terminate_hard()
            raise AssertionError('pushbind serve did not report "listening on http://127.0.0.1:PORT" '
                                 'within %.0f s (exit status %r); argv=%r; stderr:\n%s'
                                 % (START_TIMEOUT, exited, argv, self.stderr_text))
        self.port = holder['port']
        self.admin_port = holder['admin_port']
        self.conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        return self

    def _close_conn(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _terminate_hard(self):
        self._close_conn()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
            if self._reader is not None:
                self._reader.join(2)
        if self._stdout_file is not None:
            self._stdout_file.close()
            self._stdout_file = None

    def send_signal(self, signum, timeout=STOP_TIMEOUT):
        """Sends signum and waits for the exit; returns the exit status
        (AssertionError when the process does not exit in time)."""
        self.proc.send_signal(signum)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._terminate_hard()
            raise AssertionError('pushbind did not exit within %.0f s of signal %d; stderr:\n%s'
                                 % (timeout, signum, self.stderr_text))
        self._reader.join(2)
        return rc

    def stop(self, signum=signal.SIGTERM, close_connection=True):
        """SIGTERM (or signum); asserts exit status 0 within 10 s."""
        if close_connection:
            self._close_conn()
        rc = self.send_signal(signum)
        self._close_conn()
        if rc != 0:
            raise AssertionError('pushbind exited with status %r after signal %d (want 0); stderr:\n%s'
                                 % (rc, signum, self.stderr_text))

    def halt(self):
        """SIGTERM and wait for the exit, without judging the exit status: for
        tests about something else than shutdown (test_durability judges it)."""
        self._close_conn()
        return self.send_signal(signal.SIGTERM)

    def kill(self):
        """SIGKILL: no chance to clean up. On PostgreSQL, returns once the killed process's
        statements have finished: a write in flight at the kill still commits (or not) in the
        server on its own, and a test reads what is there after it."""
        self._close_conn()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(STOP_TIMEOUT)
        self._reader.join(2)
        if STORE_KIND == 'postgres' and not self.store_url and not self.embedded:
            _wait_for_backends_gone(os.path.basename(os.path.normpath(self.data_dir)))

    def restart(self, args=None):
        """Stops the server if running (SIGTERM, exit 0) and starts it again on the same data dir."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        return self.start(args)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        """Cleanup: kill the process if still running, remove the data dir."""
        self._terminate_hard()
        if self._own_dir and self.data_dir and os.path.isdir(self.data_dir):
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- HTTP --

    def new_connection(self, timeout=10):
        return http.client.HTTPConnection('127.0.0.1', self.port, timeout=timeout)

    def admin_request(self, method, path, body=None, headers=None):
        """One request on its own connection to the operator's listener
        (--admin-listen), checked like request(). Returns (status, headers, raw body)."""
        conn = http.client.HTTPConnection('127.0.0.1', self.admin_port, timeout=10)
        try:
            conn.request(method, path, body=encode_body(body) if body is not None else None,
                         headers=dict(headers or {}))
            resp = conn.getresponse()
            raw = resp.read()
            openapi_check.check(method, path, resp.status, resp.getheader('Content-Type'), raw)
            return resp.status, resp.headers, raw
        finally:
            conn.close()

    def request(self, method, path, body=None, headers=None):
        """Any request on the keep-alive connection. Returns (status, headers, raw body).
        A stale keep-alive connection (closed by the server while idle) is
        reopened once."""
        data = encode_body(body) if body is not None else None
        hdrs = dict(headers or {})
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = self.new_connection()
            reused = self.conn.sock is not None
            try:
                self.conn.request(method, path, body=data, headers=hdrs)
                resp = self.conn.getresponse()
                raw = resp.read()
                openapi_check.check(method, path, resp.status, resp.getheader('Content-Type'), raw)
                return resp.status, resp.headers, raw
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest, http.client.ResponseNotReady):
                self._close_conn()
                if attempt == 1 or not reused:
                    raise

    def post(self, path, body, auth='basic', app=None, headers=None, content_type='application/json',
             timestamp=None):
        """POST body (bytes, str, or an object to JSON-encode) to path.

        auth: 'basic' | 'sign' | 'sign-reversed' | None; app: (AccessId, SecretKey),
        default the first app. content_type None sends no Content-Type.
        Returns (status, parsed JSON) or (status, raw bytes) when the answer is
        not JSON."""
        data = encode_body(body)
        app = app or self.default_app
        hdrs = {}
        if content_type is not None:
            hdrs['Content-Type'] = content_type
        hdrs.update(auth_headers(auth, app, data, timestamp))
        hdrs.update(headers or {})
        status, _, raw = self.request('POST', path, data, hdrs)
        return status, parse_json(raw)

    def query(self, body, **kw):
        return self.post(QUERY, body, **kw)

    def batch(self, body, **kw):
        return self.post(BATCH, body, **kw)

    # -- convenience for tests --

    def ok_batch(self, body, **kw):
        """A batchoperate that must fully succeed: HTTP 200, ret_code 0, every item "0"."""
        status, resp = self.batch(body, **kw)
        n = _batch_item_count(body)
        want = {'ret_code': 0, 'err_msg': 'ok', 'result': ['0'] * n}
        if status != 200 or resp != want:
            raise AssertionError('batchoperate %r\n  answered %r %r\n  want 200 %r'
                                 % (body, status, resp, want))
        return resp

    def bind(self, token, *accounts, op=1, **kw):
        """op 1 (or op) one token with accounts given as names or (name, type)."""
        return self.ok_batch({'operator_type': op,
                              'token_accounts': [{'token': token, 'account_list': acc_list(*accounts)}]}, **kw)

    def accounts_of(self, token, **kw):
        """The account_list the server answers for one token (query op 2)."""
        status, resp = self.query({'operator_type': 2, 'token_list': [token]}, **kw)
        if status != 200 or not isinstance(resp, dict) or resp.get('retCode') not in (0, E_TOTAL):
            raise AssertionError('query by token %r answered %r %r' % (token, status, resp))
        entry = resp['token_accounts'][0]
        return entry['account_list']

    def tokens_of(self, account, account_type=0, **kw):
        """The token_list the server answers for one account (query op 1)."""
        acc = {'account': account}
        if account_type:
            acc['account_type'] = account_type
        status, resp = self.query({'operator_type': 1, 'account_list': [acc]}, **kw)
        if status != 200 or not isinstance(resp, dict) or resp.get('retCode') not in (0, E_TOTAL):
            raise AssertionError('query by account %r answered %r %r' % (acc, status, resp))
        return resp['account_tokens'][0]['token_list']


def _batch_item_count(body):
    op = body.get('operator_type')
    if op in (1, 2, 3):
        return len(body['token_accounts'])
    if op == 4:
        return len(body['token_list'])
    return len(body['account_list'])


def parse_json(raw):
    try:
        return json.loads(raw.decode('utf-8'))
    except (ValueError, UnicodeDecodeError):
        return raw


def raw_exchange(port, head, body=b'', read_timeout=10.0):
    """Sends `head` then `body` on a fresh socket, stopping early (without error)
    when the server answers or closes before the body is all sent; returns every
    byte the server sent until it closed the connection or went quiet."""
    s = socket.create_connection(('127.0.0.1', port), timeout=read_timeout)
    received = b''
    try:
        s.sendall(head)
        view = memoryview(body)
        sent = 0
        while sent < len(view):
            r, w, _ = select.select([s], [s], [], read_timeout)
            if r:
                break
            if not w:
                break
            try:
                sent += s.send(view[sent:sent + 65536])
            except (BrokenPipeError, ConnectionResetError):
                break
        deadline = time.time() + read_timeout
        while time.time() < deadline:
            r, _, _ = select.select([s], [], [], min(1.0, max(0.0, deadline - time.time())))
            if not r:
                if parse_raw_response(received) is not None:
                    break
                continue
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
            if parse_raw_response(received) is not None:
                break
    finally:
        s.close()
    return received


def parse_raw_response(data):
    """(status, headers dict lowercased, body) for a complete HTTP/1.1 response
    with Content-Length, else None."""
    end = data.find(b'\r\n\r\n')
    if end < 0:
        return None
    head = data[:end].decode('latin-1').split('\r\n')
    m = re.match(r'HTTP/1\.[01] (\d{3})', head[0])
    if not m:
        return None
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(':')
        headers[k.strip().lower()] = v.strip()
    body = data[end + 4:]
    if 'content-length' in headers:
        n = int(headers['content-length'])
        if len(body) < n:
            return None
        body = body[:n]
    return int(m.group(1)), headers, body


class ServerTestCase(unittest.TestCase):
    """A TestCase with one shared server per class (setUpClass), made from
    APPS / ARGS class attributes."""

    APPS = (APP,)
    ARGS = ()
    srv = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv = Server.for_class(cls, apps=cls.APPS, args=cls.ARGS)

    def assertQuery(self, body, want, **kw):
        """Posts body to /query and checks the whole answer."""
        status, resp = self.srv.query(body, **kw)
        self.assertEqual((status, resp), (200, want), 'query %r' % (body,))
        return resp

    def assertBatch(self, body, want, **kw):
        """Posts body to /batchoperate and checks the whole answer."""
        status, resp = self.srv.batch(body, **kw)
        self.assertEqual((status, resp), (200, want), 'batchoperate %r' % (body,))
        return resp
