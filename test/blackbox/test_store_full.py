"""A full embedded store (--map-size-mib 2): binds answer 1008004 per item,
every unbind still succeeds, and binds work again once there is room."""

import re
import unittest

import pbtest
from pbtest import APP, E_STORE, E_PARTIAL, E_TOTAL

FILLER = 'x' * 60


def token(n):
    return 'full-tok-%06d-%s' % (n, FILLER)


def account(n):
    return 'full-acct-%06d-%s' % (n, FILLER)


@pbtest.lmdb_only('the map size is the embedded store\'s')
class StoreFullTest(unittest.TestCase):
    def setUp(self):
        self.srv = pbtest.Server.for_test(self, apps=[APP], args=['--map-size-mib', '2'])
        self.bound = 0

    def fill(self):
        """Binds 20 tokens a request until items are refused; returns the last answer."""
        for _ in range(2000):
            items = [{'token': token(n), 'account_list': [{'account': account(n)}]}
                     for n in range(self.bound, self.bound + 20)]
            status, resp = self.srv.batch({'operator_type': 1, 'token_accounts': items})
            self.assertEqual(status, 200)
            codes = [int(c) for c in resp['result']]
            self.bound += codes.count(0)
            if resp['ret_code'] != 0:
                return resp
        self.fail('the store never filled')

    def test_binds_are_refused_per_item_with_one_log_line_a_second(self):
        resp = self.fill()
        self.assertIn(resp['ret_code'], (E_PARTIAL, E_TOTAL))
        codes = [int(c) for c in resp['result']]
        self.assertEqual(set(codes) - {0}, {E_STORE})
        self.assertEqual(codes, sorted(codes, key=lambda c: c != 0))  # refused once, refused after
        for _ in range(5):
            _, resp = self.srv.batch({'operator_type': 2, 'token_accounts': [
                {'token': token(self.bound + 100), 'account_list': [{'account': 'more'}]}]})
            self.assertEqual(resp, pbtest.batch_answer(E_STORE))
        lines = [l for l in self.srv.stderr_text.splitlines() if 'store full' in l]
        self.assertGreaterEqual(len(lines), 1)
        self.assertLessEqual(len(lines), 3)  # the test takes well under 3 s
        self.assertIn('--map-size-mib', lines[0])

    def test_every_unbind_succeeds_then_binds_fit_again(self):
        self.fill()
        self.srv.ok_batch({'operator_type': 3, 'token_accounts': [
            {'token': token(n), 'account_list': [{'account': account(n)}]} for n in range(0, 20)]})
        self.srv.ok_batch({'operator_type': 4, 'token_list': [token(n) for n in range(20, 40)]})
        self.srv.ok_batch({'operator_type': 5, 'account_list': [
            {'account': account(n)} for n in range(40, 60)]})
        for n in (0, 25, 45):
            self.assertEqual(self.srv.accounts_of(token(n)), [])
        self.assertEqual(self.srv.accounts_of(token(60)), [{'account': account(60)}])
        self.srv.bind(token(0), account(0))
        self.assertEqual(self.srv.accounts_of(token(0)), [{'account': account(0)}])

    def test_metrics_show_the_store_near_its_capacity(self):
        self.fill()
        status, _, body = self.srv.request('GET', '/metrics')
        self.assertEqual(status, 200)
        values = dict(re.findall(r'^(pushbind_store_\w+_bytes) (\S+)$', body.decode(), re.M))
        size, capacity, reserve = (float(values['pushbind_store_%s_bytes' % k])
                                   for k in ('size', 'capacity', 'reserve'))
        self.assertEqual(capacity, 2 * 1024 * 1024)
        self.assertEqual(reserve, 1024 * 1024)
        self.assertGreater(size / capacity, 0.4)
        self.assertLessEqual(size, capacity - reserve)


if __name__ == '__main__':
    unittest.main()
