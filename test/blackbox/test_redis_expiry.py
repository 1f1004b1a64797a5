"""Expiry on Redis (--binding-ttl): the sweeper deletes what no write touches,
keys and index entries included, and a full account makes room from its
expired bindings. Starts its own Redis server (pbredis.py) on PB_TEST_PORT_BASE + 42.
"""

import time
import unittest

import pbredis
from pbredis import poll
import pbtest
from pbtest import APP, acc, uniq

PORT = pbredis.PORT_BASE + 42
TTL = 2


class RedisExpiryTest(unittest.TestCase):

    def setUp(self):
        self.dir = pbtest.new_temp_dir(self.addCleanup)
        self.redis = pbredis.Redis(PORT, self.dir)
        self.addCleanup(lambda: self.redis.stop())
        self.ns = uniq('ns')
        self.srv = pbtest.Server.for_test(self, apps=[APP], store_url='redis://127.0.0.1:%d/%s' % (PORT, self.ns),
                                          args=['--binding-ttl', '%ds' % TTL, '--max-tokens-per-account', '2'])

    def keys(self, kind):
        return pbredis.cli(PORT, 'KEYS', '%s:%s:*' % (self.ns, kind)).split()

    def expired_total(self):
        _, _, raw = self.srv.request('GET', '/metrics')
        for line in raw.decode().splitlines():
            if line.startswith('pushbind_bindings_expired_total '):
                return int(line.split()[1])
        raise AssertionError('no pushbind_bindings_expired_total in /metrics')

    def test_the_sweeper_deletes_untouched_bindings_and_their_keys(self):
        tokens = [uniq('tok') for _ in range(5)]
        for t in tokens:
            self.srv.bind(t, 'a%s' % t, 'b%s' % t)
        self.assertEqual(len(self.keys('ti')), 5)
        self.assertTrue(self.keys('exp'))
        poll(lambda: self.expired_total() >= 10, TTL + 5, 'swept')
        for kind in ('t', 'ti', 'a'):
            self.assertEqual(self.keys(kind), [], kind)
        for key in self.keys('exp'):
            self.assertEqual(pbredis.cli(PORT, 'ZCARD', key).strip(), '0', key)
        r = pbtest.run_cli('app', 'list', '--store', 'redis://127.0.0.1:%d/%s' % (PORT, self.ns))
        self.assertEqual(r.stdout.split()[-1], '0', r)

    def test_bindings_written_without_a_ttl_expire_once_a_ttl_is_set(self):
        ns = uniq('ns')
        url = 'redis://127.0.0.1:%d/%s' % (PORT, ns)
        before = pbtest.Server.for_test(self, apps=[APP], store_url=url)
        tokens = [uniq('old') for _ in range(600)]  # more than one SCAN page
        for k in range(0, len(tokens), 20):
            before.ok_batch({'operator_type': 1, 'token_accounts': [
                {'token': t, 'account_list': [acc('acc-%s' % t)]} for t in tokens[k:k + 20]]})
        before.stop()
        self.assertEqual(pbredis.cli(PORT, 'KEYS', '%s:exp:*' % ns).split(), [])  # no TTL: no expiry index
        pbtest.Server.for_test(self, apps=[APP], store_url=url, args=['--binding-ttl', '%ds' % TTL])
        poll(lambda: pbredis.cli(PORT, 'KEYS', '%s:t:*' % ns).split() == [], TTL + 10, 'the old bindings deleted')
        for kind in ('ti', 'a'):
            self.assertEqual(pbredis.cli(PORT, 'KEYS', '%s:%s:*' % (ns, kind)).split(), [], kind)
        self.assertEqual(pbredis.cli(PORT, 'HGET', '%s:app:{%s}' % (ns, APP[0]), 'indexed').strip(),
                         pbredis.cli(PORT, 'HGET', '%s:app:{%s}' % (ns, APP[0]), 'untracked').strip())

    def test_a_full_account_takes_a_new_token_once_its_bindings_expire(self):
        self.srv.bind('t1', 'a')
        self.srv.bind('t2', 'a')
        self.srv.batch({'operator_type': 1, 'token_accounts': [{'token': 't3', 'account_list': [acc('a')]}]})
        self.assertEqual(self.srv.tokens_of('a'), ['t1', 't2'])  # the limit held
        poll(lambda: self.srv.tokens_of('a') == [], TTL + 1.5, 'expired by account')
        self.srv.bind('t3', 'a')
        self.assertEqual(self.srv.tokens_of('a'), ['t3'])
        self.assertEqual(self.srv.accounts_of('t1'), [])

    def test_a_rebind_moves_the_index_entry_and_keeps_the_binding(self):
        t = uniq('tok')
        self.srv.bind(t, 'a')
        deadline = time.time() + TTL + 2
        while time.time() < deadline:
            self.srv.bind(t, 'a')
            time.sleep(0.4)
        self.assertEqual(self.srv.accounts_of(t), [acc('a')])
        self.assertEqual(self.expired_total(), 0)


if __name__ == '__main__':
    unittest.main()
