"""Many clients writing at once: the writes of concurrent requests are committed
together (group commit), and each request still gets its own answer, only
once its changes are durable."""

import http.client
import threading
import time
import unittest

import pbtest
from pbtest import APP, BATCH, E_PARAM, acc, acc_list, basic_header, batch_answer


def post_batch(conn, body):
    conn.request('POST', BATCH, body=pbtest.encode_body(body),
                 headers={'Authorization': basic_header(*APP), 'Content-Type': 'application/json'})
    resp = conn.getresponse()
    return resp.status, pbtest.parse_json(resp.read())


def run_clients(n, client):
    """Runs client(no) on n threads at once; returns the exceptions they raised."""
    errors = []
    start = threading.Barrier(n)

    def run(no):
        try:
            start.wait(10)
            client(no)
        except Exception as e:  # reported by the test, with the client's number
            errors.append('client %d: %r' % (no, e))

    threads = [threading.Thread(target=run, args=(no,)) for no in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


class ConcurrentWritesTest(unittest.TestCase):
    def test_concurrent_clients_binding_distinct_tokens_all_see_their_bindings(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        clients, requests = 16, 12
        answers = {}

        def client(no):
            conn = srv.new_connection(timeout=30)
            try:
                for r in range(requests):
                    items = [{'token': 'cc-%d-%d-%d' % (no, r, i), 'account_list': acc_list('cc-acct-%d' % no)}
                             for i in range(5)]
                    answers[(no, r)] = post_batch(conn, {'operator_type': 1, 'token_accounts': items})
            finally:
                conn.close()

        self.assertEqual(run_clients(clients, client), [])
        for key, answer in sorted(answers.items()):
            self.assertEqual(answer, (200, batch_answer(0, 0, 0, 0, 0)), key)
        self.assertEqual(len(answers), clients * requests)
        for no in range(clients):
            # Each client's requests were answered in order, so its tokens are bound in that order.
            want = ['cc-%d-%d-%d' % (no, r, i) for r in range(requests) for i in range(5)]
            self.assertEqual(srv.tokens_of('cc-acct-%d' % no), want)

    def test_a_failing_item_fails_alone_while_other_requests_commit(self):
        # Every account may hold 2 tokens: each client's third item fails its limit,
        # whichever group its request is committed in, and nothing else does.
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--max-tokens-per-account', '2'])
        clients = 12
        answers = {}

        def client(no):
            conn = srv.new_connection(timeout=30)
            try:
                for r in range(4):
                    account = 'iso-%d-%d' % (no, r)
                    items = [{'token': 'iso-%d-%d-%d' % (no, r, i), 'account_list': acc_list(account)}
                             for i in range(4)]
                    answers[(no, r)] = post_batch(conn, {'operator_type': 1, 'token_accounts': items})
            finally:
                conn.close()

        self.assertEqual(run_clients(clients, client), [])
        for key, answer in sorted(answers.items()):
            self.assertEqual(answer, (200, batch_answer(0, 0, E_PARAM, E_PARAM)), key)
        for no in range(clients):
            for r in range(4):
                self.assertEqual(srv.tokens_of('iso-%d-%d' % (no, r)), ['iso-%d-%d-0' % (no, r), 'iso-%d-%d-1' % (no, r)])
                self.assertEqual(srv.accounts_of('iso-%d-%d-2' % (no, r)), [])

    def test_every_acknowledged_bind_survives_kill_9_under_concurrent_load(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        acknowledged = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(no):
            conn = srv.new_connection(timeout=30)
            r = 0
            try:
                while not stop.is_set():
                    tokens = ['k9c-%d-%d-%d' % (no, r, i) for i in range(10)]
                    body = {'operator_type': 1,
                            'token_accounts': [{'token': t, 'account_list': acc_list('k9c-acct-%d-%d' % (no, r))}
                                               for t in tokens]}
                    try:
                        status, resp = post_batch(conn, body)
                    except (OSError, http.client.HTTPException):
                        return  # the server was killed while this request was in flight
                    if (status, resp) == (200, batch_answer(*[0] * 10)):
                        with lock:
                            acknowledged.append((no, r, tokens))
                    r += 1
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(no,)) for no in range(12)]
        for t in threads:
            t.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            with lock:
                if len(acknowledged) >= 300:
                    break
            time.sleep(0.02)
        srv.kill()  # while the clients are still sending
        stop.set()
        for t in threads:
            t.join(30)
        with lock:
            done = list(acknowledged)
        self.assertGreater(len(done), 0, 'no write was acknowledged before the kill')
        srv.start()
        for k in range(0, len(done), 50):
            chunk = done[k:k + 50]
            accounts = ['k9c-acct-%d-%d' % (no, r) for no, r, _ in chunk]
            status, resp = srv.query({'operator_type': 1, 'account_list': acc_list(*accounts)})
            self.assertEqual(status, 200)
            got = {e['account']: e['token_list'] for e in resp['account_tokens']}
            for (no, r, tokens), account in zip(chunk, accounts):
                self.assertEqual(got.get(account), tokens, account)


if __name__ == '__main__':
    unittest.main()
