"""serve --admin-listen: the operator's listener for /console/, /metrics and /healthz.

With it, those paths answer there and 404 on --listen; the API answers on
--listen and, for the console's calls from its own origin, on the operator's
listener too. Without it, everything is on --listen.
"""

import json
import shutil
import subprocess
import tempfile
import unittest

import pbtest
from pbtest import APP, BATCH, QUERY, acc, uniq
from test_tls import make_self_signed

OPERATOR_PATHS = ['/healthz', '/metrics', '/console/', '/console/api.js', '/console/console.js']
APP_PATH = '/pushbind/v1/app'


def signed_get(app):
    """Signature headers for a GET: over the empty body."""
    return pbtest.auth_headers('sign', app, b'')


class AdminListenerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = pbtest.Server.for_class(cls, apps=[APP], args=['--admin-listen', '127.0.0.1:0'])

    def test_startup_prints_the_admin_line_before_the_api_line(self):
        text = self.srv.stderr_text
        admin = 'pushbind: admin listening on http://127.0.0.1:%d\n' % self.srv.admin_port
        api = 'pushbind: listening on http://127.0.0.1:%d ' % self.srv.port
        self.assertIn(admin, text)
        self.assertLess(text.index(admin), text.index(api))
        self.assertNotEqual(self.srv.admin_port, self.srv.port)

    def test_operator_paths_answer_on_the_admin_listener(self):
        for path in OPERATOR_PATHS:
            status, _, _ = self.srv.admin_request('GET', path)
            self.assertEqual(status, 200, path)
        status, headers, _ = self.srv.admin_request('GET', '/console')
        self.assertEqual((status, headers['Location']), (301, '/console/'))

    def test_operator_paths_answer_404_on_the_api_listener(self):
        for path in OPERATOR_PATHS + ['/console']:
            status, _, body = self.srv.request('GET', path)
            self.assertEqual((status, body), (404, b'not found\n'), path)
        status, _, _ = self.srv.request('HEAD', '/healthz')
        self.assertEqual(status, 404)

    def test_api_answers_on_the_api_listener(self):
        t = uniq('tok')
        self.srv.bind(t, 'on-api')
        self.assertEqual(self.srv.accounts_of(t), [acc('on-api')])
        status, _, raw = self.srv.request('GET', APP_PATH, headers=signed_get(APP))
        self.assertEqual((status, json.loads(raw)['ret_code']), (200, 0))

    def test_api_answers_on_the_admin_listener_for_the_console(self):
        t = uniq('tok')
        self.srv.bind(t, 'seen-by-console')
        body = pbtest.encode_body({'operator_type': 2, 'token_list': [t]})
        status, _, raw = self.srv.admin_request('POST', QUERY, body, pbtest.auth_headers('sign', APP, body))
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(raw)['token_accounts'], [{'token': t, 'account_list': [acc('seen-by-console')]}])
        body = pbtest.encode_body({'operator_type': 4, 'token_list': [t]})
        status, _, raw = self.srv.admin_request('POST', BATCH, body, pbtest.auth_headers('sign', APP, body))
        self.assertEqual((status, json.loads(raw)['ret_code']), (200, 0))
        self.assertEqual(self.srv.accounts_of(t), [])
        status, _, raw = self.srv.admin_request('GET', APP_PATH, headers=signed_get(APP))
        self.assertEqual((status, json.loads(raw)['ret_code']), (200, 0))

    def test_api_on_the_admin_listener_authenticates_like_on_the_api_listener(self):
        body = pbtest.encode_body({'operator_type': 2, 'token_list': ['x']})
        status, _, raw = self.srv.admin_request('POST', QUERY, body)
        self.assertEqual((status, json.loads(raw)['retCode']), (200, pbtest.E_AUTH))

    def test_unknown_paths_answer_404_on_the_admin_listener(self):
        status, _, body = self.srv.admin_request('GET', '/nothing')
        self.assertEqual((status, body), (404, b'not found\n'))


class WithoutAdminListenerTest(unittest.TestCase):
    def test_everything_stays_on_listen(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        self.assertIsNone(srv.admin_port)
        self.assertNotIn('admin listening', srv.stderr_text)
        for path in OPERATOR_PATHS:
            status, _, _ = srv.request('GET', path)
            self.assertEqual(status, 200, path)
        status, _, raw = srv.request('GET', APP_PATH, headers=signed_get(APP))
        self.assertEqual((status, json.loads(raw)['ret_code']), (200, 0))

    def test_console_off_answers_404_on_the_admin_listener(self):
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--admin-listen', '127.0.0.1:0', '--console', 'off'])
        self.assertEqual(srv.admin_request('GET', '/console/')[0], 404)
        self.assertEqual(srv.admin_request('GET', '/healthz')[0], 200)


class AdminListenerFlagTest(unittest.TestCase):
    def test_a_malformed_address_is_a_usage_error(self):
        d = pbtest.new_temp_dir(self.addCleanup)
        r = pbtest.run_cli('serve', '--data', d, '--listen', '127.0.0.1:0', '--admin-listen', 'nowhere')
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("--admin-listen: 'nowhere' is not HOST:PORT", r.stderr)

    def test_the_api_listeners_own_address_is_refused(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        d = pbtest.new_temp_dir(self.addCleanup)
        address = '127.0.0.1:%d' % srv.port
        r = pbtest.run_cli('serve', '--data', d, '--listen', '127.0.0.1:0', '--admin-listen', address)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn('for --admin-listen: in use', r.stderr)

    def test_a_second_server_on_a_served_address_refuses_to_start(self):
        # SO_REUSEPORT would let it join the first silently, each answering some connections.
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--admin-listen', '127.0.0.1:0'])
        for flag, port in (('--listen', srv.port), ('--admin-listen', srv.admin_port)):
            d = pbtest.new_temp_dir(self.addCleanup)
            argv = ['serve', '--data', d, '--listen', '127.0.0.1:%d' % port]
            if flag == '--admin-listen':
                argv = ['serve', '--data', d, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:%d' % port]
            r = pbtest.run_cli(*argv)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn('127.0.0.1:%d for %s: in use' % (port, flag), r.stderr)
        self.assertEqual(srv.accounts_of('nobody-took-my-port'), [])


class AdminListenerTlsTest(unittest.TestCase):
    def test_tls_covers_both_listeners(self):
        d = tempfile.mkdtemp(prefix='pushbind-admin-tls-')
        self.addCleanup(shutil.rmtree, d, True)
        cert, key = make_self_signed(d)
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--tls-cert', cert, '--tls-key', key,
                                                             '--admin-listen', '127.0.0.1:0'])
        self.assertIn('admin listening on https://127.0.0.1:%d' % srv.admin_port, srv.stderr_text)
        for port, path, want in ((srv.admin_port, '/healthz', 'ok\n'), (srv.port, '/healthz', 'not found\n')):
            r = subprocess.run(['curl', '-sS', '--cacert', cert, 'https://127.0.0.1:%d%s' % (port, path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            self.assertEqual((r.returncode, r.stdout.decode()), (0, want), r.stderr)


if __name__ == '__main__':
    unittest.main()
