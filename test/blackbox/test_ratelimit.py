"""Per-app rate limiting (--rate-limit / --rate-burst): over the limit, 1008028 and nothing changes."""

import threading
import time
import unittest

import pbtest
from pbtest import APP, APP2, acc, acc_list, batch_answer, batch_error, query_answer, query_error, uniq

E_RATE = 1008028
# 2 requests a second, bursts of 3: an idle app gets 3 at once, then one every 500 ms.
RATE, BURST = 2, 3


def bind_body(token, account='a'):
    return {'operator_type': 1, 'token_accounts': [{'token': token, 'account_list': acc_list(account)}]}


class RateLimitTest(unittest.TestCase):
    def setUp(self):
        self.srv = pbtest.Server.for_test(self, apps=[APP, APP2],
                                          args=['--rate-limit', RATE, '--rate-burst', BURST, '--threads', '2'])

    def wait_for_full_budget(self):
        time.sleep(BURST / RATE + 0.2)

    def spend_until_refused(self, send):
        """Calls send(i) until it answers 1008028; returns the answers before."""
        answers = []
        for i in range(50):
            got = send(i)
            if got[1] in (batch_error(E_RATE), query_error(E_RATE)):
                return answers
            answers.append(got)
        self.fail('50 requests in a row were never refused: %r' % answers[-1])

    def test_burst_is_served_then_the_next_write_is_1008028_and_changes_nothing(self):
        tokens = [uniq('tok') for _ in range(50)]
        served = self.spend_until_refused(lambda i: self.srv.batch(bind_body(tokens[i])))
        n = len(served)
        self.assertGreaterEqual(n, BURST)
        self.assertEqual(served, [(200, batch_answer(0))] * n)
        refused = tokens[n]
        self.assertEqual(self.srv.query({'operator_type': 2, 'token_list': tokens}), (200, query_error(E_RATE)))
        self.wait_for_full_budget()
        status, resp = self.srv.query({'operator_type': 2, 'token_list': tokens[:n + 1]})
        self.assertEqual((status, resp), (200, query_answer(
            'token_accounts', [{'token': t, 'account_list': [acc('a')]} for t in tokens[:n]] +
            [{'token': refused, 'account_list': []}], [0] * n + [10110008])))

    def test_budget_refills_at_the_rate(self):
        t = uniq('tok')
        unbound = query_answer('token_accounts', [{'token': t, 'account_list': []}], [10110008])
        served = self.spend_until_refused(lambda i: self.srv.query({'operator_type': 2, 'token_list': [t]}))
        self.assertGreaterEqual(len(served), BURST)
        self.assertEqual(served, [(200, unbound)] * len(served))
        time.sleep(1.0 / RATE + 0.1)
        self.assertEqual(self.srv.batch(bind_body(t)), (200, batch_answer(0)))

    def test_each_app_has_its_own_budget(self):
        t = uniq('tok')
        self.spend_until_refused(lambda i: self.srv.batch(bind_body(t)))
        self.assertEqual(self.srv.batch(bind_body(t), app=APP2), (200, batch_answer(0)))
        self.assertEqual(self.srv.accounts_of(t, app=APP2), [acc('a')])
        self.srv.stop()  # exit 0: under make test-asan, the budgets of both apps are freed

    def test_failed_authentication_does_not_spend_the_apps_budget(self):
        for _ in range(10):
            self.assertEqual(self.srv.batch(bind_body(uniq('tok')), app=(APP[0], 'f' * 32)),
                             (200, batch_error(pbtest.E_AUTH)))
        for _ in range(BURST):
            self.assertEqual(self.srv.batch(bind_body(uniq('tok'))), (200, batch_answer(0)))

    def test_the_budget_is_shared_by_connections_on_every_thread(self):
        # Eight connections, spread by the kernel over both event-loop threads,
        # send 16 requests at once: an app gets its burst, not a burst per thread.
        conns = [self.srv.new_connection() for _ in range(8)]
        for c in conns:
            self.addCleanup(c.close)
            c.connect()
        answers = []
        lock = threading.Lock()
        body = pbtest.encode_body({'operator_type': 2, 'token_list': ['t']})
        headers = pbtest.auth_headers('basic', APP, body)

        def client(c):
            for _ in range(2):
                c.request('POST', pbtest.QUERY, body=body, headers=headers)
                code = pbtest.parse_json(c.getresponse().read())['retCode']
                with lock:
                    answers.append(code)

        threads = [threading.Thread(target=client, args=(c,)) for c in conns]
        start = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(30)
        elapsed = time.monotonic() - start
        self.assertEqual(len(answers), 16)
        served = len([c for c in answers if c != E_RATE])
        # At most the burst plus what refilled while the requests were sent.
        self.assertGreaterEqual(served, BURST)
        self.assertLessEqual(served, BURST + int(elapsed * RATE) + 1, (answers, elapsed))


class NoRateLimitByDefaultTest(pbtest.ServerTestCase):
    def test_without_the_flag_a_quick_run_of_requests_is_all_served(self):
        t = uniq('tok')
        for _ in range(50):
            self.assertEqual(self.srv.query({'operator_type': 2, 'token_list': [t]})[1]['retCode'], pbtest.E_TOTAL)

    def test_rate_burst_without_rate_limit_is_a_usage_error(self):
        r = pbtest.run_cli('serve', '--data', self.srv.data_dir, '--listen', '127.0.0.1:0', '--rate-burst', '5')
        self.assertEqual(r.returncode, 2, r)


if __name__ == '__main__':
    unittest.main()
