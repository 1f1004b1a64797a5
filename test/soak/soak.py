"""What the failover soaks share: client threads that bind new pairs and record every
answer, the read-back of every pair answered "0", and servers stopped by the cleanups even
when the run is interrupted."""

import itertools
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'blackbox'))
import pbtest  # noqa: E402
from pbtest import APP, BATCH, E_STORE, acc  # noqa: E402

OK_ANSWER = {'ret_code': 0, 'err_msg': 'ok', 'result': ['0']}
STORE_FAILURES = (pbtest.batch_error(E_STORE), pbtest.batch_answer(E_STORE))


class Interrupted(Exception):
    """SIGTERM or SIGINT: raised in the test so that its cleanups stop every server."""


def _interrupt(signum, frame):
    raise Interrupted('signal %d' % signum)


def catch_interrupts(test):
    """SIGTERM and SIGINT raise Interrupted in `test` until its cleanups restore them."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        test.addCleanup(signal.signal, signum, signal.signal(signum, _interrupt))


class Clients(object):
    """`threads` client threads, thread k on servers[k % len(servers)], each sending what
    self.request(k, i) makes, on a keep-alive connection, until stopped. events: (sent,
    answered, ok, what) with what 'ok', 'store' (1008004) or 'other'; unexpected: answers
    that are neither "ok" nor 1008004."""

    def __init__(self, servers, threads):
        self.servers = servers
        self.events = []
        self.unexpected = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(threads)]
        for t in self._threads:
            t.start()

    def request(self, k, i):
        """(path, body object, judge(status, answer) -> 'ok' | 'store' | 'other') of thread k's i-th."""
        raise NotImplementedError

    def answered_ok(self, k, i):
        """Called when thread k's i-th request was answered 'ok'."""

    def _run(self, k):
        srv = self.servers[k % len(self.servers)]
        conn = srv.new_connection(timeout=30)
        for i in itertools.count(1):
            if self._stop.is_set():
                break
            path, body, judge = self.request(k, i)
            body = json.dumps(body).encode('utf-8')
            headers = {'Content-Type': 'application/json'}
            headers.update(pbtest.auth_headers('basic', APP, body))
            sent = time.monotonic()
            try:
                conn.request('POST', path, body=body, headers=headers)
                resp = conn.getresponse()
                status, answer = resp.status, pbtest.parse_json(resp.read())
            except Exception as e:  # no answer at all: recorded, and the client reconnects
                self.events.append((sent, time.monotonic(), False, 'other'))
                self.unexpected.append(('exception', path, repr(e)))
                conn.close()
                conn = srv.new_connection(timeout=30)
                continue
            what = judge(status, answer)
            self.events.append((sent, time.monotonic(), what == 'ok', what))
            if what == 'ok':
                self.answered_ok(k, i)
            elif what != 'store':
                self.unexpected.append(('answer', path, body, status, answer))
        conn.close()

    def successes(self):
        return len([e for e in self.events if e[2]])

    def wait_for_successes(self, n, timeout=30):
        start = self.successes()
        deadline = time.time() + timeout
        while self.successes() < start + n:
            if time.time() > deadline:
                raise AssertionError('fewer than %d requests answered ok in %.0f s; unexpected: %r'
                                     % (n, timeout, self.unexpected[-5:]))
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(60)


class Writers(Clients):
    """`threads` threads, each binding a new token to a new account (op 1, one item a request),
    both named from `prefix`; acknowledged: the pairs answered "0"."""

    def __init__(self, servers, threads, prefix):
        self.acknowledged = []
        self.prefix = prefix
        super().__init__(servers, threads)

    def pair(self, k, i):
        return '%s-%d-%d' % (self.prefix, k, i), '%s-acct-%d-%d' % (self.prefix, k, i)

    def request(self, k, i):
        token, account = self.pair(k, i)
        body = {'operator_type': 1, 'token_accounts': [{'token': token, 'account_list': [acc(account)]}]}
        return BATCH, body, lambda status, answer: ('ok' if (status, answer) == (200, OK_ANSWER) else
                                                    'store' if status == 200 and answer in STORE_FAILURES else
                                                    'other')

    def answered_ok(self, k, i):
        self.acknowledged.append(self.pair(k, i))


def assert_all_bound(test, srv, acknowledged):
    """Every pair answered "0" is read back by token and by account (each pair has its own
    account, so nothing else is bound to it but a failed write of its own token)."""
    test.assertGreater(len(acknowledged), 0)
    for k in range(0, len(acknowledged), 100):
        chunk = acknowledged[k:k + 100]
        status, resp = srv.query({'operator_type': 2, 'token_list': [t for t, _ in chunk]})
        test.assertEqual(status, 200, resp)
        got = {e['token']: e['account_list'] for e in resp['token_accounts']}
        lost = [(t, a) for t, a in chunk if got.get(t) != [acc(a)]]
        test.assertEqual(lost, [], 'acknowledged binds not found by token')
        status, resp = srv.query({'operator_type': 1, 'account_list': [acc(a) for _, a in chunk]})
        test.assertEqual(status, 200, resp)
        got = {e['account']: e['token_list'] for e in resp['account_tokens']}
        lost = [(t, a) for t, a in chunk if got.get(a) != [t]]
        test.assertEqual(lost, [], 'acknowledged binds not found by account')
