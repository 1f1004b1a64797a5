"""POST /v3/device/account/query — who is bound to what (docs/API.md, and the TPNS query page)."""

import json
import unittest

import pbtest
from pbtest import (APP, APP2, E_MISSING, E_NO_BINDING, E_PARAM, E_PARSE, E_TOKEN, acc, query_answer,
                    query_error, uniq)

# docs/API.md's overwrite example, byte for byte.
API_OVERWRITE_EXAMPLE = (
    b'{"operator_type": 2, "platform": "android",\n'
    b' "token_accounts": [{"token": "token1", "account_list": [{"account": "926@126.com"}, '
    b'{"account": "1527000000"}]},\n'
    b'                    {"token": "token2", "account_list": [{"account": "926@163.com"}, '
    b'{"account": "1527000001"}]}]}')

# The query page's sample requests, as printed there.
PAGE_QUERY_BY_ACCOUNT = b'''{
"operator_type": 1,
"account_list": [
{
"account": "account1"
},
{
"account": "account2"
}
]
}'''

PAGE_QUERY_BY_TOKEN = b'''{
"operator_type": 2,
"token_list": [
"token1",
"token2"
]
}'''

# The query page's sample responses.
PAGE_ANSWER_BY_ACCOUNT = json.loads('''{
"retCode": 0,
"errMsg": "ok",
"ret_code": 0,
"err_msg": "ok",
"result": ["0", "0"],
"account_tokens": [
{"account": "account1", "token_list": ["token1", "token2"]},
{"account": "account2", "token_list": ["token2", "token3"]}
]
}''')

PAGE_ANSWER_BY_TOKEN = json.loads('''{
"retCode": 0,
"errMsg": "ok",
"ret_code": 0,
"err_msg": "ok",
"result": ["0", "0"],
"token_accounts": [
{"token": "token1", "account_list": [{"account": "926@126.com"}, {"account": "1527000000"}]},
{"token": "token2", "account_list": [{"account": "926@163.com"}, {"account": "1527000001"}]}
]
}''')


class ReferenceSamplesTest(pbtest.ServerTestCase):
    """The must-pass scenario: the reference page's samples, exactly. Each
    sample runs in its own app so the two setups do not mix."""

    APPS = (APP, APP2)

    def test_overwrite_example_then_query_by_token_returns_reference_sample(self):
        status, resp = self.srv.batch(API_OVERWRITE_EXAMPLE, app=APP)
        self.assertEqual((status, resp), (200, {'ret_code': 0, 'err_msg': 'ok', 'result': ['0', '0']}))
        status, resp = self.srv.query(PAGE_QUERY_BY_TOKEN, app=APP)
        self.assertEqual(status, 200)
        self.assertEqual(resp, PAGE_ANSWER_BY_TOKEN)
        # Same keys in the same order as the page, too (clients may be picky).
        self.assertEqual(list(resp.keys()), ['retCode', 'errMsg', 'ret_code', 'err_msg', 'result', 'token_accounts'])

    def test_bindings_built_by_append_make_query_by_account_return_reference_sample(self):
        self.srv.bind('token1', 'account1', app=APP2)
        self.srv.bind('token2', 'account1', 'account2', app=APP2)
        self.srv.bind('token3', 'account2', app=APP2)
        status, resp = self.srv.query(PAGE_QUERY_BY_ACCOUNT, app=APP2)
        self.assertEqual(status, 200)
        self.assertEqual(resp, PAGE_ANSWER_BY_ACCOUNT)
        self.assertEqual(list(resp.keys()), ['retCode', 'errMsg', 'ret_code', 'err_msg', 'result', 'account_tokens'])


class QueryTest(pbtest.ServerTestCase):
    APPS = (APP, APP2)

    # ---- answers ------------------------------------------------------------

    def test_query_by_account_lists_tokens_oldest_binding_first(self):
        a = uniq('acct')
        t1, t2, t3 = uniq('tok'), uniq('tok'), uniq('tok')
        for t in (t2, t3, t1):
            self.srv.bind(t, a)
        self.assertQuery({'operator_type': 1, 'account_list': [{'account': a}]},
                         query_answer('account_tokens', [{'account': a, 'token_list': [t2, t3, t1]}], [0]))

    def test_query_by_token_lists_accounts_oldest_binding_first(self):
        t = uniq('tok')
        a, b, c = uniq('c-acct'), uniq('a-acct'), uniq('b-acct')
        self.srv.bind(t, a)
        self.srv.bind(t, b, (c, 2))
        self.assertQuery({'operator_type': 2, 'token_list': [t]},
                         query_answer('token_accounts',
                                      [{'token': t, 'account_list': [acc(a), acc(b), acc(c, 2)]}], [0]))

    def test_rebinding_a_bound_pair_does_not_move_it_in_either_list(self):
        t1, t2 = uniq('tok'), uniq('tok')
        a, b = uniq('acct'), uniq('acct')
        self.srv.bind(t1, a)
        self.srv.bind(t1, b)
        self.srv.bind(t2, a)
        self.srv.bind(t1, a)          # again, by append
        self.srv.bind(t1, a, b, op=2)  # and by an overwrite that keeps both
        self.assertEqual(self.srv.accounts_of(t1), [acc(a), acc(b)])
        self.assertEqual(self.srv.tokens_of(a), [t1, t2])

    def test_entries_follow_input_order_and_duplicates_each_get_an_entry(self):
        t1, t2 = uniq('tok'), uniq('tok')
        a, b = uniq('acct'), uniq('acct')
        self.srv.bind(t1, a)
        self.srv.bind(t2, b)
        self.assertQuery({'operator_type': 2, 'token_list': [t2, t1, t2]},
                         query_answer('token_accounts',
                                      [{'token': t2, 'account_list': [acc(b)]},
                                       {'token': t1, 'account_list': [acc(a)]},
                                       {'token': t2, 'account_list': [acc(b)]}], [0, 0, 0]))
        self.assertQuery({'operator_type': 1, 'account_list': [{'account': b}, {'account': a}, {'account': b}]},
                         query_answer('account_tokens',
                                      [{'account': b, 'token_list': [t2]},
                                       {'account': a, 'token_list': [t1]},
                                       {'account': b, 'token_list': [t2]}], [0, 0, 0]))

    def test_unbound_accounts_get_empty_entries_with_10110008_and_total_error(self):
        a, b = uniq('nobody'), uniq('nobody')
        self.assertQuery({'operator_type': 1, 'account_list': [{'account': a}, {'account': b, 'account_type': 1}]},
                         {'retCode': 1008027, 'errMsg': 'batch op, total error', 'ret_code': 1008027, 'err_msg': 'batch op, total error',
                          'result': ['10110008', '10110008'],
                          'account_tokens': [{'account': a, 'token_list': []},
                                             {'account': b, 'account_type': 1, 'token_list': []}]})

    def test_unbound_tokens_get_empty_entries_with_10110008_and_total_error(self):
        t = uniq('notok')
        self.assertQuery({'operator_type': 2, 'token_list': [t]},
                         {'retCode': 1008027, 'errMsg': 'batch op, total error', 'ret_code': 1008027, 'err_msg': 'batch op, total error', 'result': ['10110008'],
                          'token_accounts': [{'token': t, 'account_list': []}]})

    def test_mix_of_bound_and_unbound_items_is_partly_error(self):
        t, unbound = uniq('tok'), uniq('notok')
        a = uniq('acct')
        self.srv.bind(t, a)
        self.assertQuery({'operator_type': 2, 'token_list': [unbound, t]},
                         {'retCode': 1008026, 'errMsg': 'batch op, partly error', 'ret_code': 1008026, 'err_msg': 'batch op, partly error', 'result': ['10110008', '0'],
                          'token_accounts': [{'token': unbound, 'account_list': []},
                                             {'token': t, 'account_list': [acc(a)]}]})
        self.assertQuery({'operator_type': 1, 'account_list': [{'account': a}, {'account': a, 'account_type': 7}]},
                         {'retCode': 1008026, 'errMsg': 'batch op, partly error', 'ret_code': 1008026, 'err_msg': 'batch op, partly error', 'result': ['0', '10110008'],
                          'account_tokens': [{'account': a, 'token_list': [t]},
                                             {'account': a, 'account_type': 7, 'token_list': []}]})

    def test_account_whose_tokens_were_all_unbound_is_10110008_again(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, a)
        self.srv.ok_batch({'operator_type': 3, 'token_accounts': [{'token': t, 'account_list': [{'account': a}]}]})
        self.assertQuery({'operator_type': 1, 'account_list': [{'account': a}]},
                         query_answer('account_tokens', [{'account': a, 'token_list': []}], [E_NO_BINDING]))

    def test_account_type_appears_in_entries_only_when_not_zero(self):
        t = uniq('tok')
        a, b = uniq('acct'), uniq('acct')
        self.srv.ok_batch({'operator_type': 1, 'token_accounts': [
            {'token': t, 'account_list': [{'account': a, 'account_type': 0}, {'account': b, 'account_type': 2001}]}]})
        self.assertQuery({'operator_type': 2, 'token_list': [t]},
                         query_answer('token_accounts',
                                      [{'token': t, 'account_list': [{'account': a},
                                                                     {'account': b, 'account_type': 2001}]}], [0]))
        self.assertQuery({'operator_type': 1, 'account_list': [{'account': a, 'account_type': 0},
                                                               {'account': b, 'account_type': 2001}]},
                         query_answer('account_tokens', [{'account': a, 'token_list': [t]},
                                                         {'account': b, 'account_type': 2001, 'token_list': [t]}],
                                      [0, 0]))

    def test_largest_account_type_is_valid(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, (a, 2147483647))
        self.assertQuery({'operator_type': 1, 'account_list': [{'account': a, 'account_type': 2147483647}]},
                         query_answer('account_tokens',
                                      [{'account': a, 'account_type': 2147483647, 'token_list': [t]}], [0]))

    def test_same_name_under_two_types_is_two_accounts(self):
        t1, t2 = uniq('tok'), uniq('tok')
        phone = pbtest.uniq_digits(11)
        self.srv.bind(t1, (phone, 1))
        self.srv.bind(t2, phone)
        self.assertQuery({'operator_type': 1, 'account_list': [{'account': phone, 'account_type': 1},
                                                               {'account': phone},
                                                               {'account': phone, 'account_type': 2}]},
                         query_answer('account_tokens',
                                      [{'account': phone, 'account_type': 1, 'token_list': [t1]},
                                       {'account': phone, 'token_list': [t2]},
                                       {'account': phone, 'account_type': 2, 'token_list': []}],
                                      [0, 0, E_NO_BINDING]))
        self.assertEqual(self.srv.accounts_of(t1), [acc(phone, 1)])

    def test_utf8_and_escaped_account_names_round_trip(self):
        t = uniq('tok')
        names = ['用户-' + uniq('u'), 'é-' + uniq('e'), 'quote"back\\slash/-' + uniq('q'), '😀-' + uniq('emoji')]
        # Bind with every non-ASCII character \u-escaped (surrogate pairs for the emoji)...
        body = json.dumps({'operator_type': 1,
                           'token_accounts': [{'token': t, 'account_list': [{'account': n} for n in names]}]},
                          ensure_ascii=True).encode('ascii')
        self.assertBatch(body, pbtest.batch_answer(0))
        # ...and query with raw UTF-8: the same accounts.
        self.assertQuery({'operator_type': 1, 'account_list': [{'account': n} for n in names]},
                         query_answer('account_tokens', [{'account': n, 'token_list': [t]} for n in names],
                                      [0, 0, 0, 0]))
        self.assertEqual(self.srv.accounts_of(t), [acc(n) for n in names])

    def test_apps_do_not_see_each_others_bindings(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, a, app=APP)
        self.assertQuery({'operator_type': 2, 'token_list': [t]},
                         query_answer('token_accounts', [{'token': t, 'account_list': []}], [E_NO_BINDING]), app=APP2)
        self.assertQuery({'operator_type': 1, 'account_list': [{'account': a}]},
                         query_answer('account_tokens', [{'account': a, 'token_list': []}], [E_NO_BINDING]),
                         app=APP2)
        self.assertEqual(self.srv.accounts_of(t, app=APP), [acc(a)])

    def test_unknown_fields_at_any_depth_are_ignored(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, a)
        self.assertQuery({'operator_type': 1, 'x': {'nested': [1, 2, {'deep': None}], 'token_list': 5},
                          'account_list': [{'account': a, 'extra': [{'account': 'zzz'}], 'flag': True}],
                          'seq': 17},
                         query_answer('account_tokens', [{'account': a, 'token_list': [t]}], [0]))

    def test_platform_is_ignored_on_query(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, a)
        for platform in ('windows', 5, 'ios'):
            self.assertQuery({'operator_type': 2, 'platform': platform, 'token_list': [t]},
                             query_answer('token_accounts', [{'token': t, 'account_list': [acc(a)]}], [0]))

    def test_list_of_the_other_operator_type_is_ignored(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, a)
        self.assertQuery({'operator_type': 1, 'token_list': 'garbage', 'account_list': [{'account': a}]},
                         query_answer('account_tokens', [{'account': a, 'token_list': [t]}], [0]))
        self.assertQuery({'operator_type': 2, 'account_list': 7, 'token_list': [t]},
                         query_answer('token_accounts', [{'token': t, 'account_list': [acc(a)]}], [0]))

    # ---- invalid items --------------------------------------------------------

    def test_invalid_tokens_are_item_1008006_echoing_strings(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, a)
        sent = ['', 'a b', 'tab\tx', 'tök', 'del\x7fx', 'nl\nx', 'nul\x00x', 123, None, {'token': 'x'}, ['x'], True, t]
        echo = ['', 'a b', 'tab\tx', 'tök', 'del\x7fx', 'nl\nx', 'nul\x00x', '', '', '', '', '', t]
        codes = [E_TOKEN] * 12 + [0]
        entries = [{'token': e, 'account_list': []} for e in echo[:-1]] + [{'token': t, 'account_list': [acc(a)]}]
        self.assertQuery({'operator_type': 2, 'token_list': sent}, query_answer('token_accounts', entries, codes))

    def test_only_invalid_tokens_is_total_error(self):
        self.assertQuery({'operator_type': 2, 'token_list': ['has space']},
                         {'retCode': 1008027, 'errMsg': 'batch op, total error', 'ret_code': 1008027, 'err_msg': 'batch op, total error', 'result': ['1008006'],
                          'token_accounts': [{'token': 'has space', 'account_list': []}]})

    def test_invalid_accounts_are_item_1008007_echoing_strings(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, a)
        # 'nul\x00' + a: a C string would read it as a bound account; it is not one.
        sent = [{'account': ''}, {'account': 'ctl\x01x'}, {'account': 'nl\nx'}, {'account': 'del\x7fx'},
                {'account': a + '\x00x'}, {'account': 5}, {'account': None}, {'account': ['a']}, {},
                {'account_type': 1}, 'just-a-string', 7, None, [{'account': a}], {'account': a}]
        echo = ['', 'ctl\x01x', 'nl\nx', 'del\x7fx', a + '\x00x', '', '', '', '', '', '', '', '', '']
        entries = [{'account': e, 'token_list': []} for e in echo] + [{'account': a, 'token_list': [t]}]
        codes = [E_PARAM] * 14 + [0]
        status, resp = self.srv.query({'operator_type': 1, 'account_list': sent})
        self.assertEqual(status, 200)
        # account_type of an invalid entry is not specified: compare without it.
        got = dict(resp)
        got['account_tokens'] = [{k: v for k, v in e.items() if k != 'account_type'}
                                 for e in resp.get('account_tokens', [])]
        self.assertEqual(got, query_answer('account_tokens', entries, codes))

    def test_account_type_that_is_not_an_integer_in_range_is_item_1008007(self):
        a = uniq('acct')
        t = uniq('tok')
        self.srv.bind(t, a)
        bad_types = ['-1', -1, 2147483648, 4294967296, 1.5, True, [1], {'t': 1}]
        status, resp = self.srv.query({'operator_type': 1,
                                       'account_list': [{'account': a, 'account_type': v} for v in bad_types]})
        self.assertEqual(status, 200)
        got = dict(resp)
        got['account_tokens'] = [{k: v for k, v in e.items() if k != 'account_type'}
                                 for e in resp.get('account_tokens', [])]
        self.assertEqual(got, query_answer('account_tokens', [{'account': a, 'token_list': []}] * len(bad_types),
                                           [E_PARAM] * len(bad_types)))

    # ---- request-level errors -------------------------------------------------

    def test_operator_type_absent_or_null_is_missing_parameter(self):
        for body in ({'token_list': ['t']}, {'operator_type': None, 'token_list': ['t']}, {}):
            self.assertQuery(body, query_error(E_MISSING))

    def test_operator_type_of_wrong_json_type_is_invalid_parameter(self):
        for op in ('+1', '2 ', 1.5, True, [2], {'v': 2}):
            self.assertQuery({'operator_type': op, 'token_list': ['t'], 'account_list': [{'account': 'a'}]},
                             query_error(E_PARAM))

    def test_operator_type_out_of_range_is_invalid_parameter(self):
        # 4294967298 would read as 2 if truncated to 32 bits.
        for op in (0, 3, -1, -2, 4294967298, 18446744073709551618, 99999999999999999999999):
            self.assertQuery({'operator_type': op, 'token_list': ['t'], 'account_list': [{'account': 'a'}]},
                             query_error(E_PARAM))

    def test_absent_null_or_empty_list_is_missing_parameter(self):
        for body in ({'operator_type': 1}, {'operator_type': 1, 'account_list': None},
                     {'operator_type': 1, 'account_list': []},
                     {'operator_type': 1, 'account_list': [], 'token_list': ['t']},
                     {'operator_type': 2}, {'operator_type': 2, 'token_list': None},
                     {'operator_type': 2, 'token_list': []},
                     {'operator_type': 2, 'token_list': [], 'account_list': [{'account': 'a'}]}):
            self.assertQuery(body, query_error(E_MISSING))

    def test_list_that_is_not_an_array_is_invalid_parameter(self):
        for body in ({'operator_type': 1, 'account_list': 'account1'},
                     {'operator_type': 1, 'account_list': {'account': 'account1'}},
                     {'operator_type': 1, 'account_list': 5},
                     {'operator_type': 2, 'token_list': 'token1'},
                     {'operator_type': 2, 'token_list': {'0': 'token1'}},
                     {'operator_type': 2, 'token_list': True}):
            self.assertQuery(body, query_error(E_PARAM))

    def test_body_that_is_not_a_json_object_is_parse_error(self):
        for body in (b'', b'not json', b'[{"operator_type": 2, "token_list": ["t"]}]', b'"str"', b'42', b'null',
                     b'{"operator_type": 2, "token_list": ["t"]', b'{"operator_type": 2, token_list: ["t"]}',
                     b'{"operator_type": 2, "token_list": ["t"]} trailing',
                     b'{"operator_type": 2, "token_list": ["t"],}'):
            self.assertQuery(body, query_error(E_PARSE))

    def test_invalid_utf8_is_parse_error(self):
        for body in (b'{"operator_type": 1, "account_list": [{"account": "ab\xff\xfe"}]}',
                     b'{"operator_type": 1, "account_list": [{"account": "\xc3"}]}',
                     b'{"operator_type": 2, "token_list": ["t"], "x\xe9": 1}'):
            self.assertQuery(body, query_error(E_PARSE))

    def test_utf8_that_is_overlong_surrogate_or_beyond_u10ffff_is_parse_error(self):
        for bad in (b'\xc0\xaf', b'\xe0\x80\xaf', b'\xed\xa0\x80', b'\xf4\x90\x80\x80', b'\xf8\x88\x80\x80\x80',
                    b'\x80', b'\xe4\xb8'):
            self.assertQuery(b'{"operator_type": 1, "account_list": [{"account": "x' + bad + b'y"}]}',
                             query_error(E_PARSE))

    def test_request_level_errors_are_http_200_with_only_code_message_and_empty_result(self):
        status, resp = self.srv.query(b'{')
        self.assertEqual(status, 200)
        self.assertEqual(resp, {'retCode': 1008001, 'errMsg': 'parameter parse error', 'ret_code': 1008001, 'err_msg': 'parameter parse error', 'result': []})


if __name__ == '__main__':
    unittest.main()
