"""Named keys (pushbind key add|list|revoke): roles, expiry, revocation and
rotation on a running server; access-log lines that say who; failed
authentication counted and throttled per client address. Runs on every store."""

import http.client
import json
import os
import re
import time
import unittest

import pbtest
from pbtest import APP, APP2, BATCH, E_AUTH, QUERY, acc, acc_list, batch_answer, batch_error, query_answer, \
    query_error, run_cli, uniq
from test_accesslog import wait_for_lines

E_RATE = 1008028
APP_PATH = '/pushbind/v1/app'
KEY_RE = re.compile(r'^[0-9a-f]{32}$')


def key_add(srv, name, role, app=APP, expires=None):
    """`pushbind key add` on srv's store; returns the new key (the last line of stdout)."""
    args = ['key', 'add', '--data', srv.data_dir, '--access-id', app[0], '--name', name, '--role', role]
    if expires is not None:
        args += ['--expires', expires]
    r = run_cli(*args)
    if r.returncode != 0:
        raise AssertionError('key add failed: %r' % (r,))
    last = r.stdout.rstrip('\n').split('\n')[-1]
    if not KEY_RE.match(last):
        raise AssertionError('key add: the last line is not a key: %r' % (r,))
    return last


def key_cli(srv, verb, *args, app=APP):
    return run_cli('key', verb, '--data', srv.data_dir, '--access-id', app[0], *args)


def bind_body(token, account='a'):
    return {'operator_type': 1, 'token_accounts': [{'token': token, 'account_list': acc_list(account)}]}


def by_token(token):
    return {'operator_type': 2, 'token_list': [token]}


def bound(token, *accounts):
    return query_answer('token_accounts', [{'token': token, 'account_list': [acc(a) for a in accounts]}],
                        [0 if accounts else 10110008])


class NamedKeyTest(unittest.TestCase):
    def setUp(self):
        self.dir = pbtest.new_temp_dir(self.addCleanup)
        self.log = os.path.join(self.dir, 'access.log')
        self.srv = pbtest.Server.for_test(self, apps=[APP, APP2], args=['--log-file', self.log,
                                                                       '--log-format', 'json'])

    def log_records(self, n):
        return [json.loads(l) for l in wait_for_lines(self.log, n)]

    def test_key_add_prints_the_key_alone_and_list_shows_everything_but_the_secret(self):
        key = key_add(self.srv, 'alice@ops', 'read', expires='2h')
        key_add(self.srv, 'deploy-2026.12', 'write')
        listed = key_cli(self.srv, 'list')
        self.assertEqual(listed.returncode, 0, listed)
        self.assertNotIn(key, listed.stdout + listed.stderr)
        rows = [l.split() for l in listed.stdout.strip().split('\n')]
        self.assertEqual(rows[0], ['NAME', 'ROLE', 'CREATED', 'EXPIRES'])
        named = {r[0]: r for r in rows[1:]}
        self.assertEqual(sorted(named), ['alice@ops', 'deploy-2026.12'])
        self.assertEqual(named['alice@ops'][1], 'read')
        self.assertRegex(named['alice@ops'][3], r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$')
        self.assertEqual(named['deploy-2026.12'][1:4:2], ['write', 'never'])

    def test_names_and_roles_are_checked_and_a_name_is_taken_once(self):
        key_add(self.srv, 'bob', 'write')
        for args in (['--name', 'bob', '--role', 'write'], ['--name', 'has space', '--role', 'read'],
                     ['--name', 'x' * 65, '--role', 'read'], ['--name', 'ok', '--role', 'admin'],
                     ['--name', 'ok']):
            r = key_cli(self.srv, 'add', *args)
            self.assertNotEqual(r.returncode, 0, r)
            self.assertFalse(KEY_RE.match(r.stdout.strip().split('\n')[-1]), r)
        self.assertNotEqual(key_cli(self.srv, 'add', '--name', 'c', '--role', 'read', app=('1599999998', '')).returncode, 0)
        self.assertNotEqual(key_cli(self.srv, 'revoke', '--name', 'nobody').returncode, 0)

    def test_a_write_key_passes_both_schemes_and_the_log_names_it(self):
        key = key_add(self.srv, 'backend-2', 'write')
        t = uniq('tok')
        for auth in ('basic', 'sign', 'sign-reversed'):
            self.assertEqual(self.srv.batch(bind_body(t), auth=auth, app=(APP[0], key)), (200, batch_answer(0)))
        self.assertEqual(self.srv.query(by_token(t), app=(APP[0], key)), (200, bound(t, 'a')))
        self.assertEqual(self.srv.query(by_token(t)), (200, bound(t, 'a')))  # the app's own key still works
        # a key is its app's, not another's
        self.assertEqual(self.srv.query(by_token(t), app=(APP2[0], key)), (200, query_error(E_AUTH)))
        records = self.log_records(6)
        self.assertEqual([r.get('key') for r in records], ['backend-2'] * 4 + ['main', None])
        self.assertEqual(records[-1]['auth'], 'wrong_key')
        self.assertEqual(records[-1]['tried'], APP2[0])
        self.assertEqual(records[0]['client'], '127.0.0.1')

    def test_a_read_key_queries_but_its_batchoperate_is_refused_and_changes_nothing(self):
        key = key_add(self.srv, 'support', 'read')
        reader = (APP[0], key)
        t = uniq('tok')
        self.srv.ok_batch(bind_body(t))
        self.assertEqual(self.srv.query(by_token(t), app=reader), (200, bound(t, 'a')))
        self.assertEqual(self.srv.query(by_token(t), app=reader, auth='sign'), (200, bound(t, 'a')))
        status, _, raw = self.srv.request('GET', APP_PATH, headers=pbtest.auth_headers('sign', reader, b''))
        self.assertEqual((status, pbtest.parse_json(raw)['ret_code']), (200, 0))
        for op in ({'operator_type': 4, 'token_list': [t]}, bind_body(t, 'b')):
            for auth in ('basic', 'sign'):
                self.assertEqual(self.srv.batch(op, app=reader, auth=auth), (200, batch_error(E_AUTH)))
        self.assertEqual(self.srv.query(by_token(t)), (200, bound(t, 'a')))
        status, metrics, _ = self.srv.request('GET', '/metrics')
        status, _, raw = self.srv.request('GET', '/metrics')
        self.assertRegex(raw.decode(), r'pushbind_auth_failures_total\{reason="read_only"\} 4\n')

    def test_rotation_without_an_outage_add_switch_revoke(self):
        old = key_add(self.srv, 'backend-2026-11', 'write')
        t = uniq('tok')
        self.srv.ok_batch(bind_body(t), app=(APP[0], old))
        new = key_add(self.srv, 'backend-2026-12', 'write')  # the server runs on: both work at once
        self.assertEqual(self.srv.batch(bind_body(t, 'b'), app=(APP[0], old)), (200, batch_answer(0)))
        self.assertEqual(self.srv.batch(bind_body(t, 'c'), app=(APP[0], new), auth='sign'), (200, batch_answer(0)))
        r = key_cli(self.srv, 'revoke', '--name', 'backend-2026-11')
        self.assertEqual(r.returncode, 0, r)
        # the running server hears of it as of an app's removal: a message from the store, not a restart
        deadline = time.time() + 1.5
        while self.srv.query(by_token(t), app=(APP[0], old)) != (200, query_error(E_AUTH)):
            self.assertLess(time.time(), deadline, 'the revoked key still passes')
            time.sleep(0.05)
        self.assertEqual(self.srv.query(by_token(t), app=(APP[0], old), auth='sign'), (200, query_error(E_AUTH)))
        self.assertEqual(self.srv.query(by_token(t), app=(APP[0], new)), (200, bound(t, 'a', 'b', 'c')))
        self.assertNotIn('backend-2026-11', key_cli(self.srv, 'list').stdout)

    def test_a_new_key_passes_at_once_on_every_thread_that_cached_the_app(self):
        # Each connection stays on one of the server's threads; every thread reads the app's secret first.
        conns = [self.srv.new_connection() for _ in range(8)]
        for conn in conns:
            self.addCleanup(conn.close)
        t = uniq('tok')
        self.srv.ok_batch(bind_body(t))

        def ask(conn, app, auth):
            body = pbtest.encode_body(by_token(t))
            conn.request('POST', QUERY, body, pbtest.auth_headers(auth, app, body))
            return json.loads(conn.getresponse().read())

        for conn in conns:
            self.assertEqual(ask(conn, APP, 'basic')['ret_code'], 0)
        new = key_add(self.srv, 'just-made', 'read')
        for conn in conns:  # no wait: the store's message to the other threads may not have come yet
            for auth in ('basic', 'sign'):
                self.assertEqual(ask(conn, (APP[0], new), auth), bound(t, 'a'), auth)

    def test_an_expired_key_is_refused_like_a_wrong_one(self):
        key = key_add(self.srv, 'temp', 'write', expires='2s')
        t = uniq('tok')
        self.assertEqual(self.srv.query(by_token(t), app=(APP[0], key)), (200, bound(t)))
        time.sleep(2.5)
        self.assertEqual(self.srv.query(by_token(t), app=(APP[0], key)), (200, query_error(E_AUTH)))
        self.assertEqual(self.srv.query(by_token(t), app=(APP[0], key), auth='sign'), (200, query_error(E_AUTH)))
        self.assertIn('(expired)', key_cli(self.srv, 'list').stdout)

    def test_app_remove_removes_its_keys(self):
        key = key_add(self.srv, 'gone', 'write', app=APP2)
        self.assertEqual(self.srv.query(by_token('x'), app=(APP2[0], key)), (200, bound('x')))
        r = run_cli('app', 'remove', '--data', self.srv.data_dir, '--access-id', APP2[0])
        self.assertEqual(r.returncode, 0, r)
        pbtest.app_add(self.srv.data_dir, APP2[0], APP2[1], store_url=self.srv.store_url)
        listed = key_cli(self.srv, 'list', app=APP2)
        self.assertEqual(listed.stdout.strip().split('\n')[1:], [], listed)
        self.assertEqual(self.srv.query(by_token('x'), app=(APP2[0], key)), (200, query_error(E_AUTH)))
        self.assertEqual(self.srv.query(by_token('x'), app=APP2), (200, bound('x')))


class WhoLogTest(unittest.TestCase):
    def start(self, *args, fmt='text'):
        self.dir = pbtest.new_temp_dir(self.addCleanup)
        self.log = os.path.join(self.dir, 'access.log')
        return pbtest.Server.for_test(self, apps=[APP], args=['--log-file', self.log, '--log-format', fmt] +
                                      list(args))

    def lines(self, n):
        return wait_for_lines(self.log, n)

    def test_an_untrusted_peer_s_forwarded_hop_is_not_believed(self):
        srv = self.start('--trusted-proxy', '192.0.2.0/24,10.0.0.0/8')
        srv.query(by_token('t'), headers={'X-Forwarded-For': '203.0.113.7'})
        lines = self.lines(1)
        self.assertRegex(lines[0], r' client=127\.0\.0\.1 key=main$')

    def test_a_bad_trusted_proxy_is_refused_at_start(self):
        for bad in ('10.0.0.0/33', 'example.com', '10.0.0.1,,10.0.0.2', ''):
            r = run_cli('serve', '--data', pbtest.new_temp_dir(self.addCleanup), '--listen', '127.0.0.1:0',
                        '--trusted-proxy', bad)
            self.assertEqual(r.returncode, 2, r)
            self.assertIn('--trusted-proxy', r.stderr)

    def test_trusted_hop_and_unknown_path_in_text_lines(self):
        srv = self.start('--trusted-proxy', '127.0.0.1')
        srv.query(by_token('t'), headers={'X-Forwarded-For': '203.0.113.7, 10.1.2.3'})
        srv.query(by_token('t'), headers={'X-Forwarded-For': 'not-an-address'})
        srv.request('GET', '/no"where\\x%00?secret=hidden')
        srv.query(by_token('t'), app=('1599999999', APP[1]))
        lines = self.lines(4)
        self.assertNotIn('hidden', '\n'.join(lines))
        self.assertRegex(lines[0], r' client=127\.0\.0\.1 fwd=203\.0\.113\.7 key=main$')
        self.assertRegex(lines[1], r' client=127\.0\.0\.1 key=main$')
        self.assertRegex(lines[2], r' endpoint=other .* key=- path="/no\\"where\\\\x%00"$')
        self.assertRegex(lines[3], r' key=- auth=unknown_app tried=1599999999$')

    def test_unknown_path_in_json_lines_is_escaped(self):
        srv = self.start(fmt='json')
        srv.request('GET', '/a"b\\c')
        srv.query(by_token('t'), auth=None)
        records = [json.loads(l) for l in self.lines(2)]
        self.assertEqual((records[0]['endpoint'], records[0]['path'], records[0]['client']),
                         ('other', '/a"b\\c', '127.0.0.1'))
        self.assertEqual((records[1]['auth'], records[1]['tried'], records[1]['key']), ('missing', None, None))


class ThrottleTest(unittest.TestCase):
    LIMIT = 5

    def start(self, limit):
        return pbtest.Server.for_test(self, apps=[APP], args=['--auth-failures', limit])

    def query_from(self, srv, source, app, auth='basic'):
        conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10, source_address=(source, 0))
        try:
            body = pbtest.encode_body(by_token('t'))
            headers = {'Content-Type': 'application/json'}
            headers.update(pbtest.auth_headers(auth, app, body))
            conn.request('POST', QUERY, body=body, headers=headers)
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def test_wrong_keys_are_throttled_after_the_limit_and_other_addresses_are_not(self):
        srv = self.start(self.LIMIT)
        wrong = (APP[0], 'f' * 32)
        codes = [srv.query(by_token('t'), app=wrong, auth='sign' if i % 2 else 'basic')[1]['ret_code']
                 for i in range(300)]
        self.assertEqual(codes, [E_AUTH] * self.LIMIT + [E_RATE] * (300 - self.LIMIT))
        # the right key from the throttled address waits for the minute too; from another, it passes
        self.assertEqual(srv.query(by_token('t'))[1]['ret_code'], E_RATE)
        self.assertEqual(self.query_from(srv, '127.0.0.2', APP), bound('t'))
        self.assertEqual(self.query_from(srv, '127.0.0.2', APP, auth='sign'), bound('t'))
        status, _, raw = srv.request('GET', '/metrics')
        text = raw.decode()
        self.assertRegex(text, r'pushbind_auth_failures_total\{reason="wrong_key"\} %d\n' % self.LIMIT)
        self.assertRegex(text, r'pushbind_auth_failures_total\{reason="throttled"\} %d\n' % (300 - self.LIMIT + 1))

    def test_zero_turns_the_throttle_off(self):
        srv = self.start(0)
        wrong = (APP[0], 'f' * 32)
        codes = {srv.query(by_token('t'), app=wrong)[1]['ret_code'] for _ in range(60)}
        self.assertEqual(codes, {E_AUTH})
        self.assertEqual(srv.query(by_token('t')), (200, bound('t')))


if __name__ == '__main__':
    unittest.main()
