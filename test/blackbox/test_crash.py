"""Crash durability: SIGKILL at random moments under concurrent bind/unbind load.

After each kill and restart, every item acknowledged "0" is there, every
acknowledged unbind is gone, and an item in flight at the kill is either
wholly applied or not at all — on the token's side and on each account's.
"""

import http.client
import random
import threading
import time
import unittest

import pbtest
from pbtest import APP, BATCH, acc, acc_list, basic_header

ROUNDS = 20
CLIENTS = 4
TOKENS_PER_CLIENT = 3


class TokenState(object):
    """What one token holds: the last acknowledged accounts, and the accounts
    of a change sent but not answered (it may or may not have been applied)."""

    def __init__(self, name):
        self.name = name
        self.acked = []
        self.pending = None


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.srv = pbtest.Server.for_test(self, apps=[APP], args=['--threads', '2'])
        self.rng = random.Random(int(time.time()))
        self.tokens = [[TokenState('crash-%d-%d' % (c, i)) for i in range(TOKENS_PER_CLIENT)]
                       for c in range(CLIENTS)]
        self.serial = 0
        self.acks = 0
        self.lock = threading.Lock()

    def next_change(self, rng, state):
        """A random change to `state` and the accounts it leaves: overwrite
        with three fresh accounts, unbind one, or clear the token."""
        with self.lock:
            self.serial += 1
            serial = self.serial
        kind = rng.choice(('overwrite', 'overwrite', 'unbind', 'clear'))
        if kind == 'unbind' and state.acked:
            gone = rng.choice(state.acked)
            return ({'operator_type': 3, 'token_accounts': [{'token': state.name, 'account_list': acc_list(gone)}]},
                    [a for a in state.acked if a != gone])
        if kind == 'clear':
            return {'operator_type': 4, 'token_list': [state.name]}, []
        accounts = ['%s-a%d-%d' % (state.name, serial, k) for k in range(3)]
        return ({'operator_type': 2, 'token_accounts': [{'token': state.name, 'account_list': acc_list(*accounts)}]},
                accounts)

    def client(self, states, seed, stop):
        rng = random.Random(seed)
        conn = http.client.HTTPConnection('127.0.0.1', self.srv.port, timeout=10)
        headers = {'Authorization': basic_header(*APP)}
        try:
            while not stop.is_set():
                state = rng.choice(states)
                body, after = self.next_change(rng, state)
                state.pending = after
                conn.request('POST', BATCH, body=pbtest.encode_body(body), headers=headers)
                resp = conn.getresponse()
                answer = pbtest.parse_json(resp.read())
                if (resp.status, answer) != (200, pbtest.batch_answer(0)):
                    raise AssertionError('%r answered %r %r' % (body, resp.status, answer))
                state.acked, state.pending = after, None
                with self.lock:
                    self.acks += 1
        except (OSError, http.client.HTTPException):
            pass  # the server was killed under us: `pending` stays unknown
        finally:
            conn.close()

    def check_store(self):
        states = sum(self.tokens, [])
        status, resp = self.srv.query({'operator_type': 2, 'token_list': [s.name for s in states]})
        self.assertEqual(status, 200)
        accounts_asked = []
        for state, entry in zip(states, resp['token_accounts']):
            got = [a['account'] for a in entry['account_list']]
            allowed = [state.acked] + ([state.pending] if state.pending is not None else [])
            self.assertIn(got, allowed, 'token %s after the kill' % state.name)
            state.acked, state.pending = got, None
            accounts_asked += [(a, state.name) for a in got]
        # Each binding is whole: the accounts' side agrees with the tokens' side.
        if accounts_asked:
            status, resp = self.srv.query({'operator_type': 1,
                                           'account_list': acc_list(*[a for a, _ in accounts_asked])})
            self.assertEqual(status, 200)
            for (account, token), entry in zip(accounts_asked, resp['account_tokens']):
                self.assertEqual(entry['token_list'], [token], account)

    def test_acknowledged_changes_survive_sigkill_under_concurrent_load(self):
        in_flight_at_kill = 0
        for round_no in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=self.client, args=(self.tokens[c], self.rng.random(), stop))
                       for c in range(CLIENTS)]
            for th in threads:
                th.start()
            time.sleep(self.rng.uniform(0.05, 0.4))
            self.srv.kill()
            stop.set()
            for th in threads:
                th.join(20)
            in_flight_at_kill += sum(1 for s in sum(self.tokens, []) if s.pending is not None)
            self.srv.start()
            self.check_store()
        self.assertGreater(self.acks, ROUNDS, 'the load hardly ran')
        # Not asserted (it depends on timing), but shown when run with -v.
        print('\n%d rounds, %d acknowledged changes, %d in flight at a kill' % (ROUNDS, self.acks, in_flight_at_kill))


if __name__ == '__main__':
    unittest.main()
