"""Floods and slow clients: connection cap, request timeout, header cap, many idle connections."""

import resource
import socket
import threading
import time
import unittest

import pbtest
from pbtest import APP, BATCH, QUERY, acc, basic_header, query_answer, uniq

QUERY_HEAD = 'POST %s HTTP/1.1\r\nHost: pushbind\r\nAuthorization: %s\r\nContent-Length: %d\r\n'


def query_request(token, extra_headers=''):
    """A complete keep-alive HTTP/1.1 query for `token`, as bytes."""
    body = ('{"operator_type": 2, "token_list": ["%s"]}' % token).encode()
    head = QUERY_HEAD % (QUERY, basic_header(*APP), len(body)) + extra_headers + '\r\n'
    return head.encode() + body


def read_response(sock, timeout=10.0):
    """Reads one response from `sock`; returns (status, headers, body) or None
    when the server closed the connection (or reset it) first."""
    sock.settimeout(timeout)
    data = b''
    while True:
        parsed = pbtest.parse_raw_response(data)
        if parsed is not None:
            return parsed
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return None
        if not chunk:
            return None
        data += chunk


def wait_closed(sock, timeout):
    """Seconds until the server closes `sock` without sending anything, or
    None when it stays open for `timeout` seconds. Fails if it sends bytes."""
    start = time.monotonic()
    sock.settimeout(timeout)
    try:
        data = sock.recv(1)
    except ConnectionResetError:
        data = b''
    except socket.timeout:
        return None
    if data:
        raise AssertionError('the server sent %r instead of closing' % data)
    return time.monotonic() - start


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class SlowClientTest(unittest.TestCase):
    TIMEOUT = 2

    def setUp(self):
        self.srv = pbtest.Server.for_test(self, apps=[APP], args=['--request-timeout', self.TIMEOUT,
                                                                   '--threads', '2'])
        self.token = uniq('tok')
        self.srv.bind(self.token, 'slow')
        self.want = query_answer('token_accounts', [{'token': self.token, 'account_list': [acc('slow')]}], [0])

    def connect(self):
        s = socket.create_connection(('127.0.0.1', self.srv.port), timeout=10)
        self.addCleanup(s.close)
        return s

    def test_slowloris_is_cut_off_after_the_timeout_while_others_are_served(self):
        outcome = {}

        def slowloris():
            s = self.connect()
            head = query_request(self.token)[:-10]  # never completes
            start = time.monotonic()
            for i in range(len(head)):
                try:
                    s.send(head[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    outcome['cut_after'] = time.monotonic() - start
                    return
                s.settimeout(0.1)
                try:
                    data = s.recv(4096)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    data = b''
                outcome['cut_after'] = time.monotonic() - start
                outcome['answer'] = data
                return
            outcome['finished_sending'] = time.monotonic() - start

        th = threading.Thread(target=slowloris)
        th.start()
        served = []
        try:
            time.sleep(0.3)
            deadline = time.monotonic() + self.TIMEOUT * 0.8
            while time.monotonic() < deadline:  # fresh connections while the slow one dribbles
                s = self.connect()
                s.sendall(query_request(self.token))
                r = read_response(s)
                served.append(r is not None and (r[0], pbtest.parse_json(r[2])) == (200, self.want))
                s.close()
        finally:
            th.join(30)
        self.assertTrue(served and all(served), served)
        self.assertNotIn('finished_sending', outcome, 'a %d-byte head sent byte by byte was never cut off'
                         % len(query_request(self.token)))
        self.assertEqual(outcome.get('answer'), b'', 'the slow client was answered instead of cut off')
        self.assertGreaterEqual(outcome['cut_after'], self.TIMEOUT * 0.5)
        self.assertLess(outcome['cut_after'], self.TIMEOUT + 5)

    def test_slow_body_is_cut_off_after_the_timeout_and_changes_nothing(self):
        t = uniq('tok')
        body = ('{"operator_type": 1, "token_accounts": [{"token": "%s", "account_list": [{"account": "a"}]}]}'
                % t).encode()
        s = self.connect()
        s.sendall((QUERY_HEAD % (BATCH, basic_header(*APP), len(body)) + '\r\n').encode() + body[:-1])
        elapsed = wait_closed(s, self.TIMEOUT + 5)
        self.assertIsNotNone(elapsed, 'a request missing its last byte was kept open')
        self.assertEqual(self.srv.accounts_of(t), [])

    def test_idle_keep_alive_connection_is_closed_after_the_timeout(self):
        s = self.connect()
        s.sendall(query_request(self.token))
        r = read_response(s)
        self.assertEqual((r[0], pbtest.parse_json(r[2])), (200, self.want))
        elapsed = wait_closed(s, self.TIMEOUT + 5)
        self.assertIsNotNone(elapsed, 'an idle keep-alive connection stayed open')
        self.assertGreaterEqual(elapsed, self.TIMEOUT * 0.5)

    def test_connection_that_sends_nothing_is_closed_after_the_timeout(self):
        self.assertIsNotNone(wait_closed(self.connect(), self.TIMEOUT + 5))

    def test_request_timeout_flag_rejects_zero_and_text(self):
        for value in ('0', 'soon', '3601'):
            r = pbtest.run_cli('serve', '--data', self.srv.data_dir, '--listen', '127.0.0.1:0',
                               '--request-timeout', value)
            self.assertEqual(r.returncode, 2, r)


class ConnectionCapTest(unittest.TestCase):
    CAP = 6

    def held_connection(self, port, t):
        """A new connection to `port` that has had one query for `t` answered; returns it and the answer."""
        s = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(query_request(t))
        return s, read_response(s)

    def assert_refused(self, port, t):
        """A connection over the cap is closed unanswered."""
        extra = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.addCleanup(extra.close)
        try:
            extra.sendall(query_request(t))
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.assertIsNone(read_response(extra, timeout=5))

    def test_connections_over_the_cap_are_closed_and_the_others_keep_being_served(self):
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--max-connections', self.CAP, '--threads', '2'])
        t = uniq('tok')
        srv.bind(t, 'capped')
        want = query_answer('token_accounts', [{'token': t, 'account_list': [acc('capped')]}], [0])
        srv._close_conn()  # the harness's own connection would count too
        held = []
        for _ in range(self.CAP):
            s, r = self.held_connection(srv.port, t)
            self.assertEqual((r[0], pbtest.parse_json(r[2])), (200, want))
            held.append(s)
        for _ in range(3):
            self.assert_refused(srv.port, t)
        for s in held:  # the connections under the cap were not disturbed
            s.sendall(query_request(t))
            r = read_response(s)
            self.assertEqual((r[0], pbtest.parse_json(r[2])), (200, want))
        held.pop().close()
        deadline = time.monotonic() + 5
        while True:  # the freed place is taken by the next connection
            _, r = self.held_connection(srv.port, t)
            if r is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual((r[0], pbtest.parse_json(r[2])), (200, want))
        srv.stop()  # with connections still held open: exit 0, nothing leaked under make test-asan

    def test_api_connections_at_the_cap_leave_the_operators_listener_open(self):
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--max-connections', '2', '--threads', '1',
                                                             '--admin-listen', '127.0.0.1:0'])
        t = uniq('tok')
        srv.bind(t, 'capped')
        srv._close_conn()
        for _ in range(2):
            self.assertEqual(self.held_connection(srv.port, t)[1][0], 200)
        self.assert_refused(srv.port, t)
        # The operator's listener counts its own connections: several at once still answer.
        admin = []
        for _ in range(3):
            s = socket.create_connection(('127.0.0.1', srv.admin_port), timeout=10)
            self.addCleanup(s.close)
            admin.append(s)
        for s in admin:
            s.sendall(b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n')
            self.assertEqual(read_response(s)[0], 200)
        status, _, body = srv.admin_request('GET', '/metrics')
        self.assertEqual(status, 200)
        self.assertIn(b'pushbind_open_connections 6\n', body)  # 2 API, 3 operator's and this one

    def test_thousands_of_idle_connections_do_not_stop_others_being_served(self):
        n = 2000
        if raise_fd_limit(n + 200) < n + 100:
            self.skipTest('this process may not open %d sockets' % n)
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--threads', '2', '--request-timeout', '60'])
        t = uniq('tok')
        srv.bind(t, 'idle')
        want = query_answer('token_accounts', [{'token': t, 'account_list': [acc('idle')]}], [0])
        idle = []
        self.addCleanup(lambda: [s.close() for s in idle])
        for _ in range(n):
            idle.append(socket.create_connection(('127.0.0.1', srv.port), timeout=10))
        for i in range(20):
            self.assertEqual(srv.query({'operator_type': 2, 'token_list': [t]}), (200, want), i)
            s = socket.create_connection(('127.0.0.1', srv.port), timeout=10)
            s.sendall(query_request(t))
            r = read_response(s)
            s.close()
            self.assertEqual((r[0], pbtest.parse_json(r[2])), (200, want))
        # They were accepted, not left in the kernel's queue: the oldest and the newest still answer.
        for s in (idle[0], idle[-1]):
            s.sendall(query_request(t))
            r = read_response(s)
            self.assertEqual((r[0], pbtest.parse_json(r[2])), (200, want))


class HeaderCapTest(pbtest.ServerTestCase):
    ARGS = ('--max-header-bytes', '2048')

    def exchange(self, request):
        return pbtest.parse_raw_response(pbtest.raw_exchange(self.srv.port, request))

    def test_headers_under_the_cap_are_served_and_over_it_are_431_changing_nothing(self):
        t = uniq('tok')
        body = ('{"operator_type": 1, "token_accounts": [{"token": "%s", "account_list": [{"account": "a"}]}]}'
                % t).encode()
        head = QUERY_HEAD % (BATCH, basic_header(*APP), len(body))
        base = len(head) - len('Content-Length: %d\r\n' % len(body))  # roughly what the server counts
        for size, want in ((1500, 200), (2600, 431)):
            pad = 'X-Pad: %s\r\n' % ('p' * (size - base))
            r = self.exchange((head + pad + '\r\n').encode() + body)
            self.assertIsNotNone(r, size)
            self.assertEqual(r[0], want, size)
            if want == 431:
                self.assertEqual(self.srv.accounts_of(t), [])
            else:
                self.assertEqual(self.srv.accounts_of(t), [acc('a')])
                self.srv.ok_batch({'operator_type': 4, 'token_list': [t]})

    def test_many_small_headers_count_together(self):
        extra = ''.join('X-H%02d: %s\r\n' % (i, 'v' * 20) for i in range(90))
        r = self.exchange(query_request(uniq('tok'), extra))
        self.assertEqual(r[0], 431)

    def test_more_than_100_header_fields_is_400(self):
        # h2o's parser holds at most H2O_MAX_HEADERS (100) fields.
        r = self.exchange(query_request(uniq('tok'), ''.join('X-H%d: v\r\n' % i for i in range(120))))
        self.assertEqual(r[0], 400)
        self.assertEqual(self.srv.request('GET', '/healthz')[0], 200)

    def test_a_head_far_over_any_cap_is_refused_and_the_server_goes_on(self):
        r = pbtest.raw_exchange(self.srv.port, query_request(uniq('tok'), 'X-Huge: %s\r\n' % ('h' * 600000)))
        parsed = pbtest.parse_raw_response(r)
        self.assertTrue(parsed is None or 400 <= parsed[0] < 500, r[:200])
        self.assertEqual(self.srv.request('GET', '/healthz')[0], 200)


if __name__ == '__main__':
    unittest.main()
