"""Odd input with a defined answer (docs/API.md, "Odd input"): bad Unicode
escapes, raw NUL bytes, huge numbers, floats for integers, duplicate keys and
the nesting cap. Invalid UTF-8, escaped control characters and integers out of
range are in test_query.py / test_batchoperate.py."""

import unittest

import pbtest
from pbtest import E_PARAM, E_PARSE, acc, batch_answer, batch_error, query_answer, query_error, uniq

MAX_DEPTH = 32  # PB_JSON_MAX_DEPTH: the body's own object counts as one level


class OddInputTest(pbtest.ServerTestCase):
    def setUp(self):
        self.token = uniq('tok')
        self.srv.bind(self.token, 'odd')
        self.found = query_answer('token_accounts', [{'token': self.token, 'account_list': [acc('odd')]}], [0])

    # ---- Unicode escapes and NUL ---------------------------------------------

    def test_escaped_surrogate_that_is_not_a_pair_is_parse_error_and_binds_nothing(self):
        t = uniq('tok')
        for bad in (r'\ud800', r'\ud800ab', r'\ud800\u0041', r'\udc00', r'\udc00\ud800', r'\udbff\udbff'):
            self.assertQuery(('{"operator_type": 1, "account_list": [{"account": "x%sy"}]}' % bad).encode(),
                             query_error(E_PARSE))
            self.assertBatch(('{"operator_type": 1, "token_accounts": [{"token": "%s", "account_list": '
                              '[{"account": "x%sy"}]}]}' % (t, bad)).encode(), batch_error(E_PARSE))
            self.assertQuery(('{"operator_type": 2, "token_list": ["%s"], "x%s": 1}' % (self.token, bad)).encode(),
                             query_error(E_PARSE))
        self.assertEqual(self.srv.accounts_of(t), [])

    def test_escaped_surrogate_pair_is_the_character_it_names(self):
        t = uniq('tok')
        self.assertBatch(('{"operator_type": 1, "token_accounts": [{"token": "%s", "account_list": '
                          '[{"account": "\\ud83d\\ude00"}]}]}' % t).encode(), batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc('\U0001F600')])

    def test_raw_nul_byte_is_parse_error_inside_or_outside_strings(self):
        for body in (('{"operator_type": 2, "token_list": ["%s\x00"]}' % self.token).encode(),
                     ('{"operator_type": 2, "token_list": ["%s"]}\x00' % self.token).encode(),
                     b'\x00{"operator_type": 2}',
                     ('{"operator_type": 2, "token_list": ["%s"], "k\x00": 1}' % self.token).encode()):
            self.assertQuery(body, query_error(E_PARSE))

    # ---- numbers -------------------------------------------------------------

    def test_numbers_too_large_for_any_type_in_unknown_fields_are_ignored(self):
        for number in ('1e999', '-1e999', '123456789012345678901234567890', '0.' + '0' * 400 + '1'):
            self.assertQuery(('{"operator_type": 2, "token_list": ["%s"], "n": %s, "deep": [{"n": %s}]}'
                              % (self.token, number, number)).encode(), self.found)

    def test_number_too_large_as_account_type_fails_the_item(self):
        for number in ('1e400', '99999999999999999999999999', '-99999999999999999999999999'):
            status, resp = self.srv.query(('{"operator_type": 1, "account_list": [{"account": "odd", '
                                           '"account_type": %s}]}' % number).encode())
            self.assertEqual((status, resp['retCode'], resp['result']), (200, pbtest.E_TOTAL, [str(E_PARAM)]))

    def test_float_where_an_integer_belongs_is_1008007_even_when_whole(self):
        for number in ('1.0', '1e0', '1E0', '2.0', '1.5e1', '-0.0', '0.0'):
            self.assertQuery(('{"operator_type": %s, "token_list": ["%s"], "account_list": [{"account": "odd"}]}'
                              % (number, self.token)).encode(), query_error(E_PARAM))
            self.assertBatch(('{"operator_type": %s, "token_list": ["%s"]}' % (number, self.token)).encode(),
                             batch_error(E_PARAM))
            status, resp = self.srv.query(('{"operator_type": 1, "account_list": [{"account": "odd", '
                                           '"account_type": %s}]}' % number).encode())
            self.assertEqual((status, resp['result']), (200, [str(E_PARAM)]), number)
        self.assertEqual(self.srv.accounts_of(self.token), [acc('odd')])

    # ---- duplicate keys ------------------------------------------------------

    def test_duplicate_keys_last_one_wins_at_every_level(self):
        tok = self.token
        self.assertQuery(('{"operator_type": 1, "token_list": ["%s"], "operator_type": 2}' % tok).encode(),
                         self.found)
        self.assertQuery(('{"operator_type": 2, "token_list": ["nope"], "token_list": ["%s"]}' % tok).encode(),
                         self.found)
        self.assertQuery(('{"operator_type": 2, "operator_type": null, "token_list": ["%s"]}' % tok).encode(),
                         query_error(pbtest.E_MISSING))
        self.assertQuery(b'{"operator_type": 1, "account_list": [{"account": "nope", "account": "odd", '
                         b'"account_type": 5, "account_type": 0}]}',
                         query_answer('account_tokens', [{'account': 'odd', 'token_list': [tok]}], [0]))

    def test_duplicate_token_accounts_applies_only_the_last_list(self):
        first, last = uniq('tok'), uniq('tok')
        self.assertBatch(('{"operator_type": 1, "token_accounts": [{"token": "%s", "account_list": [{"account": "a"}]}], '
                          '"token_accounts": [{"token": "%s", "token": "%s", "account_list": [{"account": "b"}]}]}'
                          % (first, first, last)).encode(), batch_answer(0))
        self.assertEqual(self.srv.accounts_of(first), [])
        self.assertEqual(self.srv.accounts_of(last), [acc('b')])

    # ---- nesting -------------------------------------------------------------

    def nested(self, levels):
        """A query whose deepest point is `levels` containers deep, counting the body's object."""
        inner = levels - 1
        return ('{"operator_type": 2, "token_list": ["%s"], "x": ' % self.token).encode() + \
            b'[' * inner + b']' * inner + b'}'

    def test_nesting_up_to_the_cap_is_served_and_one_deeper_is_parse_error(self):
        self.assertQuery(self.nested(MAX_DEPTH), self.found)
        self.assertQuery(self.nested(MAX_DEPTH + 1), query_error(E_PARSE))
        deep_object = ('{"operator_type": 2, "token_list": ["%s"], "x": ' % self.token).encode() + \
            b'{"k": ' * MAX_DEPTH + b'1' + b'}' * MAX_DEPTH + b'}'
        self.assertQuery(deep_object, query_error(E_PARSE))


if __name__ == '__main__':
    unittest.main()
