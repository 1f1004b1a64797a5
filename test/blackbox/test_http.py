"""HTTP surface: paths, methods, Content-Type, keep-alive, body size, health, concurrency."""

import http.client
import socket
import threading
import unittest

import pbtest
from pbtest import APP, BATCH, QUERY, acc, acc_list, basic_header, batch_answer, query_answer, uniq

MIB = 1024 * 1024


def padded_query(token, size):
    """A valid query body of exactly `size` bytes (padding in an unknown field)."""
    head = '{"operator_type": 2, "token_list": ["%s"], "pad": "' % token
    tail = '"}'
    n = size - len(head) - len(tail)
    assert n >= 0
    return (head + 'p' * n + tail).encode('ascii')


class HttpTest(pbtest.ServerTestCase):
    ARGS = ('--threads', '2')

    def auth(self):
        return {'Authorization': basic_header(*APP)}

    def test_unknown_path_is_404(self):
        for method, path in (('POST', '/v3/device/account/unknown'), ('POST', '/v3/device/account'),
                             ('POST', '/'), ('GET', '/nope'), ('POST', '/v3/push/app'),
                             ('POST', '/v3/device/account/queryx')):
            status, _, _ = self.srv.request(method, path, b'{"operator_type": 2, "token_list": ["t"]}', self.auth())
            self.assertEqual(status, 404, (method, path))

    def test_other_method_on_api_path_is_405(self):
        for path in (QUERY, BATCH):
            for method in ('GET', 'PUT', 'DELETE', 'PATCH'):
                body = None if method in ('GET', 'DELETE') else b'{"operator_type": 2, "token_list": ["t"]}'
                status, _, _ = self.srv.request(method, path, body, self.auth())
                self.assertEqual(status, 405, (method, path))

    def test_healthz_answers_200(self):
        status, _, _ = self.srv.request('GET', '/healthz')
        self.assertEqual(status, 200)

    def test_api_answers_are_http_200_even_for_api_errors(self):
        self.assertEqual(self.srv.query(b'{', auth=None), (200, pbtest.query_error(pbtest.E_AUTH)))
        self.assertEqual(self.srv.batch(b'{'), (200, pbtest.batch_error(pbtest.E_PARSE)))

    def test_missing_content_type_is_accepted(self):
        t = uniq('tok')
        self.assertEqual(self.srv.batch({'operator_type': 1, 'token_accounts': [
            {'token': t, 'account_list': acc_list('ct')}]}, content_type=None), (200, batch_answer(0)))
        self.assertEqual(self.srv.query({'operator_type': 2, 'token_list': [t]}, content_type=None),
                         (200, query_answer('token_accounts', [{'token': t, 'account_list': [acc('ct')]}], [0])))

    def test_text_plain_and_other_content_types_are_accepted(self):
        for ct in ('text/plain', 'text/plain; charset=utf-8', 'application/json; charset=utf-8',
                   'application/x-www-form-urlencoded', 'application/octet-stream'):
            t = uniq('tok')
            self.assertEqual(self.srv.batch({'operator_type': 1, 'token_accounts': [
                {'token': t, 'account_list': acc_list('ct')}]}, content_type=ct), (200, batch_answer(0)), ct)
            self.assertEqual(self.srv.query({'operator_type': 2, 'token_list': [t]}, content_type=ct),
                             (200, query_answer('token_accounts', [{'token': t, 'account_list': [acc('ct')]}], [0])),
                             ct)

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        conn = self.srv.new_connection()
        self.addCleanup(conn.close)
        ports = set()
        t = uniq('tok')
        for i in range(12):
            if i % 3 == 0:
                body = pbtest.encode_body({'operator_type': 1, 'token_accounts': [
                    {'token': t, 'account_list': acc_list('k%d' % i)}]})
                path = BATCH
            else:
                body = pbtest.encode_body({'operator_type': 2, 'token_list': [t]})
                path = QUERY
            if i == 5:
                conn.request('GET', '/healthz')
            else:
                conn.request('POST', path, body=body, headers=self.auth())
            resp = conn.getresponse()
            raw = resp.read()
            self.assertEqual(resp.status, 200, raw)
            self.assertFalse(resp.will_close, 'server asked to close after request %d' % i)
            ports.add(conn.sock.getsockname()[1])
        self.assertEqual(len(ports), 1)
        self.assertEqual(self.srv.accounts_of(t), [acc('k0'), acc('k3'), acc('k6'), acc('k9')])

    def test_keep_alive_survives_api_errors_and_404(self):
        conn = self.srv.new_connection()
        self.addCleanup(conn.close)
        conn.request('POST', QUERY, body=b'{', headers=self.auth())
        r1 = conn.getresponse()
        self.assertEqual((r1.status, pbtest.parse_json(r1.read())), (200, pbtest.query_error(pbtest.E_PARSE)))
        port = conn.sock.getsockname()[1]
        conn.request('POST', '/nope', body=b'{}', headers=self.auth())
        r2 = conn.getresponse()
        r2.read()
        self.assertEqual(r2.status, 404)
        conn.request('POST', QUERY, body=b'{"operator_type": 2, "token_list": ["a b"]}', headers=self.auth())
        r3 = conn.getresponse()
        self.assertEqual((r3.status, pbtest.parse_json(r3.read())),
                         (200, {'retCode': 1008027, 'errMsg': 'batch op, total error', 'ret_code': 1008027, 'err_msg': 'batch op, total error', 'result': ['1008006'],
                                'token_accounts': [{'token': 'a b', 'account_list': []}]}))
        self.assertEqual(conn.sock.getsockname()[1], port)

    def test_body_over_default_one_mib_is_413_and_one_mib_is_served(self):
        t = uniq('tok')
        self.srv.bind(t, 'big')
        status, resp = self.srv.query(padded_query(t, MIB))
        self.assertEqual((status, resp),
                         (200, query_answer('token_accounts', [{'token': t, 'account_list': [acc('big')]}], [0])))
        body = padded_query(t, MIB + 1)
        head = ('POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n'
                % (QUERY, basic_header(*APP), len(body))).encode('ascii')
        raw = pbtest.raw_exchange(self.srv.port, head, body)
        parsed = pbtest.parse_raw_response(raw)
        self.assertIsNotNone(parsed, raw[:300])
        self.assertEqual(parsed[0], 413)

    def test_pipelined_requests_are_answered_in_order(self):
        t = uniq('tok')
        self.srv.bind(t, 'pipe')
        bodies = [pbtest.encode_body({'operator_type': 2, 'token_list': [t]}),
                  pbtest.encode_body({'operator_type': 2, 'token_list': ['a b']}),
                  pbtest.encode_body({'operator_type': 1, 'account_list': acc_list('pipe')})]
        data = b''.join(('POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n'
                         % (QUERY, basic_header(*APP), len(b))).encode('ascii') + b for b in bodies)
        s = socket.create_connection(('127.0.0.1', self.srv.port), timeout=10)
        self.addCleanup(s.close)
        s.sendall(data)
        want = [query_answer('token_accounts', [{'token': t, 'account_list': [acc('pipe')]}], [0]),
                {'retCode': 1008027, 'errMsg': 'batch op, total error', 'ret_code': 1008027, 'err_msg': 'batch op, total error', 'result': ['1008006'],
                 'token_accounts': [{'token': 'a b', 'account_list': []}]},
                query_answer('account_tokens', [{'account': 'pipe', 'token_list': [t]}], [0])]
        got = []
        buf = b''
        while len(got) < len(want):
            parsed = pbtest.parse_raw_response(buf)
            if parsed is None:
                chunk = s.recv(65536)
                self.assertTrue(chunk, 'connection closed after %d answers' % len(got))
                buf += chunk
                continue
            status, headers, body = parsed
            got.append((status, pbtest.parse_json(body)))
            end = buf.find(b'\r\n\r\n') + 4 + int(headers['content-length'])
            buf = buf[end:]
        self.assertEqual(got, [(200, w) for w in want])

    def test_deeply_nested_json_does_not_bring_the_server_down(self):
        t = uniq('tok')
        self.srv.bind(t, 'deep')
        normal = query_answer('token_accounts', [{'token': t, 'account_list': [acc('deep')]}], [0])
        for depth in (40, 100000):
            body = ('{"operator_type": 2, "token_list": ["%s"], "x": ' % t).encode() + b'[' * depth + b']' * depth + b'}'
            status, resp = self.srv.query(body)
            # Deep unknown fields may be refused as a parse error or skipped; either way an answer.
            self.assertEqual(status, 200)
            self.assertIn(resp, (normal, pbtest.query_error(pbtest.E_PARSE)), depth)
        self.assertEqual(self.srv.query({'operator_type': 2, 'token_list': [t]}), (200, normal))

    def test_concurrent_clients_are_all_answered_and_applied(self):
        n_clients, n_each = 8, 12  # 96 tokens on one account: under the limit of 100
        account = uniq('shared')
        errors = []
        tokens = [[uniq('ctok') for _ in range(n_each)] for _ in range(n_clients)]

        def client(i):
            try:
                conn = self.srv.new_connection()
                try:
                    for t in tokens[i]:
                        body = pbtest.encode_body({'operator_type': 1, 'token_accounts': [
                            {'token': t, 'account_list': acc_list(account, 'own-%d' % i)}]})
                        conn.request('POST', BATCH, body=body, headers=self.auth())
                        resp = conn.getresponse()
                        got = (resp.status, pbtest.parse_json(resp.read()))
                        if got != (200, batch_answer(0)):
                            errors.append((t, got))
                finally:
                    conn.close()
            except Exception as e:  # reported below
                errors.append(('client %d' % i, repr(e)))

        threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        self.assertEqual(errors, [])
        got = self.srv.tokens_of(account)
        self.assertEqual(sorted(got), sorted(sum(tokens, [])))
        # Each client's own tokens appear in the order that client bound them.
        for i in range(n_clients):
            self.assertEqual([t for t in got if t in tokens[i]], tokens[i])
            self.assertEqual(self.srv.tokens_of('own-%d' % i), tokens[i])


if __name__ == '__main__':
    unittest.main()
