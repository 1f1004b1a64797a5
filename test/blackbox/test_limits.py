"""Limits: list lengths, string lengths, bindings per token / account, body size —
defaults and the flags that change them."""

import unittest

import pbtest
from pbtest import (APP, BATCH, E_NO_BINDING, E_PARAM, E_TOKEN, acc, acc_list, basic_header, batch_answer,
                    batch_error, query_answer, query_error, uniq)


class LimitChecks(object):
    """Checks shared by the default-limit and the configured-limit servers.
    Subclasses set the limits they started the server with."""

    QUERY_ITEMS = BATCH_ITEMS = LIST_ITEMS = PER_TOKEN = PER_ACCOUNT = ACCOUNT_BYTES = TOKEN_BYTES = None

    # ---- list lengths --------------------------------------------------------------

    def test_query_takes_the_item_limit_and_refuses_one_more(self):
        n = self.QUERY_ITEMS
        accounts = [uniq('q') for _ in range(n + 1)]
        self.assertQuery({'operator_type': 1, 'account_list': acc_list(*accounts[:n])},
                         query_answer('account_tokens', [{'account': a, 'token_list': []} for a in accounts[:n]],
                                      [E_NO_BINDING] * n))
        self.assertQuery({'operator_type': 1, 'account_list': acc_list(*accounts)}, query_error(E_PARAM))
        tokens = [uniq('qt') for _ in range(n + 1)]
        self.assertQuery({'operator_type': 2, 'token_list': tokens[:n]},
                         query_answer('token_accounts', [{'token': t, 'account_list': []} for t in tokens[:n]],
                                      [E_NO_BINDING] * n))
        self.assertQuery({'operator_type': 2, 'token_list': tokens}, query_error(E_PARAM))

    def test_token_accounts_takes_the_item_limit_and_refuses_one_more_changing_nothing(self):
        n = self.BATCH_ITEMS
        for op in (1, 2, 3):
            tokens = [uniq('bt') for _ in range(n + 1)]
            a = uniq('ba')
            if op == 3:
                for t in tokens:
                    self.srv.bind(t, a)
            items = [{'token': t, 'account_list': acc_list(a)} for t in tokens]
            self.assertBatch({'operator_type': op, 'token_accounts': items}, batch_error(E_PARAM))
            self.assertEqual(self.srv.tokens_of(a), tokens if op == 3 else [], op)
            self.assertBatch({'operator_type': op, 'token_accounts': items[:n]}, batch_answer(*[0] * n))
            self.assertEqual(self.srv.tokens_of(a), tokens[n:] if op == 3 else tokens[:n], op)

    def bind_pairs(self, pairs):
        """Binds each (token, account) pair, BATCH_ITEMS pairs per request."""
        for k in range(0, len(pairs), self.BATCH_ITEMS):
            self.srv.ok_batch({'operator_type': 1, 'token_accounts': [
                {'token': t, 'account_list': acc_list(a)} for t, a in pairs[k:k + self.BATCH_ITEMS]]})

    def accounts_of_each(self, tokens):
        """The account_list of each token, QUERY_ITEMS tokens per query."""
        out = []
        for k in range(0, len(tokens), self.QUERY_ITEMS):
            status, resp = self.srv.query({'operator_type': 2, 'token_list': tokens[k:k + self.QUERY_ITEMS]})
            self.assertEqual(status, 200)
            out += [e['account_list'] for e in resp['token_accounts']]
        return out

    def test_token_list_takes_the_list_limit_and_refuses_one_more_changing_nothing(self):
        n = self.LIST_ITEMS
        tokens = [uniq('lt') for _ in range(n + 1)]
        accounts = [uniq('la') for _ in range(n + 1)]
        self.bind_pairs(list(zip(tokens, accounts)))
        self.assertBatch({'operator_type': 4, 'token_list': tokens}, batch_error(E_PARAM))
        self.assertEqual(self.accounts_of_each(tokens), [[acc(a)] for a in accounts])
        self.assertBatch({'operator_type': 4, 'token_list': tokens[1:]}, batch_answer(*[0] * n))
        self.assertEqual(self.accounts_of_each(tokens), [[acc(accounts[0])]] + [[]] * n)

    def test_account_list_takes_the_list_limit_and_refuses_one_more_changing_nothing(self):
        n = self.LIST_ITEMS
        tokens = [uniq('lt') for _ in range(n + 1)]
        accounts = [uniq('la') for _ in range(n + 1)]
        self.bind_pairs(list(zip(tokens, accounts)))
        self.assertBatch({'operator_type': 5, 'account_list': acc_list(*accounts)}, batch_error(E_PARAM))
        self.assertEqual(self.accounts_of_each(tokens), [[acc(a)] for a in accounts])
        self.assertBatch({'operator_type': 5, 'account_list': acc_list(*accounts[:n])}, batch_answer(*[0] * n))
        self.assertEqual(self.accounts_of_each(tokens), [[]] * n + [[acc(accounts[n])]])

    # ---- string lengths ----------------------------------------------------------------

    def test_token_at_the_byte_limit_is_valid_and_one_byte_more_is_1008006(self):
        n = self.TOKEN_BYTES
        ok = uniq('T')[:n].ljust(n, 'T')
        long = ok + 'X'
        self.assertBatch({'operator_type': 1, 'token_accounts': [{'token': ok, 'account_list': acc_list('tl')},
                                                                 {'token': long, 'account_list': acc_list('tl')}]},
                         batch_answer(0, E_TOKEN))
        self.assertQuery({'operator_type': 2, 'token_list': [ok, long]},
                         query_answer('token_accounts', [{'token': ok, 'account_list': [acc('tl')]},
                                                         {'token': long, 'account_list': []}], [0, E_TOKEN]))
        self.assertBatch({'operator_type': 4, 'token_list': [long]}, batch_answer(E_TOKEN))
        self.assertBatch({'operator_type': 3, 'token_accounts': [{'token': long, 'account_list': acc_list('tl')}]},
                         batch_answer(E_TOKEN))

    def test_account_at_the_byte_limit_is_valid_and_one_byte_more_is_1008007(self):
        n = self.ACCOUNT_BYTES
        tag = uniq('A')[:n - 3]
        fits = [tag.ljust(n, 'a'),
                tag.ljust(n - 2, 'a') + 'é',            # 2-byte character ending exactly at the limit
                tag.ljust(n - 3, 'a') + '中']           # 3-byte character ending exactly at the limit
        over = [tag.ljust(n + 1, 'a'),
                tag.ljust(n - 1, 'a') + 'é',            # n - 1 characters, n + 1 bytes
                tag.ljust(n - 2, 'a') + '中']           # n - 1 characters, n + 1 bytes
        for name in fits:
            self.assertEqual(len(name.encode('utf-8')), n)
        for name in over:
            self.assertEqual(len(name.encode('utf-8')), n + 1)
        t = uniq('tok')
        self.srv.bind(t, *fits)
        self.assertEqual(self.srv.accounts_of(t), [acc(x) for x in fits])
        for name in over:
            self.assertBatch({'operator_type': 1, 'token_accounts': [{'token': t, 'account_list': acc_list(name)}]},
                             batch_answer(E_PARAM))
        self.assertEqual(self.srv.accounts_of(t), [acc(x) for x in fits])
        self.assertQuery({'operator_type': 1, 'account_list': acc_list(*fits)},
                         query_answer('account_tokens', [{'account': x, 'token_list': [t]} for x in fits], [0, 0, 0]))
        self.assertQuery({'operator_type': 1, 'account_list': acc_list(*over)},
                         query_answer('account_tokens', [{'account': x, 'token_list': []} for x in over],
                                      [E_PARAM] * 3))
        self.assertBatch({'operator_type': 5, 'account_list': acc_list(*over)}, batch_answer(*[E_PARAM] * 3))

    # ---- bindings per token / per account -----------------------------------------------

    def test_token_holds_the_account_limit_and_one_more_fails_the_item_alone(self):
        n = self.PER_TOKEN
        t, other = uniq('tok'), uniq('tok')
        accounts = [uniq('pt') for _ in range(n)]
        self.srv.bind(t, *accounts)
        extra = uniq('extra')
        self.assertBatch({'operator_type': 1, 'token_accounts': [{'token': t, 'account_list': acc_list(extra)},
                                                                 {'token': other, 'account_list': acc_list(extra)}]},
                         batch_answer(E_PARAM, 0))
        self.assertEqual(self.srv.accounts_of(t), [acc(a) for a in accounts])
        self.assertEqual(self.srv.tokens_of(extra), [other])
        # Overwrite with one too many fails and leaves the token as it was.
        self.assertBatch({'operator_type': 2, 'token_accounts': [
            {'token': t, 'account_list': acc_list(*(accounts + [uniq('extra')]))}]}, batch_answer(E_PARAM))
        self.assertEqual(self.srv.accounts_of(t), [acc(a) for a in accounts])
        # The same name under another type is another account, so it counts.
        self.assertBatch({'operator_type': 1, 'token_accounts': [
            {'token': t, 'account_list': acc_list((accounts[0], 1))}]}, batch_answer(E_PARAM))
        self.assertEqual(self.srv.accounts_of(t), [acc(a) for a in accounts])

    def test_already_bound_and_repeated_accounts_count_once_toward_the_token_limit(self):
        n = self.PER_TOKEN
        t = uniq('tok')
        accounts = [uniq('pt') for _ in range(n)]
        self.srv.bind(t, *accounts)
        self.srv.bind(t, accounts[-1], accounts[0])  # all already bound
        self.srv.bind(t, accounts[0], op=3)
        fresh = uniq('fresh')
        self.srv.bind(t, fresh, fresh, accounts[1], fresh)  # one new account
        self.assertEqual(self.srv.accounts_of(t), [acc(a) for a in accounts[1:]] + [acc(fresh)])

    def test_overwrite_is_judged_by_the_end_state(self):
        n = self.PER_TOKEN
        t = uniq('tok')
        old = [uniq('old') for _ in range(n)]
        new = [uniq('new') for _ in range(n)]
        self.srv.bind(t, *old)
        self.srv.bind(t, *new, op=2)
        self.assertEqual(self.srv.accounts_of(t), [acc(a) for a in new])
        self.assertEqual(self.srv.tokens_of(old[0]), [])

    def test_account_holds_the_token_limit_and_one_more_fails_the_item_without_changes(self):
        n = self.PER_ACCOUNT
        a = uniq('busy')
        tokens = [uniq('at') for _ in range(n)]
        for k in range(0, n, self.BATCH_ITEMS):
            self.srv.ok_batch({'operator_type': 1, 'token_accounts': [
                {'token': t, 'account_list': acc_list(a)} for t in tokens[k:k + self.BATCH_ITEMS]]})
        self.assertEqual(self.srv.tokens_of(a), tokens)
        extra_token, fresh = uniq('at-extra'), uniq('fresh')
        for op in (1, 2):
            self.assertBatch({'operator_type': op, 'token_accounts': [
                {'token': extra_token, 'account_list': acc_list(fresh, a)}]}, batch_answer(E_PARAM))
            self.assertEqual(self.srv.accounts_of(extra_token), [], op)
            self.assertEqual(self.srv.tokens_of(fresh), [], op)
            self.assertEqual(self.srv.tokens_of(a), tokens, op)
        # Re-binding one of its tokens is no new binding.
        self.srv.bind(tokens[0], a)
        # Freeing one slot lets the next binding in, at the end.
        self.srv.ok_batch({'operator_type': 4, 'token_list': [tokens[0]]})
        self.srv.bind(extra_token, fresh, a)
        self.assertEqual(self.srv.tokens_of(a), tokens[1:] + [extra_token])


    def test_one_batch_filling_an_account_binds_in_order_up_to_its_limit(self):
        # Items of one batch binding new tokens to one account: those that fit are bound, in order,
        # a re-bind of a token already there still passes, and every item past the limit is refused.
        n, k = self.PER_ACCOUNT, self.BATCH_ITEMS
        a = uniq('filling')
        tokens = [uniq('fill') for _ in range(n - 1)]
        for first in range(0, n - 1, k):
            self.srv.ok_batch({'operator_type': 1, 'token_accounts': [
                {'token': t, 'account_list': acc_list(a)} for t in tokens[first:first + k]]})
        last, over = uniq('fill-last'), [uniq('fill-over') for _ in range(k - 2)]
        items = [last, tokens[0]] + over
        self.assertBatch({'operator_type': 1, 'token_accounts': [
            {'token': t, 'account_list': acc_list(a)} for t in items]}, batch_answer(0, 0, *[E_PARAM] * len(over)))
        self.assertEqual(self.srv.tokens_of(a), tokens + [last])
        for t in over:
            self.assertEqual(self.srv.accounts_of(t), [])


class DefaultLimitsTest(LimitChecks, pbtest.ServerTestCase):
    """docs/API.md's defaults: 1000 / 20 / 100 items, 32 accounts per token, 100 tokens
    per account, 128-byte accounts, 256-byte tokens."""

    QUERY_ITEMS, BATCH_ITEMS, LIST_ITEMS = 1000, 20, 100
    PER_TOKEN, PER_ACCOUNT = 32, 100
    ACCOUNT_BYTES, TOKEN_BYTES = 128, 256


class ConfiguredLimitsTest(LimitChecks, pbtest.ServerTestCase):
    """Every limit flag, set small."""

    QUERY_ITEMS, BATCH_ITEMS, LIST_ITEMS = 3, 2, 4
    PER_TOKEN, PER_ACCOUNT = 3, 4
    ACCOUNT_BYTES, TOKEN_BYTES = 24, 30
    ARGS = ('--max-query-items', '3', '--max-batch-items', '2', '--max-list-items', '4',
            '--max-accounts-per-token', '3', '--max-tokens-per-account', '4',
            '--max-account-bytes', '24', '--max-token-bytes', '30')


class BodyLimitTest(pbtest.ServerTestCase):
    ARGS = ('--max-body-bytes', '1024')

    def padded_batch(self, token, size):
        head = '{"operator_type": 1, "token_accounts": [{"token": "%s", "account_list": [{"account": "pad"}]}], "p": "' \
               % token
        return (head + 'p' * (size - len(head) - 2) + '"}').encode('ascii')

    def test_body_at_the_limit_is_served_and_one_byte_more_is_413_changing_nothing(self):
        t_ok, t_big = uniq('tok'), uniq('tok')
        body = self.padded_batch(t_ok, 1024)
        self.assertEqual(len(body), 1024)
        self.assertEqual(self.srv.batch(body), (200, batch_answer(0)))
        body = self.padded_batch(t_big, 1025)
        head = ('POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n'
                % (BATCH, basic_header(*APP), len(body))).encode('ascii')
        parsed = pbtest.parse_raw_response(pbtest.raw_exchange(self.srv.port, head, body))
        self.assertIsNotNone(parsed)
        self.assertEqual(parsed[0], 413)
        self.assertEqual(self.srv.accounts_of(t_ok), [acc('pad')])
        self.assertEqual(self.srv.accounts_of(t_big), [])


if __name__ == '__main__':
    unittest.main()
