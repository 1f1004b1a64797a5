"""Authentication: Basic and Signature, both message orders, timestamp window (docs/API.md)."""

import base64
import signal
import time
import unittest

import pbtest
from pbtest import (APP, APP2, E_AUTH, E_MISSING, QUERY, BATCH, acc, acc_list, basic_header, batch_answer,
                    batch_error, query_answer, query_error, sign, uniq)

# A secret made of every kind of printable ASCII, including ':' (Basic splits at the first one).
COLON_APP = ('1500001051', 'colon:secret:with!"#$%&\'()*+,-./;<=>?@[\\]^_`{|}~')

# The documentation's test vector (docs/API.md).
VECTOR_TIMESTAMP = '1565314789'
VECTOR_ACCESS_ID = '1500001048'
VECTOR_SECRET = '1452fcebae9f3115ba794fb0fff2fd73'
VECTOR_BODY = (b'{"audience_type": "account","platform": "android","message": {"title": "test title",'
               b'"content": "test content","android": { "action": {"action_type": 3,'
               b'"intent": "xgscheme://com.xg.push/notify_detail?param1=xg"}}},"message_type": "notify",'
               b'"account_list": ["5822f0eee44c3625ef0000bb"] }')
VECTOR_HEX = 'cd20774682bf78bfdb43e17d1d5d56b3e5b789a1670fc1527ef54c65d2d7b76d'
VECTOR_SIGN = 'Y2QyMDc3NDY4MmJmNzhiZmRiNDNlMTdkMWQ1ZDU2YjNlNWI3ODlhMTY3MGZjMTUyN2VmNTRjNjVkMmQ3Yjc2ZA=='


def probe_body(token):
    return ('{"operator_type": 2, "token_list": ["%s"]}' % token).encode('ascii')


class SignHelperTest(unittest.TestCase):
    """The harness itself: its Sign reproduces docs/API.md's test vector."""

    def test_harness_sign_reproduces_the_documented_test_vector(self):
        self.assertEqual(base64.b64decode(VECTOR_SIGN).decode('ascii'), VECTOR_HEX)
        self.assertEqual(sign(VECTOR_SECRET, VECTOR_ACCESS_ID, VECTOR_TIMESTAMP, VECTOR_BODY), VECTOR_SIGN)


class AuthTest(pbtest.ServerTestCase):
    APPS = (APP, APP2, COLON_APP)
    # Every wrong credential below comes from one address: the throttle (test_keys.py) would answer them all.
    ARGS = ('--auth-failures', '0')

    def setUp(self):
        # One bound token per test, so that a passing request has a distinctive answer.
        self.token = uniq('tok')
        self.account = uniq('acct')
        self.srv.bind(self.token, self.account)
        self.body = probe_body(self.token)
        self.passed = query_answer('token_accounts', [{'token': self.token, 'account_list': [acc(self.account)]}],
                                   [0])

    def post_with(self, headers, body=None, path=QUERY, content_type='application/json'):
        return self.srv.post(path, self.body if body is None else body, auth=None, headers=headers,
                             content_type=content_type)

    def sign_headers(self, app=APP, ts=None, body=None, reversed_order=False, access_id=None):
        ts = int(time.time()) if ts is None else ts
        body = self.body if body is None else body
        return {'AccessId': access_id or app[0], 'TimeStamp': str(ts),
                'Sign': sign(app[1], app[0], ts, body, reversed_order)}

    def assertAuthFails(self, headers, body=None, msg=None):
        self.assertEqual(self.post_with(headers, body), (200, query_error(E_AUTH)), msg or headers)

    def assertAuthPasses(self, headers, msg=None):
        self.assertEqual(self.post_with(headers), (200, self.passed), msg or headers)

    # ---- accepted ---------------------------------------------------------------------

    def test_basic_auth_is_accepted(self):
        self.assertAuthPasses({'Authorization': basic_header(*APP)})

    def test_signature_auth_is_accepted(self):
        self.assertAuthPasses(self.sign_headers())

    def test_signature_over_accessid_then_timestamp_is_accepted(self):
        self.assertAuthPasses(self.sign_headers(reversed_order=True))

    def test_harness_auth_modes_all_pass_on_both_endpoints(self):
        for mode in ('basic', 'sign', 'sign-reversed'):
            self.assertEqual(self.srv.query(self.body, auth=mode), (200, self.passed), mode)
            t = uniq('tok')
            self.assertEqual(self.srv.batch({'operator_type': 1, 'token_accounts': [
                {'token': t, 'account_list': acc_list('x')}]}, auth=mode), (200, batch_answer(0)), mode)
            self.assertEqual(self.srv.accounts_of(t), [acc('x')], mode)

    def test_header_names_are_case_insensitive(self):
        h = self.sign_headers()
        self.assertAuthPasses({'accessid': h['AccessId'], 'timestamp': h['TimeStamp'], 'sign': h['Sign']})
        self.assertAuthPasses({'authorization': basic_header(*APP)})

    def test_signature_without_content_type_is_accepted_like_published_clients_send(self):
        self.assertEqual(self.post_with(self.sign_headers(reversed_order=True), content_type=None),
                         (200, self.passed))

    def test_valid_signature_passes_even_with_a_wrong_basic_header(self):
        h = self.sign_headers()
        h['Authorization'] = basic_header(APP[0], 'wrong-secret-wrong-secret-000000')
        self.assertAuthPasses(h)

    def test_secret_containing_colons_works_with_basic_and_signature(self):
        t = uniq('tok')
        self.srv.bind(t, 'colon-user', app=COLON_APP)
        want = query_answer('token_accounts', [{'token': t, 'account_list': [acc('colon-user')]}], [0])
        self.assertEqual(self.post_with({'Authorization': basic_header(*COLON_APP)}, probe_body(t)), (200, want))
        self.assertEqual(self.post_with(self.sign_headers(app=COLON_APP, body=probe_body(t)), probe_body(t)),
                         (200, want))

    # ---- refused -------------------------------------------------------------------------

    def test_wrong_secret_fails_basic_and_signature(self):
        wrong = (APP[0], APP2[1])
        self.assertAuthFails({'Authorization': basic_header(*wrong)})
        self.assertAuthFails(self.sign_headers(app=wrong))
        self.assertAuthFails(self.sign_headers(app=wrong, reversed_order=True))
        self.assertAuthFails({'Authorization': basic_header(APP[0], APP[1][:-1])})
        self.assertAuthFails({'Authorization': basic_header(APP[0], APP[1] + '0')})
        self.assertAuthFails({'Authorization': basic_header(APP[0], APP[1].upper())})
        self.assertAuthFails({'Authorization': basic_header(APP[0], '')})

    def test_one_apps_secret_does_not_open_another_app(self):
        # AccessId of APP2, secret of APP.
        self.assertAuthFails({'Authorization': basic_header(APP2[0], APP[1])})
        self.assertAuthFails(self.sign_headers(app=(APP2[0], APP[1])))

    def test_unknown_app_fails(self):
        for access_id in ('1599999999', '1', '999999999999999999'):
            self.assertAuthFails({'Authorization': basic_header(access_id, APP[1])})
            self.assertAuthFails(self.sign_headers(app=(access_id, APP[1])))

    def test_malformed_access_id_fails(self):
        for access_id in ('', '0', 'abc', '-1500001048', ' 1500001048', '1500001048 ', '01500001048x',
                          '1500001048.0', '99999999999999999999999'):
            self.assertAuthFails({'Authorization': basic_header(access_id, APP[1])}, msg=access_id)
            self.assertAuthFails(self.sign_headers(app=(access_id, APP[1])), msg=access_id)

    def test_no_credentials_fail(self):
        self.assertAuthFails({})

    def test_incomplete_signature_headers_fail(self):
        full = self.sign_headers()
        for missing in ('AccessId', 'TimeStamp', 'Sign'):
            h = {k: v for k, v in full.items() if k != missing}
            self.assertAuthFails(h, msg='without ' + missing)
        self.assertAuthFails(dict(full, Sign=''))
        self.assertAuthFails(dict(full, AccessId=''))

    def test_bad_base64_fails(self):
        self.assertAuthFails({'Authorization': 'Basic !!!not*base64!!!'})
        self.assertAuthFails({'Authorization': 'Basic ' + base64.b64encode(b'%s:%s' % (
            APP[0].encode(), APP[1].encode())).decode().rstrip('=') + '@@'})
        self.assertAuthFails(dict(self.sign_headers(), Sign='***not base64***'))
        # The hex digest itself, not base64-encoded, is not a valid Sign.
        good = self.sign_headers()
        self.assertAuthFails(dict(good, Sign=base64.b64decode(good['Sign']).decode('ascii')))

    def test_malformed_basic_header_fails(self):
        token = base64.b64encode(('%s:%s' % APP).encode()).decode()
        for value in ('Bearer ' + token, token, 'Basic', 'Basic ',
                      'Basic ' + base64.b64encode(APP[1].encode()).decode(),  # no AccessId
                      'Basic ' + base64.b64encode(('%s%s' % APP).encode()).decode()):  # no colon
            self.assertAuthFails({'Authorization': value}, msg=value)

    def test_signature_over_a_different_body_fails(self):
        other = probe_body(self.token + 'x')
        self.assertAuthFails(self.sign_headers(body=other))
        self.assertAuthFails(self.sign_headers(body=other, reversed_order=True))

    def test_signature_with_different_timestamp_header_than_signed_fails(self):
        now = int(time.time())
        h = self.sign_headers(ts=now)
        h['TimeStamp'] = str(now - 1)
        self.assertAuthFails(h)

    def test_non_numeric_timestamp_fails(self):
        for ts in ('abc', '', '-', '1e9', '0x5f5e100'):
            body = self.body
            h = {'AccessId': APP[0], 'TimeStamp': ts,
                 'Sign': pbtest.sign_message(APP[1], ts.encode() + APP[0].encode() + body)}
            self.assertAuthFails(h, msg=ts)

    def test_timestamp_600_seconds_off_passes(self):
        for delta in (-600, 600):
            pbtest.wait_for_second_start()
            self.assertAuthPasses(self.sign_headers(ts=int(time.time()) + delta), msg=delta)
            pbtest.wait_for_second_start()
            self.assertAuthPasses(self.sign_headers(ts=int(time.time()) + delta, reversed_order=True), msg=delta)

    def test_timestamp_601_seconds_off_fails(self):
        for delta in (-601, 601, -100000, 100000, -int(time.time())):
            pbtest.wait_for_second_start()
            self.assertAuthFails(self.sign_headers(ts=int(time.time()) + delta), msg=delta)
            pbtest.wait_for_second_start()
            self.assertAuthFails(self.sign_headers(ts=int(time.time()) + delta, reversed_order=True), msg=delta)

    # ---- ordering and side effects ---------------------------------------------------------

    def test_auth_is_checked_before_the_body_is_parsed(self):
        wrong = {'Authorization': basic_header(APP[0], APP2[1])}
        for body in (b'{not json', b'', b'[1, 2]', b'\xff\xfe'):
            self.assertEqual(self.srv.post(QUERY, body, auth=None, headers=wrong), (200, query_error(E_AUTH)))
            self.assertEqual(self.srv.post(BATCH, body, auth=None, headers=wrong), (200, batch_error(E_AUTH)))
            self.assertEqual(self.srv.post(QUERY, body, auth=None), (200, query_error(E_AUTH)))
            self.assertEqual(self.srv.post(BATCH, body, auth=None), (200, batch_error(E_AUTH)))

    def test_auth_failure_on_batchoperate_uses_snake_case_keys(self):
        self.assertEqual(self.srv.batch({'operator_type': 4, 'token_list': [self.token]}, auth=None),
                         (200, {'ret_code': 1008003, 'err_msg': 'auth failure', 'result': []}))

    def test_failed_auth_changes_nothing(self):
        fresh_token, fresh_account = uniq('tok'), uniq('acct')
        wrong_app = (APP[0], APP2[1])
        bodies = [
            {'operator_type': 1, 'token_accounts': [{'token': fresh_token, 'account_list': acc_list(fresh_account)},
                                                    {'token': self.token, 'account_list': acc_list('intruder')}]},
            {'operator_type': 2, 'token_accounts': [{'token': self.token, 'account_list': acc_list('intruder')}]},
            {'operator_type': 3, 'token_accounts': [{'token': self.token, 'account_list': acc_list(self.account)}]},
            {'operator_type': 4, 'token_list': [self.token]},
            {'operator_type': 5, 'account_list': acc_list(self.account)},
        ]
        for body in bodies:
            for kw in ({'auth': None}, {'auth': 'basic', 'app': wrong_app}, {'auth': 'sign', 'app': wrong_app},
                       {'auth': 'sign', 'timestamp': int(time.time()) - 3600}):
                self.assertEqual(self.srv.batch(body, **kw), (200, batch_error(E_AUTH)), (body, kw))
        self.assertEqual(self.srv.accounts_of(self.token), [acc(self.account)])
        self.assertEqual(self.srv.tokens_of(self.account), [self.token])
        self.assertEqual(self.srv.accounts_of(fresh_token), [])
        self.assertEqual(self.srv.tokens_of('intruder'), [])


class TimestampWindowFlagTest(unittest.TestCase):
    def test_timestamp_window_flag_sets_the_allowed_skew(self):
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--timestamp-window', '5'])
        t = uniq('tok')
        srv.bind(t, 'w')
        want = query_answer('token_accounts', [{'token': t, 'account_list': [acc('w')]}], [0])
        for delta, ok in ((-5, True), (5, True), (-6, False), (6, False), (-600, False)):
            pbtest.wait_for_second_start()
            got = srv.query(probe_body(t), auth='sign', timestamp=int(time.time()) + delta)
            self.assertEqual(got, (200, want if ok else query_error(E_AUTH)), delta)

    def test_documentation_vector_app_and_body_sign_with_a_fresh_timestamp(self):
        srv = pbtest.Server.for_test(self, apps=[(VECTOR_ACCESS_ID, VECTOR_SECRET)])
        # The documented Sign itself carries a 2019 timestamp: stale.
        stale = {'AccessId': VECTOR_ACCESS_ID, 'TimeStamp': VECTOR_TIMESTAMP, 'Sign': VECTOR_SIGN}
        self.assertEqual(srv.post(QUERY, VECTOR_BODY, auth=None, headers=stale), (200, query_error(E_AUTH)))
        # Signed now over the same bytes, it passes; the body (a push request) has no operator_type.
        for auth in ('sign', 'sign-reversed'):
            self.assertEqual(srv.post(QUERY, VECTOR_BODY, auth=auth), (200, query_error(E_MISSING)), auth)


class SecretsNotLoggedTest(unittest.TestCase):
    def test_secrets_never_appear_in_server_output(self):
        secret = 'Sup3rS3cretValue-0123456789abcdef'
        wrong = 'Wr0ngS3cretValue-fedcba9876543210'
        app = ('1500002000', secret)
        srv = pbtest.Server.for_test(self, apps=[app], args=['--rate-limit', '1000'])
        body = {'operator_type': 1, 'token_accounts': [{'token': uniq('tok'), 'account_list': acc_list('a')}]}
        answers = [
            srv.batch(body, auth='basic', app=app),
            srv.batch(body, auth='sign', app=app),
            srv.batch(body, auth='basic', app=(app[0], wrong)),
            srv.batch(body, auth='sign', app=(app[0], wrong)),
            srv.batch(body, auth='basic', app=('1500002001', wrong)),
            srv.batch(b'{not json', auth='basic', app=app),
            srv.query(body, auth='sign', app=(app[0], wrong), timestamp=1),
        ]
        srv.halt()  # flushes the server's output; exit status is test_durability's business
        srv._stdout_file.seek(0)
        out = srv._stdout_file.read().decode('utf-8', 'replace') + srv.stderr_text + repr(answers)
        for s in (secret, wrong):
            self.assertNotIn(s, out)
            self.assertNotIn(base64.b64encode(('%s:%s' % (app[0], s)).encode()).decode(), out)

    def test_secrets_never_appear_in_app_command_output_or_errors(self):
        secret, replaced = 'CliS3cretValue-0123456789abcdef', 'CliS3cretValue-fedcba9876543210'
        data = pbtest.new_temp_dir(self.addCleanup)
        runs = [
            pbtest.run_cli('app', 'add', '--data', data, '--access-id', '1500002002', '--secret-key', secret),
            pbtest.run_cli('app', 'add', '--data', data, '--access-id', '1500002002', '--secret-key', replaced),
            pbtest.run_cli('app', 'list', '--data', data),
            pbtest.run_cli('app', 'remove', '--data', data, '--access-id', '1500002003'),
            pbtest.run_cli('app', 'add', '--data', data, '--access-id', 'not-a-number', '--secret-key', secret),
            pbtest.run_cli('app', 'list', '--data', data, '--secret-key', secret),
        ]
        self.assertEqual([r.returncode for r in runs], [0, 0, 0, 1, 2, 2], runs)
        self.assertIn('1500002002', runs[2].stdout)
        for r in runs:
            for s in (secret, replaced):
                self.assertNotIn(s, r.stdout + r.stderr, r)
        # A rejected secret is not echoed either, even though it is not a real one.
        bad = 'sh0rt-s3cr3t'
        r = pbtest.run_cli('app', 'add', '--data', data, '--access-id', '1500002004', '--secret-key', bad)
        self.assertEqual(r.returncode, 2, r)
        self.assertNotIn(bad, r.stdout + r.stderr)


if __name__ == '__main__':
    unittest.main()
