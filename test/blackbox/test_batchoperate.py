"""POST /v3/device/account/batchoperate — bind and unbind (docs/API.md)."""

import unittest

import pbtest
from pbtest import (APP, APP2, E_MISSING, E_PARAM, E_PARSE, E_TOKEN, acc, acc_list, batch_answer, batch_error,
                    uniq)

# Accounts that are not valid items (1008007), as elements of an account_list.
BAD_ACCOUNTS = [
    {'account': ''},
    {'account': 'ctl\x01x'},
    {'account': 'del\x7fx'},
    {'account': 'nul\x00x'},
    {'account': 5},
    {'account': None},
    {'account_type': 1},
    'just-a-string',
    None,
    [{'account': 'a'}],
    {'account': 'ok-name', 'account_type': '1 '},
    {'account': 'ok-name', 'account_type': -1},
    {'account': 'ok-name', 'account_type': 2147483648},
    {'account': 'ok-name', 'account_type': 1.5},
]

# Tokens that are not valid (1008006).
BAD_TOKENS = ['', 'a b', 'tab\tx', 'tök', 'del\x7fx', 'nul\x00x', 5, None, True, ['t'], {'token': 't'}]


class BatchOperateTest(pbtest.ServerTestCase):
    APPS = (APP, APP2)

    # ---- operator_type 1: append -----------------------------------------------

    def test_append_adds_accounts_and_keeps_the_existing_ones(self):
        t = uniq('tok')
        a, b, c = uniq('acct'), uniq('acct'), uniq('acct')
        self.assertBatch({'operator_type': 1, 'token_accounts': [{'token': t, 'account_list': acc_list(a)}]},
                         batch_answer(0))
        self.assertBatch({'operator_type': 1, 'token_accounts': [{'token': t, 'account_list': acc_list(b, (c, 1))}]},
                         batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc(a), acc(b), acc(c, 1)])
        self.assertEqual(self.srv.tokens_of(c, 1), [t])

    def test_append_of_an_already_bound_account_keeps_its_place(self):
        t = uniq('tok')
        a, b, c = uniq('acct'), uniq('acct'), uniq('acct')
        self.srv.bind(t, a, b)
        self.srv.bind(t, c, a)
        self.assertEqual(self.srv.accounts_of(t), [acc(a), acc(b), acc(c)])

    def test_token_and_account_are_many_to_many(self):
        t1, t2 = uniq('tok'), uniq('tok')
        a, b = uniq('acct'), uniq('acct')
        self.srv.ok_batch({'operator_type': 1, 'token_accounts': [
            {'token': t1, 'account_list': acc_list(a, b)},
            {'token': t2, 'account_list': acc_list(a, b)}]})
        self.assertEqual(self.srv.accounts_of(t1), [acc(a), acc(b)])
        self.assertEqual(self.srv.accounts_of(t2), [acc(a), acc(b)])
        self.assertEqual(self.srv.tokens_of(a), [t1, t2])
        self.assertEqual(self.srv.tokens_of(b), [t1, t2])

    def test_token_may_carry_several_accounts_of_the_same_type(self):
        t = uniq('tok')
        p1, p2 = pbtest.uniq_digits(), pbtest.uniq_digits()
        self.srv.bind(t, (p1, 1))
        self.srv.bind(t, (p2, 1))
        self.assertEqual(self.srv.accounts_of(t), [acc(p1, 1), acc(p2, 1)])

    def test_items_of_one_request_apply_in_order(self):
        t = uniq('tok')
        a, b, c = uniq('acct'), uniq('acct'), uniq('acct')
        self.assertBatch({'operator_type': 1, 'token_accounts': [{'token': t, 'account_list': acc_list(a)},
                                                                 {'token': t, 'account_list': acc_list(b)}]},
                         batch_answer(0, 0))
        self.assertEqual(self.srv.accounts_of(t), [acc(a), acc(b)])
        self.assertBatch({'operator_type': 2, 'token_accounts': [{'token': t, 'account_list': acc_list(c)},
                                                                 {'token': t, 'account_list': acc_list(b, a)}]},
                         batch_answer(0, 0))
        self.assertEqual(self.srv.accounts_of(t), [acc(b), acc(a)])

    def test_account_listed_twice_counts_once_where_it_first_appears(self):
        t1, t2 = uniq('tok'), uniq('tok')
        a, b = uniq('acct'), uniq('acct')
        self.assertBatch({'operator_type': 1, 'token_accounts': [
            {'token': t1, 'account_list': acc_list(a, b, a, b, a)}]}, batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t1), [acc(a), acc(b)])
        self.assertBatch({'operator_type': 2, 'token_accounts': [
            {'token': t2, 'account_list': acc_list(b, a, b)}]}, batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t2), [acc(b), acc(a)])
        self.assertEqual(self.srv.tokens_of(a), [t1, t2])

    def test_same_name_under_two_types_binds_as_two_accounts(self):
        t = uniq('tok')
        n = pbtest.uniq_digits()
        self.srv.bind(t, n, (n, 1), (n, 2), n)
        self.assertEqual(self.srv.accounts_of(t), [acc(n), acc(n, 1), acc(n, 2)])

    # ---- operator_type 2: overwrite ----------------------------------------------

    def test_overwrite_keeps_listed_accounts_in_place_and_appends_new_ones_in_list_order(self):
        t = uniq('tok')
        a, b, c, d, e = (uniq('acct') for _ in range(5))
        self.srv.bind(t, a, b, c)
        self.assertBatch({'operator_type': 2, 'token_accounts': [{'token': t, 'account_list': acc_list(e, c, d, a)}]},
                         batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc(a), acc(c), acc(e), acc(d)])
        self.assertEqual(self.srv.tokens_of(b), [])
        self.assertEqual(self.srv.tokens_of(e), [t])

    def test_overwrite_leaves_the_dropped_accounts_other_tokens_alone(self):
        t1, t2 = uniq('tok'), uniq('tok')
        a, b = uniq('acct'), uniq('acct')
        self.srv.bind(t1, a)
        self.srv.bind(t2, a)
        self.srv.bind(t1, b, op=2)
        self.assertEqual(self.srv.tokens_of(a), [t2])
        self.assertEqual(self.srv.accounts_of(t1), [acc(b)])

    def test_overwrite_replaces_an_account_of_another_type_with_the_same_name(self):
        t = uniq('tok')
        n = pbtest.uniq_digits()
        self.srv.bind(t, n)
        self.srv.bind(t, (n, 1), op=2)
        self.assertEqual(self.srv.accounts_of(t), [acc(n, 1)])
        self.assertEqual(self.srv.tokens_of(n), [])

    # ---- operator_type 3: unbind listed ------------------------------------------

    def test_unbind_removes_only_the_listed_accounts_whose_name_and_type_match(self):
        t = uniq('tok')
        n, b = pbtest.uniq_digits(), uniq('acct')
        self.srv.bind(t, n, (n, 1), b)
        self.assertBatch({'operator_type': 3, 'token_accounts': [{'token': t, 'account_list': acc_list((n, 1))}]},
                         batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc(n), acc(b)])
        self.assertEqual(self.srv.tokens_of(n, 1), [])
        self.assertEqual(self.srv.tokens_of(n), [t])

    def test_unbind_of_what_is_not_bound_succeeds_and_changes_nothing(self):
        t, never = uniq('tok'), uniq('never-tok')
        a, b = uniq('acct'), uniq('acct')
        self.srv.bind(t, a)
        self.assertBatch({'operator_type': 3, 'token_accounts': [
            {'token': t, 'account_list': acc_list(b, (a, 3))},
            {'token': never, 'account_list': acc_list(a)}]}, batch_answer(0, 0))
        self.assertEqual(self.srv.accounts_of(t), [acc(a)])
        self.assertEqual(self.srv.tokens_of(a), [t])

    def test_unbind_then_rebind_puts_the_account_last(self):
        t = uniq('tok')
        a, b = uniq('acct'), uniq('acct')
        self.srv.bind(t, a, b)
        self.srv.bind(t, a, op=3)
        self.srv.bind(t, a)
        self.assertEqual(self.srv.accounts_of(t), [acc(b), acc(a)])

    # ---- operator_type 4: clear tokens ------------------------------------------

    def test_clear_tokens_unbinds_every_account_of_each_listed_token(self):
        t1, t2, t3 = uniq('tok'), uniq('tok'), uniq('tok')
        a, b = uniq('acct'), uniq('acct')
        self.srv.bind(t1, a, (b, 1))
        self.srv.bind(t2, a)
        self.srv.bind(t3, a, b)
        self.assertBatch({'operator_type': 4, 'token_list': [t1, t2]}, batch_answer(0, 0))
        self.assertEqual(self.srv.accounts_of(t1), [])
        self.assertEqual(self.srv.accounts_of(t2), [])
        self.assertEqual(self.srv.accounts_of(t3), [acc(a), acc(b)])
        self.assertEqual(self.srv.tokens_of(a), [t3])
        self.assertEqual(self.srv.tokens_of(b, 1), [])

    def test_clear_tokens_of_an_unbound_token_succeeds(self):
        self.assertBatch({'operator_type': 4, 'token_list': [uniq('never-tok'), uniq('never-tok')]},
                         batch_answer(0, 0))

    def test_clear_tokens_reports_invalid_tokens_as_1008006_and_clears_the_valid_ones(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, a)
        self.assertBatch({'operator_type': 4, 'token_list': BAD_TOKENS + [t]},
                         batch_answer(*([E_TOKEN] * len(BAD_TOKENS) + [0])))
        self.assertEqual(self.srv.accounts_of(t), [])
        self.assertBatch({'operator_type': 4, 'token_list': ['a b']}, batch_answer(E_TOKEN))

    # ---- operator_type 5: clear accounts ----------------------------------------

    def test_clear_accounts_unbinds_every_token_of_each_listed_account(self):
        t1, t2 = uniq('tok'), uniq('tok')
        a, b, c = uniq('acct'), uniq('acct'), uniq('acct')
        self.srv.bind(t1, a, (b, 1), c)
        self.srv.bind(t2, a, b)
        self.assertBatch({'operator_type': 5, 'account_list': acc_list(a, (b, 1))}, batch_answer(0, 0))
        self.assertEqual(self.srv.tokens_of(a), [])
        self.assertEqual(self.srv.tokens_of(b, 1), [])
        self.assertEqual(self.srv.tokens_of(b), [t2])  # type 0 is another account
        self.assertEqual(self.srv.accounts_of(t1), [acc(c)])
        self.assertEqual(self.srv.accounts_of(t2), [acc(b)])

    def test_clear_accounts_of_an_unbound_account_succeeds(self):
        self.assertBatch({'operator_type': 5, 'account_list': acc_list(uniq('nobody'), (uniq('nobody'), 2))},
                         batch_answer(0, 0))

    def test_clear_accounts_reports_invalid_accounts_as_1008007_and_clears_the_valid_ones(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, a)
        self.assertBatch({'operator_type': 5, 'account_list': BAD_ACCOUNTS + [acc(a)]},
                         batch_answer(*([E_PARAM] * len(BAD_ACCOUNTS) + [0])))
        self.assertEqual(self.srv.tokens_of(a), [])

    # ---- invalid elements (operator_type 1-3) -----------------------------------

    def test_element_that_is_not_an_object_is_1008007_and_the_others_still_apply(self):
        for op in (1, 2, 3):
            t = uniq('tok')
            a = uniq('acct')
            if op == 3:
                self.srv.bind(t, a)
            elements = ['token', 5, None, [{'token': t}], True]
            self.assertBatch({'operator_type': op,
                              'token_accounts': elements + [{'token': t, 'account_list': acc_list(a)}]},
                             batch_answer(*([E_PARAM] * len(elements) + [0])))
            self.assertEqual(self.srv.accounts_of(t), [] if op == 3 else [acc(a)])

    def test_element_with_missing_or_invalid_token_is_1008006(self):
        for op in (1, 2, 3):
            a = uniq('acct')
            elements = [{'account_list': acc_list(a)}] + [{'token': bad, 'account_list': acc_list(a)}
                                                          for bad in BAD_TOKENS]
            self.assertBatch({'operator_type': op, 'token_accounts': elements},
                             batch_answer(*([E_TOKEN] * len(elements))))
            self.assertEqual(self.srv.tokens_of(a), [])

    def test_element_with_missing_empty_or_non_array_account_list_is_1008007(self):
        for op in (1, 2, 3):
            t = uniq('tok')
            a = uniq('acct')
            self.srv.bind(t, a)
            elements = [{'token': t}, {'token': t, 'account_list': None}, {'token': t, 'account_list': []},
                        {'token': t, 'account_list': 'acct'}, {'token': t, 'account_list': {'account': a}}]
            self.assertBatch({'operator_type': op, 'token_accounts': elements},
                             batch_answer(*([E_PARAM] * len(elements))))
            self.assertEqual(self.srv.accounts_of(t), [acc(a)], 'op %d changed the token' % op)

    def test_element_with_one_bad_account_fails_whole_with_1008007_and_changes_nothing(self):
        for op in (1, 2, 3):
            for bad in BAD_ACCOUNTS:
                t = uniq('tok')
                kept, fresh = uniq('acct'), uniq('acct')
                self.srv.bind(t, kept)
                self.assertBatch({'operator_type': op, 'token_accounts': [
                    {'token': t, 'account_list': [acc(fresh), bad, acc(kept)]}]}, batch_answer(E_PARAM))
                self.assertEqual(self.srv.accounts_of(t), [acc(kept)], 'op %d with %r' % (op, bad))
                self.assertEqual(self.srv.tokens_of(fresh), [], 'op %d with %r' % (op, bad))

    def test_failed_items_leave_the_good_ones_applied_as_partly_error(self):
        t1, t2 = uniq('tok'), uniq('tok')
        a = uniq('acct')
        self.assertBatch({'operator_type': 1, 'token_accounts': [
            {'token': t1, 'account_list': acc_list(a)},
            {'token': 'bad token', 'account_list': acc_list(a)},
            {'token': t2, 'account_list': [{'account': ''}]}]},
            {'ret_code': 1008026, 'err_msg': 'batch op, partly error', 'result': ['0', '1008006', '1008007']})
        self.assertEqual(self.srv.tokens_of(a), [t1])
        self.assertEqual(self.srv.accounts_of(t2), [])

    def test_all_items_failing_is_total_error(self):
        self.assertBatch({'operator_type': 1, 'token_accounts': [
            {'token': '', 'account_list': acc_list('a')},
            {'token': uniq('tok'), 'account_list': []}]},
            {'ret_code': 1008027, 'err_msg': 'batch op, total error', 'result': ['1008006', '1008007']})

    # ---- request-level errors --------------------------------------------------

    def test_operator_type_absent_or_null_is_missing_parameter(self):
        t = uniq('tok')
        for body in ({'token_accounts': [{'token': t, 'account_list': acc_list('a')}]},
                     {'operator_type': None, 'token_accounts': [{'token': t, 'account_list': acc_list('a')}]},
                     {}):
            self.assertBatch(body, batch_error(E_MISSING))
        self.assertEqual(self.srv.accounts_of(t), [])

    def test_operator_type_of_wrong_type_or_out_of_range_is_invalid_parameter(self):
        t = uniq('tok')
        for op in (0, 6, -1, 7, 4294967297, 18446744073709551617, '+1', ' 1', '6', 1.5, True, [1], {'v': 1}):
            self.assertBatch({'operator_type': op, 'token_accounts': [{'token': t, 'account_list': acc_list('a')}],
                              'token_list': [t], 'account_list': acc_list('a')},
                             batch_error(E_PARAM))
        self.assertEqual(self.srv.accounts_of(t), [])

    def test_absent_null_or_empty_list_is_missing_parameter(self):
        t = uniq('tok')
        good = {'token_accounts': [{'token': t, 'account_list': acc_list('a')}], 'token_list': [t],
                'account_list': acc_list('a')}
        for op, key in ((1, 'token_accounts'), (2, 'token_accounts'), (3, 'token_accounts'), (4, 'token_list'),
                        (5, 'account_list')):
            for value in (Ellipsis, None, []):
                body = dict(good, operator_type=op)
                if value is Ellipsis:
                    del body[key]
                else:
                    body[key] = value
                self.assertBatch(body, batch_error(E_MISSING))
        self.assertEqual(self.srv.accounts_of(t), [])

    def test_list_that_is_not_an_array_is_invalid_parameter(self):
        for op, key in ((1, 'token_accounts'), (2, 'token_accounts'), (3, 'token_accounts'), (4, 'token_list'),
                        (5, 'account_list')):
            for value in ('token1', {'token': 'token1', 'account_list': acc_list('a')}, 5, True):
                self.assertBatch({'operator_type': op, key: value}, batch_error(E_PARAM))

    def test_list_of_another_operator_type_is_ignored(self):
        t = uniq('tok')
        a = uniq('acct')
        self.assertBatch({'operator_type': 1, 'token_list': 'garbage', 'account_list': 5,
                          'token_accounts': [{'token': t, 'account_list': acc_list(a)}]}, batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc(a)])
        self.assertBatch({'operator_type': 5, 'token_accounts': 'garbage', 'token_list': {},
                          'account_list': acc_list(a)}, batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [])
        self.srv.bind(t, a)
        self.assertBatch({'operator_type': 4, 'token_accounts': 7, 'account_list': 'x', 'token_list': [t]},
                         batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [])

    def test_body_that_is_not_a_json_object_is_parse_error(self):
        for body in (b'', b'not json', b'[{"operator_type": 4, "token_list": ["t"]}]', b'"str"', b'42', b'null',
                     b'{"operator_type": 4, "token_list": ["t"]', b'{"operator_type": 4, "token_list": ["t"]} x',
                     b'{"operator_type": 4, "token_list": ["t\xff"]}'):
            self.assertBatch(body, batch_error(E_PARSE))

    # ---- platform ----------------------------------------------------------------

    def test_platform_android_or_ios_in_any_letter_case_is_accepted(self):
        for platform in ('android', 'ios', 'ANDROID', 'IOS', 'Android', 'iOS', 'aNdRoId'):
            t = uniq('tok')
            a = uniq('acct')
            self.assertBatch({'operator_type': 1, 'platform': platform,
                              'token_accounts': [{'token': t, 'account_list': acc_list(a)}]}, batch_answer(0))
            self.assertEqual(self.srv.accounts_of(t), [acc(a)], platform)

    def test_platform_absent_is_accepted(self):
        t = uniq('tok')
        a = uniq('acct')
        self.assertBatch({'operator_type': 1, 'token_accounts': [{'token': t, 'account_list': acc_list(a)}]},
                         batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc(a)])

    def test_other_platform_is_request_level_1008007_and_changes_nothing(self):
        t = uniq('tok')
        a = uniq('acct')
        self.srv.bind(t, a)
        for platform in ('windows', '', 'android ', 'androidx', 'all', 1, True, ['android'], {'p': 'ios'}):
            self.assertBatch({'operator_type': 1, 'platform': platform,
                              'token_accounts': [{'token': t, 'account_list': acc_list(uniq('acct'))}]},
                             batch_error(E_PARAM))
            self.assertBatch({'operator_type': 4, 'platform': platform, 'token_list': [t]}, batch_error(E_PARAM))
        self.assertEqual(self.srv.accounts_of(t), [acc(a)])

    # ---- apps ------------------------------------------------------------------------

    def test_apps_are_isolated_from_each_other(self):
        t = uniq('tok')
        a, b = uniq('acct'), uniq('acct')
        self.srv.bind(t, a, app=APP)
        self.srv.bind(t, b, app=APP2)
        self.assertEqual(self.srv.accounts_of(t, app=APP), [acc(a)])
        self.assertEqual(self.srv.accounts_of(t, app=APP2), [acc(b)])
        self.assertBatch({'operator_type': 4, 'token_list': [t]}, batch_answer(0), app=APP2)
        self.assertBatch({'operator_type': 5, 'account_list': acc_list(a)}, batch_answer(0), app=APP2)
        self.assertEqual(self.srv.accounts_of(t, app=APP), [acc(a)])
        self.assertEqual(self.srv.accounts_of(t, app=APP2), [])
        self.assertEqual(self.srv.tokens_of(a, app=APP), [t])


class OneAccountPerTypeTest(pbtest.ServerTestCase):
    """--one-account-per-type: TPNS 2020 mode."""

    ARGS = ('--one-account-per-type',)

    def test_append_behaves_as_overwrite_keeping_one_account_per_type(self):
        t = uniq('tok')
        a, b, c, p = uniq('a'), uniq('b'), uniq('c'), uniq('p')
        self.assertBatch({'operator_type': 1, 'token_accounts': [
            {'token': t, 'account_list': [{'account': a}, {'account': b}, {'account': p, 'account_type': 1}]}]},
            batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc(b), acc(p, 1)])
        self.assertEqual(self.srv.tokens_of(a), [])
        self.assertBatch({'operator_type': 1, 'token_accounts': [{'token': t, 'account_list': [{'account': c}]}]},
                         batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t), [acc(c)])
        self.assertEqual(self.srv.tokens_of(b), [])
        self.assertEqual(self.srv.tokens_of(p, 1), [])

    def test_overwrite_keeps_the_later_entry_of_each_type(self):
        t = uniq('tok')
        a, b, x, y, z = (uniq('acct') for _ in range(5))
        self.srv.bind(t, a, b, op=2)
        self.assertEqual(self.srv.accounts_of(t), [acc(b)])
        self.srv.bind(t, (x, 1), (y, 1), (z, 2), op=2)
        self.assertEqual(self.srv.accounts_of(t), [acc(y, 1), acc(z, 2)])

    def test_an_account_may_still_be_bound_to_many_tokens(self):
        t1, t2 = uniq('tok'), uniq('tok')
        a = uniq('acct')
        self.srv.bind(t1, a)
        self.srv.bind(t2, a)
        self.assertEqual(self.srv.tokens_of(a), [t1, t2])
        self.assertEqual(self.srv.accounts_of(t1), [acc(a)])

    def test_unbind_and_clear_work_as_without_the_flag(self):
        t1, t2 = uniq('tok'), uniq('tok')
        a, p = uniq('acct'), uniq('phone')
        self.srv.bind(t1, a, (p, 1))
        self.srv.bind(t2, a)
        self.assertBatch({'operator_type': 3, 'token_accounts': [{'token': t1, 'account_list': acc_list(a)}]},
                         batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t1), [acc(p, 1)])
        self.assertBatch({'operator_type': 5, 'account_list': acc_list(a)}, batch_answer(0))
        self.assertEqual(self.srv.tokens_of(a), [])
        self.assertBatch({'operator_type': 4, 'token_list': [t1]}, batch_answer(0))
        self.assertEqual(self.srv.accounts_of(t1), [])


class AppendWithoutFlagTest(pbtest.ServerTestCase):
    """The brief's one-account-per-type example, run without the flag: op 1 appends."""

    def test_without_the_flag_append_keeps_every_account(self):
        t = uniq('tok')
        a, b, c, p = uniq('a'), uniq('b'), uniq('c'), uniq('p')
        self.srv.bind(t, a, b, (p, 1))
        self.srv.bind(t, c)
        self.assertEqual(self.srv.accounts_of(t), [acc(a), acc(b), acc(p, 1), acc(c)])


if __name__ == '__main__':
    unittest.main()
