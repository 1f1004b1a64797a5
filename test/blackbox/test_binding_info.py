"""Binding details (SPEC, Extensions: bind times, platform, with_info) and expiry (--binding-ttl)."""

import json
import os
import subprocess
import time
import unittest

import pbtest
from pbtest import APP, BIN, acc, uniq

APP_ID = APP[0]


def run(*args, stdin=None):
    return subprocess.run([BIN] + [str(a) for a in args], input=stdin, capture_output=True, text=True, timeout=60)


def next_second():
    """Waits until the clock's Unix second changes (at most 1.1 s), so that a later bind gets a later time.

    The server stamps bindings with time(2), which reads the kernel's coarse clock: it may
    still say the old second a few milliseconds after this process's precise clock moved
    on, so the wait ends 50 ms into the new second.
    """
    start = int(time.time())
    # `<=`, not `==`: within the first 50 ms of a second, time - 0.05 is still in the one before
    while int(time.time() - 0.05) <= start:
        time.sleep(0.02)


def poll(condition, timeout, what):
    """Polls `condition` every 50 ms until it returns a true value (returned) or `timeout` seconds pass."""
    deadline = time.time() + timeout
    while True:
        value = condition()
        if value or time.time() > deadline:
            break
        time.sleep(0.05)
    if not value:
        raise AssertionError('still not %s after %.1f s' % (what, timeout))
    return value


def info_by_token(srv, token):
    status, resp = srv.query({'operator_type': 2, 'token_list': [token], 'with_info': True})
    assert status == 200, (status, resp)
    return resp['token_accounts'][0]


def info_by_account(srv, account):
    status, resp = srv.query({'operator_type': 1, 'account_list': [{'account': account}], 'with_info': True})
    assert status == 200, (status, resp)
    return resp['account_tokens'][0]


class WithInfoTest(pbtest.ServerTestCase):

    def test_with_info_gives_times_and_platform_both_ways(self):
        t, a, b = uniq('tok'), uniq('acct'), uniq('acct')
        before = int(time.time() - 0.05)  # the server stamps with time(2), a coarse clock a tick behind
        self.srv.ok_batch({'operator_type': 1, 'platform': 'Android',
                           'token_accounts': [{'token': t, 'account_list': [acc(a), acc(b, 2)]}]})
        after = int(time.time())
        entry = info_by_token(self.srv, t)
        self.assertEqual(list(entry), ['token', 'platform', 'account_list'])
        self.assertEqual(entry['platform'], 'android')
        self.assertEqual([(x['account'], x.get('account_type', 0)) for x in entry['account_list']], [(a, 0), (b, 2)])
        for x in entry['account_list']:
            self.assertTrue(before <= x['bind_time'] <= after, x)
            self.assertEqual(x['last_bind_time'], x['bind_time'])
        entry = info_by_account(self.srv, a)
        self.assertEqual(entry['token_list'], [t])
        self.assertEqual(entry['token_info'], [{'token': t, 'platform': 'android',
                                                'bind_time': entry['token_info'][0]['bind_time'],
                                                'last_bind_time': entry['token_info'][0]['bind_time']}])

    def test_without_with_info_the_answer_is_the_tpns_one_byte_for_byte(self):
        t, a = uniq('tok'), uniq('acct')
        self.srv.ok_batch({'operator_type': 2, 'platform': 'ios', 'token_accounts': [{'token': t, 'account_list': [acc(a)]}]})
        for with_info in (None, False, 0):
            for body in ({'operator_type': 2, 'token_list': [t]}, {'operator_type': 1, 'account_list': [acc(a)]}):
                plain = self.srv.request('POST', pbtest.QUERY, body, pbtest.auth_headers('basic', APP, b''))[2]
                if with_info is not None:
                    body = dict(body, with_info=with_info)
                raw = self.srv.request('POST', pbtest.QUERY, body, pbtest.auth_headers('basic', APP, b''))[2]
                self.assertEqual(raw, plain)
                self.assertNotIn(b'platform', raw)
                self.assertNotIn(b'bind_time', raw)

    def test_a_bad_with_info_is_invalid_parameter(self):
        for bad in ('true', 2, [1], {}):
            self.assertQuery({'operator_type': 2, 'token_list': ['t'], 'with_info': bad},
                             pbtest.query_error(pbtest.E_PARAM))

    def test_rebind_refreshes_last_bind_time_and_keeps_the_place(self):
        t, a, b = uniq('tok'), uniq('acct'), uniq('acct')
        self.srv.bind(t, a, b)
        first = info_by_token(self.srv, t)['account_list']
        next_second()
        stamp = time.time()
        self.srv.bind(t, a)                                   # op 1 naming a bound pair
        self.srv.bind(t, b, a, op=2)                          # op 2 naming both
        later = info_by_token(self.srv, t)['account_list']
        self.assertEqual([x['account'] for x in later], [a, b])
        for old, new in zip(first, later):
            self.assertEqual(new['bind_time'], old['bind_time'], (first, later))
            self.assertGreater(new['last_bind_time'], old['last_bind_time'], (first, later, stamp))
        self.assertEqual(self.srv.tokens_of(a), [t])

    def test_platform_is_kept_replaced_and_left_alone(self):
        t, a, b, c = uniq('tok'), uniq('acct'), uniq('acct'), uniq('acct')
        self.srv.ok_batch({'operator_type': 1, 'platform': 'ios', 'token_accounts': [{'token': t, 'account_list': [acc(a)]}]})
        self.srv.bind(t, b)                                   # no platform: kept
        self.assertEqual(info_by_token(self.srv, t)['platform'], 'ios')
        self.assertEqual([x['platform'] for x in info_by_account(self.srv, b)['token_info']], ['ios'])
        self.srv.ok_batch({'operator_type': 1, 'platform': 'ANDROID', 'token_accounts': [{'token': t, 'account_list': [acc(c)]}]})
        self.assertEqual(info_by_token(self.srv, t)['platform'], 'android')  # replaced, for every binding
        self.assertEqual([x['platform'] for x in info_by_account(self.srv, a)['token_info']], ['android'])
        self.srv.ok_batch({'operator_type': 3, 'platform': 'ios', 'token_accounts': [{'token': t, 'account_list': [acc(a)]}]})
        self.assertEqual(info_by_token(self.srv, t)['platform'], 'android')  # an unbind leaves it
        self.srv.ok_batch({'operator_type': 4, 'token_list': [t]})
        self.srv.bind(t, a)
        self.assertNotIn('platform', info_by_token(self.srv, t))           # forgotten with the last binding

    def test_a_token_without_platform_has_none(self):
        t, a = uniq('tok'), uniq('acct')
        self.srv.bind(t, a)
        self.assertNotIn('platform', info_by_token(self.srv, t))
        self.assertEqual(list(info_by_account(self.srv, a)['token_info'][0]), ['token', 'bind_time', 'last_bind_time'])


@pbtest.lmdb_only('restart, export, import and backup work on the LMDB data directory')
class TimesSurviveTest(unittest.TestCase):

    def setUp(self):
        self.srv = pbtest.Server.for_test(self)
        self.srv.ok_batch({'operator_type': 1, 'platform': 'ios',
                           'token_accounts': [{'token': 'tok-1', 'account_list': [acc('a'), acc('b', 1)]}]})
        self.srv.bind('tok-2', 'a')
        next_second()
        self.srv.bind('tok-1', 'a')
        self.want = (info_by_token(self.srv, 'tok-1'), info_by_token(self.srv, 'tok-2'))

    def test_times_survive_a_restart(self):
        self.srv.restart()
        self.assertEqual((info_by_token(self.srv, 'tok-1'), info_by_token(self.srv, 'tok-2')), self.want)

    def test_export_writes_the_fields_and_import_keeps_them(self):
        r = run('export', '--data', self.srv.data_dir, '--access-id', APP_ID)
        self.assertEqual(r.returncode, 0, r)
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual([sorted(x) for x in lines],
                         [['account', 'account_type', 'bind_time', 'last_bind_time', 'platform', 'token']] * 2 +
                         [['account', 'account_type', 'bind_time', 'last_bind_time', 'token']])
        other = pbtest.new_temp_dir(self.addCleanup)
        pbtest.app_add(other, APP_ID, APP[1])
        path = os.path.join(other, 'in.ndjson')
        with open(path, 'w') as f:
            f.write(r.stdout)
        r = run('import', '--data', other, '--access-id', APP_ID, path)
        self.assertEqual(r.returncode, 0, r)
        srv = pbtest.Server.for_test(self, apps=[], data_dir=other)
        srv.default_app = APP
        self.assertEqual((info_by_token(srv, 'tok-1'), info_by_token(srv, 'tok-2')), self.want)

    def test_import_without_times_uses_its_own_time(self):
        other = pbtest.new_temp_dir(self.addCleanup)
        pbtest.app_add(other, APP_ID, APP[1])
        path = os.path.join(other, 'in.csv')
        with open(path, 'w') as f:
            f.write('t,a\nu,a,0,100,200,android\n')
        before = int(time.time() - 0.05)  # the server stamps with time(2), a coarse clock a tick behind
        r = run('import', '--data', other, '--access-id', APP_ID, path)
        self.assertEqual(r.returncode, 0, r)
        srv = pbtest.Server.for_test(self, apps=[], data_dir=other)
        srv.default_app = APP
        got = info_by_token(srv, 't')
        self.assertNotIn('platform', got)
        self.assertTrue(before <= got['account_list'][0]['bind_time'] <= int(time.time()))
        self.assertEqual(info_by_token(srv, 'u'), {'token': 'u', 'platform': 'android', 'account_list': [
            {'account': 'a', 'bind_time': 100, 'last_bind_time': 200}]})

    def test_backup_carries_them(self):
        dest = os.path.join(pbtest.new_temp_dir(self.addCleanup), 'copy')
        r = run('backup', '--data', self.srv.data_dir, dest)
        self.assertEqual(r.returncode, 0, r)
        srv = pbtest.Server.for_test(self, apps=[], data_dir=dest)
        srv.default_app = APP
        self.assertEqual((info_by_token(srv, 'tok-1'), info_by_token(srv, 'tok-2')), self.want)


TTL = 2


class ExpiryTest(pbtest.ServerTestCase):
    ARGS = ('--binding-ttl', '%ds' % TTL, '--max-accounts-per-token', '2')

    def expired_total(self):
        status, _, raw = self.srv.request('GET', '/metrics')
        for line in raw.decode().splitlines():
            if line.startswith('pushbind_bindings_expired_total '):
                return int(line.split()[1])
        raise AssertionError('no pushbind_bindings_expired_total in /metrics')

    def test_stale_bindings_are_gone_for_reads_and_limits_then_deleted(self):
        t, a, b, c = uniq('tok'), uniq('acct'), uniq('acct'), uniq('acct')
        counted = self.expired_total()
        self.srv.bind(t, a, b)
        first = info_by_token(self.srv, t)['account_list']
        # gone for every read once the TTL has passed
        poll(lambda: self.srv.accounts_of(t) == [], TTL + 1.5, 'expired by token')
        self.assertEqual(self.srv.tokens_of(a), [])
        # and for the limit: two fresh accounts fit where two stale ones were
        self.srv.bind(t, c, b)
        entry = info_by_token(self.srv, t)['account_list']
        self.assertEqual([x['account'] for x in entry], [c, b])   # a re-bind creates it anew, at the end
        self.assertGreater(entry[1]['bind_time'], first[1]['bind_time'])
        # deleted in the background and counted
        poll(lambda: self.expired_total() >= counted + 2, TTL + 3, 'counted as expired')

    def test_a_rebind_keeps_a_binding_alive(self):
        t, a = uniq('tok'), uniq('acct')
        self.srv.bind(t, a)
        deadline = time.time() + TTL + 1.5
        while time.time() < deadline:
            self.srv.bind(t, a)
            self.assertEqual(self.srv.accounts_of(t), [acc(a)])
            time.sleep(0.3)


if __name__ == '__main__':
    unittest.main()
