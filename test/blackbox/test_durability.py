"""Durability and shutdown: restart, kill -9, a full store, signals."""

import signal
import socket
import time
import unittest

import pbtest
from pbtest import (APP, BATCH, E_STORE, acc, acc_list, basic_header, batch_answer, batch_error, query_answer,
                    uniq)


class RestartTest(unittest.TestCase):
    def test_bindings_and_unbindings_survive_sigterm_and_restart(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        srv.bind('t1', 'a', ('b', 1), 'c')
        srv.bind('t2', 'a')
        srv.bind('t3', 'x')
        srv.bind('t1', 'c', op=3)
        srv.ok_batch({'operator_type': 4, 'token_list': ['t3']})
        srv.restart()
        self.assertEqual(srv.accounts_of('t1'), [acc('a'), acc('b', 1)])
        self.assertEqual(srv.tokens_of('a'), ['t1', 't2'])
        self.assertEqual(srv.tokens_of('c'), [])
        self.assertEqual(srv.accounts_of('t3'), [])
        # Order is kept across restarts: new bindings go after the old ones.
        srv.bind('t1', 'd')
        self.assertEqual(srv.accounts_of('t1'), [acc('a'), acc('b', 1), acc('d')])

    def test_sigint_exits_0_and_keeps_bindings(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        srv.bind('t1', 'a')
        srv.stop(signal.SIGINT)
        srv.start()
        self.assertEqual(srv.accounts_of('t1'), [acc('a')])

    def test_sigterm_with_an_idle_keep_alive_connection_exits_0(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        conn = srv.new_connection()
        self.addCleanup(conn.close)
        conn.request('GET', '/healthz')
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 200)
        # conn stays open and idle while the server is asked to stop.
        srv.stop()

    def test_request_in_flight_at_sigterm_is_answered_whole_or_not_at_all(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        s = socket.create_connection(('127.0.0.1', srv.port), timeout=10)
        self.addCleanup(s.close)
        # One request first, so the connection is accepted and established.
        ping = b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
        s.sendall(ping)
        first = b''
        while pbtest.parse_raw_response(first) is None:
            chunk = s.recv(65536)
            self.assertTrue(chunk, 'connection closed before /healthz answered')
            first += chunk
        items = [{'token': 'inflight-%d' % i, 'account_list': acc_list(*['acc-%d-%d' % (i, j) for j in range(30)])}
                 for i in range(20)]
        body = pbtest.encode_body({'operator_type': 1, 'token_accounts': items})
        head = ('POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n'
                % (BATCH, basic_header(*APP), len(body))).encode('ascii')
        s.sendall(head + body)
        srv.proc.send_signal(signal.SIGTERM)
        received = b''
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            received += chunk
            if pbtest.parse_raw_response(received) is not None:
                break
        rc = srv.proc.wait(10)
        self.assertEqual(rc, 0, srv.stderr_text)
        if received:
            parsed = pbtest.parse_raw_response(received)
            self.assertIsNotNone(parsed, 'truncated answer: %r' % received[:200])
            status, _, raw = parsed
            self.assertEqual((status, pbtest.parse_json(raw)), (200, batch_answer(*[0] * 20)))
            srv.start()
            for i in range(20):
                self.assertEqual(srv.accounts_of('inflight-%d' % i), [acc('acc-%d-%d' % (i, j)) for j in range(30)])


class KillTest(unittest.TestCase):
    def test_every_acknowledged_change_survives_kill_9(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        n = 200
        tokens = ['k9-tok-%d' % i for i in range(n)]
        accounts = ['k9-acct-%d' % (i % 10) for i in range(n)]
        conn = srv.new_connection()
        self.addCleanup(conn.close)
        headers = {'Authorization': basic_header(*APP)}

        def send(body):
            conn.request('POST', BATCH, body=pbtest.encode_body(body), headers=headers)
            resp = conn.getresponse()
            return resp.status, pbtest.parse_json(resp.read())

        for i in range(n):
            got = send({'operator_type': 1, 'token_accounts': [{'token': tokens[i], 'account_list': acc_list(
                accounts[i], ('k9-phone-%d' % i, 1))}]})
            self.assertEqual(got, (200, batch_answer(0)), i)
        # The last acknowledged changes are unbinds: they must survive too.
        self.assertEqual(send({'operator_type': 3, 'token_accounts': [
            {'token': tokens[0], 'account_list': acc_list(('k9-phone-0', 1))}]}), (200, batch_answer(0)))
        self.assertEqual(send({'operator_type': 4, 'token_list': [tokens[1]]}), (200, batch_answer(0)))
        self.assertEqual(send({'operator_type': 5, 'account_list': acc_list(('k9-phone-2', 1))}),
                         (200, batch_answer(0)))
        srv.kill()
        srv.start()
        status, resp = srv.query({'operator_type': 2, 'token_list': tokens})
        want_entries = []
        codes = []
        for i in range(n):
            if i == 1:
                want_entries.append({'token': tokens[i], 'account_list': []})
                codes.append(10110008)
                continue
            accs = [acc(accounts[i])]
            if i not in (0, 2):
                accs.append(acc('k9-phone-%d' % i, 1))
            want_entries.append({'token': tokens[i], 'account_list': accs})
            codes.append(0)
        self.assertEqual((status, resp), (200, query_answer('token_accounts', want_entries, codes)))
        for j in range(10):
            want = [tokens[i] for i in range(n) if i % 10 == j and i != 1]
            self.assertEqual(srv.tokens_of('k9-acct-%d' % j), want)


class FullStoreTest(unittest.TestCase):
    @pbtest.lmdb_only('--map-size-mib caps the LMDB map; test_redis.py covers a failing Redis')
    def test_full_store_refuses_binds_with_1008004_and_keeps_every_earlier_binding(self):
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--map-size-mib', '1'])
        acknowledged = []  # (token, [accounts]) in order
        failed_items = None
        for r in range(2000):
            items = []
            for i in range(4):
                token = ('full-%04d-%d-' % (r, i)).ljust(256, 'T')
                accounts = [('full-%04d-%d-%d-' % (r, i, j)).ljust(128, 'a') for j in range(4)]
                items.append((token, accounts))
            body = {'operator_type': 1,
                    'token_accounts': [{'token': t, 'account_list': acc_list(*a)} for t, a in items]}
            status, resp = srv.batch(body)
            self.assertEqual(status, 200)
            if resp == batch_answer(0, 0, 0, 0):
                acknowledged.extend(items)
                continue
            # A full store refuses binds item by item (docs/API.md, 1008004).
            codes = [int(c) for c in resp['result']]
            self.assertEqual(resp, batch_answer(*codes), 'request %d' % r)
            self.assertEqual(set(codes) - {0}, {E_STORE}, 'request %d' % r)
            acknowledged.extend(item for item, code in zip(items, codes) if code == 0)
            failed_items = [item for item, code in zip(items, codes) if code != 0]
            break
        self.assertIsNotNone(failed_items, 'the store never reported 1008004 with a 1 MiB map')
        self.assertGreater(len(acknowledged), 0, 'the very first request already failed')
        # Nothing of the refused items is visible.
        n = len(failed_items)
        status, resp = srv.query({'operator_type': 2, 'token_list': [t for t, _ in failed_items]})
        self.assertEqual((status, resp), (200, query_answer(
            'token_accounts', [{'token': t, 'account_list': []} for t, _ in failed_items], [10110008] * n)))
        status, resp = srv.query({'operator_type': 1, 'account_list': acc_list(*sum((a for _, a in failed_items), []))})
        self.assertEqual(status, 200)
        self.assertEqual(resp['result'], ['10110008'] * (4 * n))
        # Every acknowledged binding is there, in order, before and after kill -9 and a restart.
        for attempt in ('live', 'restarted'):
            for k in range(0, len(acknowledged), 500):
                chunk = acknowledged[k:k + 500]
                status, resp = srv.query({'operator_type': 2, 'token_list': [t for t, _ in chunk]})
                self.assertEqual((status, resp), (200, query_answer(
                    'token_accounts', [{'token': t, 'account_list': [acc(x) for x in a]} for t, a in chunk],
                    [0] * len(chunk))), attempt)
            if attempt == 'live':
                srv.kill()
                srv.start()


if __name__ == '__main__':
    unittest.main()
