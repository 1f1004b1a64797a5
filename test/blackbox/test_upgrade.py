"""A data directory written by a pushbind from before bind times (layout 1), upgraded in place by this one.

Needs that binary: PUSHBIND_OLD_BIN names it (any build of a commit before bind times, e.g.
`git worktree add /tmp/old b425d9b && cmake -S /tmp/old -B /tmp/old/build && cmake --build /tmp/old/build`).
Without it the test skips; test/unit/test_store_upgrade.c covers the upgrade with hand-written old stores.
"""

import contextlib
import http.client
import json
import os
import subprocess
import time
import unittest

import pbtest
from pbtest import APP, BIN

OLD_BIN = os.environ.get('PUSHBIND_OLD_BIN')

# Imported by the old binary in this order: (token, account, account_type).
IMPORTED = [('tok-%02d' % (i % 7), 'acct-%02d' % (i % 11), i % 3) for i in range(60)]
TOKENS = sorted({t for t, _, _ in IMPORTED})
ACCOUNTS = sorted({(a, ty) for _, a, ty in IMPORTED})


def run(binary, *args):
    return subprocess.run([binary] + [str(a) for a in args], capture_output=True, text=True, timeout=60)


@contextlib.contextmanager
def binary(path):
    """pbtest.Server starts pbtest.BIN: point it at another build for the servers made inside."""
    saved, pbtest.BIN = pbtest.BIN, path
    try:
        yield
    finally:
        pbtest.BIN = saved


def old_query(srv, body):
    """A query to the old binary, unchecked: its answers predate parts of today's openapi.yaml."""
    data = json.dumps(body).encode()
    conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10)
    try:
        conn.request('POST', pbtest.QUERY, body=data, headers=pbtest.auth_headers('basic', APP, data))
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


@pbtest.lmdb_only('the upgrade is of the embedded store\'s data directory')
@unittest.skipUnless(OLD_BIN, 'PUSHBIND_OLD_BIN does not name a pushbind from before bind times')
class UpgradeFromLayoutOneTest(unittest.TestCase):

    def setUp(self):
        self.dir = os.path.join(pbtest.new_temp_dir(self.addCleanup), 'data')
        r = run(OLD_BIN, 'app', 'add', '--data', self.dir, '--access-id', APP[0], '--secret-key', APP[1])
        self.assertEqual(r.returncode, 0, r)
        path = os.path.join(os.path.dirname(self.dir), 'in.csv')
        with open(path, 'w') as f:
            f.write(''.join('%s,%s,%d\n' % row for row in IMPORTED))
        r = run(OLD_BIN, 'import', '--data', self.dir, '--access-id', APP[0], path)
        self.assertEqual(r.returncode, 0, r)
        # The old server's own writes too: appends after the imported bindings, and removals that leave gaps.
        with binary(OLD_BIN):
            old = pbtest.Server.for_test(self, apps=(), data_dir=self.dir)
        old.default_app = APP
        old.bind('tok-03', 'late-1', ('late-2', 5))
        old.bind('tok-new', 'acct-00', 'late-1')
        old.bind('tok-00', 'acct-00', op=3)  # imported first (i = 0)
        self.tokens = TOKENS + ['tok-new']
        self.accounts = ACCOUNTS + [('late-1', 0), ('late-2', 5)]
        self.want_by_token = {t: old_query(old, {'operator_type': 2, 'token_list': [t]})['token_accounts'][0]
                              ['account_list'] for t in self.tokens}
        self.want_by_account = {(a, ty): old_query(old, {'operator_type': 1, 'account_list': [
            {'account': a, 'account_type': ty}]})['account_tokens'][0]['token_list'] for a, ty in self.accounts}
        old.close()
        r = run(OLD_BIN, 'export', '--data', self.dir, '--access-id', APP[0])
        self.assertEqual(r.returncode, 0, r)
        self.old_export = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual(len(self.old_export), 60 + 4 - 1)

    def test_the_new_binary_upgrades_it_and_answers_every_binding_in_order(self):
        before = int(time.time() - 0.05)  # the server stamps with time(2), a coarse clock a tick behind
        srv = pbtest.Server.for_test(self, apps=(), data_dir=self.dir)
        after = int(time.time())
        srv.default_app = APP
        upgrade_lines = [line for line in srv.stderr_text.splitlines() if 'upgrading' in line]
        self.assertEqual(upgrade_lines, ['pushbind: upgrading the data directory to layout 2: 63 bindings…'])
        for token in self.tokens:
            self.assertEqual(srv.accounts_of(token), self.want_by_token[token], token)
        for account in self.accounts:
            self.assertEqual(srv.tokens_of(*account), self.want_by_account[account], account)
        status, resp = srv.query({'operator_type': 2, 'token_list': self.tokens, 'with_info': True})
        self.assertEqual(status, 200, resp)
        for entry in resp['token_accounts']:
            self.assertNotIn('platform', entry)
            for account in entry['account_list']:
                self.assertTrue(before <= account['bind_time'] <= after, account)
                self.assertEqual(account['last_bind_time'], account['bind_time'])
        # A name is found under every type it was bound under: the types come from the accounts' keys.
        status, found = srv.post('/pushbind/v1/account/find', {'account_list': [{'account': 'acct-01'},
                                                                               {'account': 'late-2'}]})
        self.assertEqual((status, found['account_types']), (200, [0, 1, 2, 5]), found)
        self.assertEqual([(e.get('account_type', 0), e['token_list']) for e in found['found'][0]['account_tokens']],
                         [(ty, self.want_by_account[('acct-01', ty)]) for ty in (0, 1, 2)
                          if self.want_by_account[('acct-01', ty)]])
        self.assertEqual(found['found'][1]['account_tokens'][0]['token_list'], self.want_by_account[('late-2', 5)])
        # A working store of the new layout: a bind appends after the upgraded ones.
        srv.bind('tok-new', 'after-upgrade')
        self.assertEqual(srv.accounts_of('tok-new'), self.want_by_token['tok-new'] + [{'account': 'after-upgrade'}])
        srv.restart()
        self.assertNotIn('upgrading', srv.stderr_text.split('---- start')[-1])
        self.assertEqual(srv.accounts_of('tok-03'), self.want_by_token['tok-03'])

    def test_export_after_the_upgrade_lists_the_same_bindings_in_the_same_order(self):
        r = run(BIN, 'export', '--data', self.dir, '--access-id', APP[0])
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('upgrading the data directory to layout 2: 63 bindings', r.stderr)
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        key = lambda x: (x['token'], x['account'], x['account_type'])  # noqa: E731
        self.assertEqual([key(x) for x in lines], [key(x) for x in self.old_export])
        self.assertTrue(all(x['bind_time'] == x['last_bind_time'] > 0 and 'platform' not in x for x in lines))


if __name__ == '__main__':
    unittest.main()
