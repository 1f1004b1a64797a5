"""docs/openapi.yaml against docs/API.md's own answers, and the check against drift.

The rest of the suite validates what the server answers; this file checks that
the document also takes the answers docs/API.md gives (extensions included) and
that the check rejects answers the document does not describe. No server.
"""

import json
import unittest

from openapi_check import check
from pbtest import BATCH, QUERY

JSON = 'application/json; charset=utf-8'
TEXT = 'text/plain; charset=utf-8'


def body(obj):
    return json.dumps(obj).encode('utf-8')


class SpecAnswersTest(unittest.TestCase):
    def test_query_by_account_with_the_snake_case_pair(self):
        check('POST', QUERY, 200, JSON, body({
            'retCode': 0, 'errMsg': 'ok', 'ret_code': 0, 'err_msg': 'ok', 'result': ['0', '0'],
            'account_tokens': [{'account': 'account1', 'token_list': ['token1', 'token2']},
                               {'account': '13800000000', 'account_type': 1, 'token_list': ['token3']}]}))

    def test_query_by_token_with_info(self):
        check('POST', QUERY, 200, JSON, body({
            'retCode': 0, 'errMsg': 'ok', 'ret_code': 0, 'err_msg': 'ok', 'result': ['0'],
            'token_accounts': [{'token': 't1', 'platform': 'android', 'account_list': [
                {'account': 'a', 'bind_time': 1764570000, 'last_bind_time': 1764570500},
                {'account': 'b', 'account_type': 2, 'bind_time': 1764570000, 'last_bind_time': 1764570000}]}]}))

    def test_query_by_account_with_info(self):
        check('POST', QUERY, 200, JSON, body({
            'retCode': 1008026, 'errMsg': 'batch op, partly error', 'ret_code': 1008026,
            'err_msg': 'batch op, partly error', 'result': ['0', '10110008'],
            'account_tokens': [
                {'account': 'a', 'token_list': ['t1', 't2'],
                 'token_info': [{'token': 't1', 'platform': 'ios', 'bind_time': 1, 'last_bind_time': 2},
                                {'token': 't2', 'bind_time': 3, 'last_bind_time': 3}]},
                {'account': '', 'token_list': [], 'token_info': []}]}))

    def test_app(self):
        check('GET', '/pushbind/v1/app', 200, JSON, body({
            'ret_code': 0, 'err_msg': 'ok', 'access_id': 1500001048, 'bindings': 1234,
            'limits': {'max_accounts_per_token': 32, 'max_tokens_per_account': 100, 'max_batch_items': 20}}))
        check('GET', '/pushbind/v1/app', 200, JSON, body({'ret_code': 1008003, 'err_msg': 'auth failure'}))

    def test_head_healthz_has_no_body(self):
        check('HEAD', '/healthz', 200, TEXT, b'')


class DriftTest(unittest.TestCase):
    def assertRejected(self, *args):
        with self.assertRaises(AssertionError) as cm:
            check(*args)
        return str(cm.exception)

    def test_an_unknown_key_is_rejected(self):
        msg = self.assertRejected('POST', BATCH, 200, JSON,
                                  body({'ret_code': 0, 'err_msg': 'ok', 'result': [], 'extra': 1}))
        self.assertIn('extra', msg)

    def test_query_keys_on_batchoperate_are_rejected(self):
        self.assertRejected('POST', BATCH, 200, JSON, body({'retCode': 0, 'errMsg': 'ok', 'result': []}))

    def test_a_zero_account_type_is_rejected(self):
        self.assertRejected('POST', QUERY, 200, JSON, body({
            'retCode': 0, 'errMsg': 'ok', 'result': ['0'],
            'token_accounts': [{'token': 't', 'account_list': [{'account': 'a', 'account_type': 0}]}]}))

    def test_half_of_the_snake_case_pair_is_rejected(self):
        self.assertRejected('POST', QUERY, 200, JSON, body({'retCode': 0, 'errMsg': 'ok', 'ret_code': 0, 'result': []}))

    def test_both_entry_lists_are_rejected(self):
        self.assertRejected('POST', QUERY, 200, JSON, body({
            'retCode': 0, 'errMsg': 'ok', 'result': [], 'account_tokens': [], 'token_accounts': []}))

    def test_an_unknown_code_or_message_is_rejected(self):
        self.assertRejected('POST', BATCH, 200, JSON, body({'ret_code': 1, 'err_msg': 'ok', 'result': []}))
        self.assertRejected('POST', BATCH, 200, JSON, body({'ret_code': 0, 'err_msg': 'OK', 'result': []}))
        self.assertRejected('POST', BATCH, 200, JSON, body({'ret_code': 0, 'err_msg': 'ok', 'result': [0]}))

    def test_an_undescribed_status_is_rejected(self):
        self.assertRejected('POST', QUERY, 500, TEXT, b'oops')
        self.assertRejected('GET', '/nowhere', 200, TEXT, b'ok\n')
        self.assertRejected('PUT', QUERY, 404, TEXT, b'not found\n')

    def test_the_documented_http_answers_pass(self):
        check('GET', '/nowhere', 404, TEXT, b'not found\n')
        check('GET', QUERY, 405, TEXT, b'method not allowed\n')
        check('GET', '/healthz?verbose=1', 200, TEXT, b'ok\n')

    def test_a_wrong_media_type_is_rejected(self):
        self.assertRejected('POST', BATCH, 200, TEXT, body({'ret_code': 0, 'err_msg': 'ok', 'result': []}))
        self.assertRejected('POST', BATCH, 200, None, body({'ret_code': 0, 'err_msg': 'ok', 'result': []}))

    def test_a_body_that_is_not_json_is_rejected(self):
        self.assertRejected('POST', QUERY, 200, JSON, b'{')

    def test_metrics_lines_are_checked(self):
        check('GET', '/metrics', 200, 'text/plain; version=0.0.4; charset=utf-8',
              b'# HELP x_total X.\n# TYPE x_total counter\nx_total{a="b c"} 1\nx_seconds_bucket{le="+Inf"} 2\n')
        self.assertRejected('GET', '/metrics', 200, TEXT, b'<html>\n')


if __name__ == '__main__':
    unittest.main()
