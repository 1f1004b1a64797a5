"""GET /pushbind/v1/app and an app's credentials on the write path: the binding
count and limits an app is told, and the refusals a wrong key, an unknown app
and an app removed while the server runs get. Runs on every store."""

import time
import unittest

import pbtest
from pbtest import APP, APP2, BATCH, E_AUTH, acc_list, basic_header, batch_answer, batch_error, query_error, uniq

APP_PATH = '/pushbind/v1/app'
REMOVED = ('1500001077', '0123456789abcdef0123456789abcdef')


def app_info(srv, app=APP, auth='sign'):
    """GET /pushbind/v1/app with `app`'s credentials: (status, parsed JSON)."""
    status, _, raw = srv.request('GET', APP_PATH, headers=pbtest.auth_headers(auth, app, b''))
    return status, pbtest.parse_json(raw)


class AppInfoTest(unittest.TestCase):
    def setUp(self):
        self.srv = pbtest.Server.for_test(self, apps=[APP, APP2, REMOVED])

    def test_app_info_gives_the_binding_count_and_the_limits(self):
        self.srv.bind(uniq('tok'), 'a', 'b')
        self.srv.bind(uniq('tok'), 'a')
        for auth in ('sign', 'basic'):
            status, info = app_info(self.srv, auth=auth)
            self.assertEqual(status, 200)
            self.assertEqual((info['ret_code'], info['access_id'], info['bindings']), (0, int(APP[0]), 3), info)
            self.assertEqual(info['limits']['max_accounts_per_token'], 32)
            self.assertEqual(info['limits']['max_tokens_per_account'], 100)
        self.assertEqual(app_info(self.srv, app=APP2)[1]['bindings'], 0)

    def test_the_tag_limits_are_given_with_the_binding_limits(self):
        self.assertEqual(app_info(self.srv)[1]['limits'], {
            'max_accounts_per_token': 32, 'max_tokens_per_account': 100, 'max_query_items': 1000,
            'max_batch_items': 20, 'max_list_items': 100, 'max_account_bytes': 128, 'max_token_bytes': 256,
            'max_tag_items': 500, 'max_tags_per_token': 100, 'max_tags_per_app': 10000, 'max_tag_chars': 50})
        flags = ['--max-tag-items', '7', '--max-tags-per-token', '3', '--max-tags-per-app', '12', '--max-tag-chars', '9']
        limits = app_info(pbtest.Server.for_test(self, apps=[APP], args=flags))[1]['limits']
        self.assertEqual((limits['max_tag_items'], limits['max_tags_per_token'], limits['max_tags_per_app'],
                          limits['max_tag_chars'], limits['max_accounts_per_token']), (7, 3, 12, 9, 32))

    def test_the_environment_name_is_given_only_when_set(self):
        self.assertNotIn('environment', app_info(self.srv)[1])
        named = pbtest.Server.for_test(self, apps=[APP], args=['--environment', 'staging eu-1'])
        self.assertEqual(app_info(named)[1]['environment'], 'staging eu-1')
        for bad in ('', 'x' * 33, 'tab\there'):
            d = pbtest.new_temp_dir(self.addCleanup)
            r = pbtest.run_cli('serve', '--data', d, '--listen', '127.0.0.1:0', '--environment', bad)
            self.assertEqual(r.returncode, 2, r)
            self.assertIn('--environment', r.stderr)

    def test_app_info_with_a_wrong_key_or_an_unknown_app_is_an_auth_failure(self):
        refused = (200, {'ret_code': E_AUTH, 'err_msg': 'auth failure'})
        self.assertEqual(app_info(self.srv, app=(APP[0], APP2[1])), refused)
        self.assertEqual(app_info(self.srv, app=('1599999999', APP[1])), refused)
        self.assertEqual(app_info(self.srv, app=('1599999999', APP[1]), auth='basic'), refused)

    def test_batchoperate_with_a_wrong_key_or_an_unknown_app_is_an_auth_failure(self):
        body = {'operator_type': 1, 'token_accounts': [{'token': uniq('tok'), 'account_list': acc_list('a')}]}
        for app in ((APP[0], APP2[1]), ('1599999999', APP[1])):
            for auth in ('basic', 'sign'):
                self.assertEqual(self.srv.batch(body, app=app, auth=auth), (200, batch_error(E_AUTH)), (app, auth))
        # The Basic header naming one app and the Signature another: the valid one is enough.
        self.assertEqual(self.srv.batch(body, auth='sign', headers={'Authorization': basic_header(APP2[0], APP[1])}),
                         (200, batch_answer(0)))

    def test_an_app_removed_while_the_server_runs_is_refused_everywhere(self):
        token = uniq('tok')
        self.srv.bind(token, 'a', app=REMOVED)
        self.assertEqual(app_info(self.srv, app=REMOVED)[1]['bindings'], 1)
        r = pbtest.run_cli('app', 'remove', '--data', self.srv.data_dir, '--access-id', REMOVED[0])
        self.assertEqual(r.returncode, 0, r)
        body = {'operator_type': 1, 'token_accounts': [{'token': token, 'account_list': acc_list('b')}]}
        # Redis tells the servers (each thread keeps a secret it read for a second): allow that second.
        deadline = time.time() + 1.5
        while self.srv.batch(body, app=REMOVED) != (200, batch_error(E_AUTH)):
            self.assertLess(time.time(), deadline, 'the removed app can still write')
            time.sleep(0.05)
        # another thread may still hold the secret until the message reaches it: the same second
        while app_info(self.srv, app=REMOVED) != (200, {'ret_code': E_AUTH, 'err_msg': 'auth failure'}):
            self.assertLess(time.time(), deadline, 'the removed app can still read its record')
            time.sleep(0.05)
        while self.srv.query({'operator_type': 2, 'token_list': [token]}, app=REMOVED) != (200, query_error(E_AUTH)):
            self.assertLess(time.time(), deadline, 'the removed app can still query')
            time.sleep(0.05)
        self.assertEqual(app_info(self.srv)[1]['ret_code'], 0)


if __name__ == '__main__':
    unittest.main()
