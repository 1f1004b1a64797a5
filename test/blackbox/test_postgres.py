"""The PostgreSQL store itself: limits exact with two processes writing at
once, a replaced secret seen at once through NOTIFY, a newer schema refused,
the lists of a many-item query (one statement) cut per item; and, on a server
of its own, a PostgreSQL that restarts, stops or freezes under a running
pushbind. Runs when the suite runs on PostgreSQL (PUSHBIND_STORE=postgresql://…)."""

import http.client
import os
import signal
import subprocess
import threading
import time
import unittest

import pbtest
import pgsingle
import pgslow
from pbtest import APP, BATCH, E_AUTH, E_STORE, E_TOTAL, acc, basic_header


def psql(url, sql):
    """Runs `sql` with psql on `url` (without pushbind's own parameter); returns stdout."""
    base = url.split('?')[0]
    r = subprocess.run(['psql', base, '-Atc', sql], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    if r.returncode != 0:
        raise AssertionError('psql %s: %s' % (sql, r.stderr.decode()))
    return r.stdout.decode().strip()


@unittest.skipIf(pbtest.STORE_KIND != 'postgres', 'PostgreSQL only')
class PostgresTest(unittest.TestCase):

    def two_servers(self, args=()):
        a = pbtest.Server.for_test(self, args=args)
        b = pbtest.Server.for_test(self, apps=[], data_dir=a.data_dir, args=args)
        b.default_app = APP
        return a, b

    def test_limits_hold_with_two_processes_binding_at_once(self):
        a, b = self.two_servers(args=['--max-accounts-per-token', '5', '--max-tokens-per-account', '7'])
        answers = []

        def bind_many(srv, token_of, account_of):
            conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=30)
            for i in range(20):
                body = {'operator_type': 1, 'token_accounts': [
                    {'token': token_of(i), 'account_list': [{'account': account_of(i)}]}]}
                conn.request('POST', BATCH, body=pbtest.encode_body(body),
                             headers={'Authorization': basic_header(*APP), 'Content-Type': 'application/json'})
                resp = conn.getresponse()
                answers.append((resp.status, pbtest.parse_json(resp.read()).get('ret_code')))
            conn.close()

        # many accounts onto one token, and one account onto many tokens, from both processes
        threads = [threading.Thread(target=bind_many, args=(srv, lambda i: 'shared-token',
                                                            lambda i, p=p: '%s-acct-%d' % (p, i)))
                   for srv, p in ((a, 'a'), (b, 'b'))]
        threads += [threading.Thread(target=bind_many, args=(srv, lambda i, p=p: '%s-tok-%d' % (p, i),
                                                             lambda i: 'shared-account'))
                    for srv, p in ((a, 'c'), (b, 'd'))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(answers), 80)
        self.assertTrue(all(status == 200 for status, _ in answers), answers)
        self.assertEqual(len(a.accounts_of('shared-token')), 5)
        self.assertEqual(len(b.tokens_of('shared-account')), 7)

    def test_a_replaced_secret_is_refused_at_once(self):
        a, b = self.two_servers()
        self.assertEqual(b.accounts_of('t'), [])  # b has read and cached the secret
        new_secret = 'f' * 32
        pbtest.app_add(a.data_dir, APP[0], new_secret)
        # the NOTIFY reaches b's listener in milliseconds; without it b's cache would keep the old
        # secret for a second
        deadline = time.time() + 0.5
        while True:
            status, resp = b.query({'operator_type': 2, 'token_list': ['t']})
            if resp.get('ret_code') == E_AUTH or time.time() > deadline:
                break
        self.assertEqual(resp.get('ret_code'), E_AUTH, resp)
        status, resp = b.query({'operator_type': 2, 'token_list': ['t']}, app=(APP[0], new_secret))
        self.assertEqual(resp.get('ret_code'), E_TOTAL, resp)  # authenticated: 't' has no binding

    def test_a_newer_schema_is_refused_with_a_message(self):
        srv = pbtest.Server.for_test(self)
        srv.stop()
        url = pbtest.store_args(srv.data_dir)[1]
        schema = url.split('pushbind_schema=')[1]
        psql(url, "UPDATE \"%s\".meta SET value = '99' WHERE key = 'version'" % schema)
        r = pbtest.run_cli('app', 'list', '--data', srv.data_dir)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn('version 99, newer than this pushbind knows', r.stderr)

    def test_lists_of_one_statement_come_back_per_item_in_creation_order(self):
        srv = pbtest.Server.for_test(self)
        srv.bind('tok-1', 'x', 'y')
        srv.bind('tok-2', 'x')
        status, resp = srv.query({'operator_type': 1, 'account_list': [{'account': 'x'}, {'account': 'y'}],
                                  'with_info': True})
        self.assertEqual(resp['ret_code'], 0, resp)
        self.assertEqual([e['token_list'] for e in resp['account_tokens']], [['tok-1', 'tok-2'], ['tok-1']])
        self.assertEqual(srv.accounts_of('tok-1'), [acc('x'), acc('y')])

    def test_an_app_locked_in_one_schema_does_not_hold_up_its_namesake_in_another(self):
        a = pbtest.Server.for_test(self)
        b = pbtest.Server.for_test(self)  # its own schema, the same access id
        url = pbtest.store_args(a.data_dir)[1]
        schema = url.split('pushbind_schema=')[1]
        # what an import chunk or `app remove` holds in a's schema, for 4 s
        holder = subprocess.Popen(['psql', url.split('?')[0], '-Atc',
                                   'BEGIN; SELECT pg_advisory_xact_lock("%s".app_lock_key(%s)); SELECT pg_sleep(4);'
                                   % (schema, APP[0])], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(holder.wait)
        time.sleep(1)
        self.assertIsNone(holder.poll())
        b.bind('tok-b', 'bob')  # answered "0" at once, not 1008004 after 2 s
        self.assertEqual(b.accounts_of('tok-b'), [acc('bob')])
        status, resp = a.batch({'operator_type': 1, 'token_accounts': [
            {'token': 'tok-a', 'account_list': [{'account': 'alice'}]}]})
        self.assertEqual(resp.get('ret_code'), E_STORE, resp)  # a's own app waits for its lock


@unittest.skipIf(pbtest.STORE_KIND != 'postgres', 'PostgreSQL only')
class OwnServerTest(unittest.TestCase):
    """A PostgreSQL of the test's own (PB_TEST_PORT_BASE + 81), which it restarts, stops and freezes."""

    @classmethod
    def setUpClass(cls):
        cls.pg = pgsingle.Postgres(pgsingle.OWN_PORT)
        cls.addClassCleanup(cls.pg.destroy)

    def server(self):
        schema = self.id().rsplit('.', 1)[1]  # one schema a test
        srv = pbtest.Server.for_test(self, store_url=self.pg.url + '?pushbind_schema=' + schema)
        srv.bind('tok', 'acct')
        return srv

    def health(self, srv):
        started = time.time()
        status, _, _ = srv.request('GET', '/healthz')
        return status, time.time() - started

    def test_a_restart_is_followed_by_the_next_requests(self):
        srv = self.server()
        self.pg.stop('fast')
        self.pg.start()
        self.assertEqual(srv.accounts_of('tok'), [acc('acct')])  # the broken connection is replaced
        srv.bind('tok', 'acct2')
        self.assertEqual(srv.accounts_of('tok'), [acc('acct'), acc('acct2')])

    def test_a_stopped_database_fails_fast_and_is_found_again(self):
        srv = self.server()
        self.pg.stop('immediate')
        try:
            status, took = self.health(srv)
            self.assertEqual(status, 503)
            self.assertLess(took, 2.5)
            status, resp = srv.query({'operator_type': 2, 'token_list': ['tok']})
            self.assertEqual(resp.get('ret_code'), E_STORE, resp)
        finally:
            self.pg.start()
        self.assertEqual(self.health(srv)[0], 200)
        self.assertEqual(srv.accounts_of('tok'), [acc('acct')])

    def test_a_frozen_database_times_out_writes_as_unknown(self):
        srv = self.server()
        pids = self.pg.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            status, took = self.health(srv)
            self.assertEqual(status, 503)
            self.assertLess(took, 2.5)
            started = time.time()
            status, resp = srv.batch({'operator_type': 1, 'token_accounts': [
                {'token': 'tok', 'account_list': [{'account': 'frozen'}]}]})
            self.assertEqual(resp.get('ret_code'), E_STORE, resp)  # 1008004: outcome unknown
            self.assertLess(time.time() - started, 2.5)
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        # the write may have been applied after all (its COMMIT was sent): either answer is right
        self.assertIn(srv.accounts_of('tok'), ([acc('acct')], [acc('acct'), acc('frozen')]))
        srv.bind('tok', 'after')
        self.assertEqual(srv.accounts_of('tok')[-1], acc('after'))

    def test_a_write_waits_for_its_connection_s_prepares_before_it_is_sent(self):
        proxy = pgslow.SlowProxy(self.pg.port)
        self.addCleanup(proxy.close)
        srv = pbtest.Server.for_test(self, store_url=proxy.url('pushbind_schema=slow_start'), args=['--threads', '1'])
        self.assertEqual(srv.accounts_of('tok'), [])  # the lookup connection opens at full speed
        # From now on a new backend takes STEP to start, STEP more for the prepares and STEP for the
        # write: each within the 2 s timeouts, the prepares and the write together not. A write
        # sent behind the prepares would answer 1008004 (its reply timer started with them).
        step = 1.2
        proxy.step = step
        started = time.time()
        srv.bind('tok', 'acct')
        self.assertGreater(time.time() - started, 3 * step)  # it went through a new, slow connection
        self.assertEqual(srv.accounts_of('tok'), [acc('acct')])

    def test_a_write_whose_connection_does_not_open_goes_on_an_open_one(self):
        proxy = pgslow.SlowProxy(self.pg.port)
        self.addCleanup(proxy.close)
        srv = pbtest.Server.for_test(self, store_url=proxy.url('pushbind_schema=slow_move'), args=['--threads', '1'])
        srv.bind('tok', 'first')  # one write connection open
        # a first write held in PostgreSQL by the app's lock keeps that connection busy, so the
        # second goes to a new connection, which takes longer than 2 s to open
        holder = subprocess.Popen(['psql', self.pg.url, '-Aqt', '-v', 'ON_ERROR_STOP=1'], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(holder.stdout.close)
        self.addCleanup(holder.wait)
        self.addCleanup(holder.stdin.close)
        holder.stdin.write("BEGIN; SELECT pg_advisory_xact_lock(slow_move.app_lock_key(%s)); SELECT 'locked';\n"
                           % APP[0])
        holder.stdin.flush()
        while holder.stdout.readline().strip() != 'locked':
            pass
        answers = {}

        def write(name):  # on an HTTP connection of its own
            body = pbtest.encode_body({'operator_type': 1, 'token_accounts': [
                {'token': 'tok', 'account_list': [{'account': name}]}]})
            conn = srv.new_connection(timeout=30)
            conn.request('POST', BATCH, body=body, headers=pbtest.auth_headers('basic', APP, body))
            answers[name] = pbtest.parse_json(conn.getresponse().read())
            conn.close()

        held = threading.Thread(target=write, args=('held',))
        held.start()
        while psql(self.pg.url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == '0':
            time.sleep(0.01)
        proxy.step = 2.5  # a new backend takes 2.5 s to start: past the 2 s a connection has to open
        accepted = proxy.accepted
        moved = threading.Thread(target=write, args=('moved',))
        started = time.time()
        moved.start()
        while proxy.accepted == accepted:  # the second write chose the new connection
            time.sleep(0.01)
        holder.stdin.write('COMMIT;\n')
        holder.stdin.flush()
        held.join(30)
        moved.join(30)
        self.assertEqual(answers['held'], {'ret_code': 0, 'err_msg': 'ok', 'result': ['0']})
        self.assertEqual(answers['moved'], {'ret_code': 0, 'err_msg': 'ok', 'result': ['0']})
        self.assertGreater(time.time() - started, 2.0)  # sent once its own connection had failed to open
        self.assertEqual(srv.accounts_of('tok'), [acc('first'), acc('held'), acc('moved')])


if __name__ == '__main__':
    unittest.main()
