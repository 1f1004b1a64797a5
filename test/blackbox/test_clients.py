"""The request and answer shapes of published TPNS clients (SPEC: Conventions; docs/API.md "Clients").

Each test sends what one kind of client sends, byte for byte where it matters,
and reads the answer the way that client reads it.
"""

import unittest

import pbtest
from pbtest import (APP, E_AUTH, E_PARAM, acc, batch_answer, batch_error, query_answer, query_error, uniq)

WRONG_KEY = (APP[0], '0' * 32)


class BothSpellingsTest(pbtest.ServerTestCase):
    """Query answers carry retCode/errMsg and ret_code/err_msg with the same values."""

    def test_auth_failure_on_query_is_readable_under_both_spellings(self):
        for auth in ('basic', 'sign', 'sign-reversed'):
            status, resp = self.srv.query({'operator_type': 2, 'token_list': ['t']}, auth=auth, app=WRONG_KEY)
            self.assertEqual((status, resp), (200, query_error(E_AUTH)), auth)
            self.assertEqual(list(resp), ['retCode', 'errMsg', 'ret_code', 'err_msg', 'result'])

    def test_item_errors_and_success_carry_both_spellings(self):
        t = uniq('tok')
        self.srv.bind(t, 'a')
        status, resp = self.srv.query({'operator_type': 2, 'token_list': [t, 'has space']})
        self.assertEqual((status, resp['ret_code'], resp['err_msg']), (200, resp['retCode'], resp['errMsg']))
        self.assertEqual(resp['ret_code'], pbtest.E_PARTIAL)

    def test_batchoperate_answers_keep_only_snake_case(self):
        status, resp = self.srv.batch({'operator_type': 4, 'token_list': ['t']}, app=WRONG_KEY)
        self.assertEqual((status, resp), (200, batch_error(E_AUTH)))


class StringIntegersTest(pbtest.ServerTestCase):
    """operator_type and account_type as strings of decimal digits mean the number."""

    def test_string_operator_type_and_account_type_on_both_endpoints(self):
        t, a = uniq('tok'), uniq('acct')
        self.assertBatch({'operator_type': '1', 'token_accounts': [
            {'token': t, 'account_list': [{'account': a, 'account_type': '1'}]}]}, batch_answer(0))
        self.assertQuery({'operator_type': '2', 'token_list': [t]},
                         query_answer('token_accounts', [{'token': t, 'account_list': [acc(a, 1)]}], [0]))
        self.assertQuery({'operator_type': '1', 'account_list': [{'account': a, 'account_type': '1'}]},
                         query_answer('account_tokens', [{'account': a, 'account_type': 1, 'token_list': [t]}],
                                      [0]))

    def test_other_strings_stay_invalid_parameter(self):
        for bad in ('', ' 1', '1 ', '+1', '-1', '0x1', '1.0', 'one', '99999999999999999999'):
            self.assertBatch({'operator_type': bad, 'token_list': ['t']}, batch_error(E_PARAM))
            self.assertQuery({'operator_type': bad, 'token_list': ['t']}, query_error(E_PARAM))
        t = uniq('tok')
        for bad in ('', ' 1', '-1', '2147483648', 'x'):
            self.assertBatch({'operator_type': 1, 'token_accounts': [
                {'token': t, 'account_list': [{'account': 'a', 'account_type': bad}]}]}, batch_answer(E_PARAM))


class TopLevelAccountTypeTest(pbtest.ServerTestCase):
    """A top-level account_type is the type of every account element without its own."""

    def test_top_level_type_applies_to_every_list_of_accounts(self):
        t, a, b = uniq('tok'), uniq('acct'), uniq('acct')
        self.assertBatch({'operator_type': 1, 'account_type': 2, 'token_accounts': [
            {'token': t, 'account_list': [{'account': a}, {'account': b, 'account_type': 0}]}]}, batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc(a, 2), acc(b)])
        self.assertQuery({'operator_type': 1, 'account_type': '2', 'account_list': [{'account': a}]},
                         query_answer('account_tokens', [{'account': a, 'account_type': 2, 'token_list': [t]}],
                                      [0]))
        # op 3 unbinds a of type 2, the one bound above
        self.assertBatch({'operator_type': 3, 'token_accounts': [{'token': t, 'account_list': [{'account': a}]}],
                          'account_type': 2}, batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc(b)])
        self.srv.bind(t, (a, 2))
        # op 5 unbinds every token of a of type 2
        self.assertBatch({'operator_type': 5, 'account_type': 2, 'account_list': [{'account': a}]}, batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc(b)])

    def test_a_bad_top_level_type_is_invalid_parameter(self):
        for bad in (-1, 2147483648, 'x', [2]):
            self.assertBatch({'operator_type': 5, 'account_type': bad, 'account_list': [{'account': 'a'}]},
                             batch_error(E_PARAM))
            self.assertQuery({'operator_type': 1, 'account_type': bad, 'account_list': [{'account': 'a'}]},
                             query_error(E_PARAM))


class PublishedClientShapesTest(pbtest.ServerTestCase):

    def test_go_sdk_shape(self):
        """Always sends platform, never account_type; signs AccessId + TimeStamp + body; no Content-Type;
        reads ret_code/err_msg and token_accounts."""
        t, a = uniq('tok'), uniq('acct')
        body = ('{"operator_type":2,"platform":"android","token_accounts":[{"token":"%s",'
                '"account_list":[{"account":"%s"}]}]}' % (t, a)).encode('ascii')
        status, resp = self.srv.batch(body, auth='sign-reversed', content_type=None)
        self.assertEqual((status, resp), (200, batch_answer(0)))
        body = ('{"operator_type":2,"platform":"android","token_list":["%s"]}' % t).encode('ascii')
        status, resp = self.srv.query(body, auth='sign-reversed', content_type=None)
        self.assertEqual(status, 200)
        self.assertEqual((resp['ret_code'], resp['err_msg']), (0, 'ok'))
        self.assertEqual(resp['token_accounts'], [{'token': t, 'account_list': [acc(a)]}])
        status, resp = self.srv.query(body, auth='sign-reversed', content_type=None, app=WRONG_KEY)
        self.assertEqual((status, resp['ret_code'], resp['err_msg']), (200, E_AUTH, 'auth failure'))

    def test_feign_client_shape(self):
        """Sends the XG-era op_type/op_id operator fields (ignored); reads ret_code on query answers."""
        t, a = uniq('tok'), uniq('acct')
        self.assertBatch({'operator_type': 1, 'op_type': 'qq', 'op_id': 12345,
                          'token_accounts': [{'token': t, 'account_list': [{'account': a}]}]}, batch_answer(0))
        status, resp = self.srv.query({'operator_type': 1, 'op_type': 'qq', 'op_id': 12345,
                                       'account_list': [{'account': a}]})
        self.assertEqual((status, resp['ret_code']), (200, 0))
        self.assertEqual(resp['account_tokens'], [{'account': a, 'token_list': [t]}])

    def test_php_client_shape(self):
        """Content-type with a quoted charset, integers as strings."""
        t, a = uniq('tok'), uniq('acct')
        ctype = "application/json;charset='utf-8'"
        status, resp = self.srv.batch({'operator_type': '2', 'platform': 'ios', 'token_accounts': [
            {'token': t, 'account_list': [{'account': a, 'account_type': '1'}]}]}, content_type=ctype)
        self.assertEqual((status, resp), (200, batch_answer(0)))
        status, resp = self.srv.query({'operator_type': '1', 'account_list': [{'account': a, 'account_type': '1'}]},
                                      content_type=ctype)
        self.assertEqual((status, resp),
                         (200, query_answer('account_tokens', [{'account': a, 'account_type': 1, 'token_list': [t]}],
                                            [0])))


if __name__ == '__main__':
    unittest.main()
