"""pushbind on Redis itself: the command line, a Redis that goes away, two
processes on one cluster, limits under concurrency, failover and resharding.

Each class starts its own Redis servers (pbredis.py) on ports reserved for
these tests and stops them afterwards, whatever the outcome.
"""

import http.client
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

import pbredis
import pbtest
from pbtest import APP, BATCH, E_STORE, QUERY, acc, acc_list, batch_error, query_error, run_cli, uniq

UNREACHABLE_PORT = pbredis.PORT_BASE + 41
LOOP_PORT = pbredis.PORT_BASE + 27
CLUSTER_PORTS = tuple(range(pbredis.PORT_BASE + 21, pbredis.PORT_BASE + 27))
FAILOVER_PORTS = tuple(range(pbredis.PORT_BASE + 31, pbredis.PORT_BASE + 37))


def post(conn, path, body):
    """One POST on `conn` with APP's Basic credentials: (status, parsed JSON)."""
    data = json.dumps(body).encode('utf-8')
    headers = {'Content-Type': 'application/json'}
    headers.update(pbtest.auth_headers('basic', APP, data))
    conn.request('POST', path, body=data, headers=headers)
    resp = conn.getresponse()
    return resp.status, pbtest.parse_json(resp.read())


class Load(object):
    """A client thread that binds a new token to one of accounts (50 tokens each), then
    reads it back by token, until stopped. It records every acknowledged
    binding and every answer that was neither a success nor 1008004."""

    def __init__(self, srv, name):
        self.srv = srv
        self.name = name
        self.acknowledged = []  # (token, account)
        self.failures = 0       # answers 1008004
        self.uncertain = set()  # tokens whose bind answered 1008004: applied or not
        self.unexpected = []    # anything else
        self.ok_after = 0       # successes since the last reset_counts()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        conn = self.srv.new_connection(timeout=30)
        i = 0
        while not self._stop.is_set():
            i += 1
            token, account = '%s-tok-%d' % (self.name, i), '%s-acct-%d' % (self.name, i // 50)
            try:
                status, resp = post(conn, BATCH, {'operator_type': 1, 'token_accounts': [
                    {'token': token, 'account_list': [acc(account)]}]})
                if (status, resp) == (200, {'ret_code': 0, 'err_msg': 'ok', 'result': ['0']}):
                    self.acknowledged.append((token, account))
                    self.ok_after += 1
                elif status == 200 and resp in (batch_error(E_STORE), pbtest.batch_answer(E_STORE)):
                    self.failures += 1
                    self.uncertain.add(token)
                else:
                    self.unexpected.append(('bind', status, resp))
                status, resp = post(conn, QUERY, {'operator_type': 2, 'token_list': [token]})
                if status == 200 and resp == query_error(E_STORE):
                    self.failures += 1
                elif status != 200 or not isinstance(resp, dict) or resp.get('retCode') not in (0, pbtest.E_TOTAL):
                    self.unexpected.append(('query', status, resp))
            except Exception as e:  # recorded, so that the test fails saying what happened
                self.unexpected.append(('exception', repr(e)))
                conn.close()
                conn = self.srv.new_connection(timeout=30)
        conn.close()

    def wait_for_successes(self, n, timeout=60):
        self.ok_after = 0
        deadline = time.time() + timeout
        while self.ok_after < n:
            if time.time() > deadline or not self._thread.is_alive():
                raise AssertionError('%s: only %d successful binds in %.0f s (%d answered 1008004); '
                                     'unexpected: %r' % (self.name, self.ok_after, timeout, self.failures,
                                                         self.unexpected[:5]))
            time.sleep(0.05)

    def stop(self):
        self._stop.set()
        self._thread.join(60)


def assert_all_bound(testcase, srv, acknowledged, uncertain=frozenset()):
    """Every acknowledged (token, account) is readable both ways, in order; the
    only other bindings are of `uncertain` tokens (answered 1008004, which
    promises nothing either way)."""
    for k in range(0, len(acknowledged), 200):
        chunk = acknowledged[k:k + 200]
        status, resp = srv.query({'operator_type': 2, 'token_list': [t for t, _ in chunk]})
        testcase.assertEqual(status, 200)
        got = {e['token']: e['account_list'] for e in resp['token_accounts']}
        for token, account in chunk:
            testcase.assertEqual(got[token], [acc(account)], token)
    by_account = {}
    for token, account in acknowledged:
        by_account.setdefault(account, []).append(token)
    for account, tokens in by_account.items():
        got = [t for t in srv.tokens_of(account) if t not in uncertain]
        testcase.assertEqual(got, tokens, account)


class CommandLineTest(unittest.TestCase):
    def test_data_and_store_together_is_a_usage_error(self):
        d = pbtest.new_temp_dir(self.addCleanup)
        for argv in (['app', 'list'], ['serve', '--listen', '127.0.0.1:0']):
            r = run_cli(*(argv + ['--data', d, '--store', 'redis://127.0.0.1:%d' % UNREACHABLE_PORT]))
            self.assertEqual(r.returncode, 2, r)
            self.assertIn('exclude each other', r.stderr, r)

    def test_malformed_store_url_fails_with_a_message(self):
        for url in ('http://127.0.0.1:1', 'redis://', 'redis://127.0.0.1', 'redis://a:1,b:2',
                    'redis://127.0.0.1:1/bad{ns}', 'redis://127.0.0.1:1?wait=x',
                    'redis://127.0.0.1:1?wait=all', 'redis-cluster://127.0.0.1:1?wait=al'):
            r = run_cli('app', 'list', '--store', url)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(url, r.stderr, r)

    def test_unreachable_redis_fails_app_and_serve_with_a_message(self):
        url = 'redis://127.0.0.1:%d' % UNREACHABLE_PORT
        r = run_cli('app', 'add', '--store', url, '--access-id', APP[0], '--secret-key', APP[1])
        self.assertEqual(r.returncode, 1, r)
        self.assertIn('127.0.0.1:%d' % UNREACHABLE_PORT, r.stderr, r)
        r = run_cli('serve', '--store', url, '--listen', '127.0.0.1:0')
        self.assertEqual(r.returncode, 1, r)


class UnreachableRedisTest(unittest.TestCase):
    """A Redis that dies answers 1008004, and service resumes when it is back."""

    def setUp(self):
        self.dir = pbtest.new_temp_dir(self.addCleanup)
        self.redis = pbredis.Redis(UNREACHABLE_PORT, self.dir, extra=['--appendfsync', 'always'])
        self.addCleanup(lambda: self.redis.stop())

    def test_redis_down_answers_1008004_and_service_resumes_without_restart(self):
        url = 'redis://127.0.0.1:%d/%s' % (UNREACHABLE_PORT, uniq('ns'))
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=url)
        srv.bind('t1', 'a', 'b')
        self.redis.kill()
        self.assertEqual(srv.batch({'operator_type': 1, 'token_accounts': [
            {'token': 't2', 'account_list': acc_list('a')}]}), (200, batch_error(E_STORE)))
        self.assertEqual(srv.query({'operator_type': 2, 'token_list': ['t1']}), (200, query_error(E_STORE)))
        status, _, _ = srv.request('GET', '/healthz')
        self.assertNotEqual(status, 200)
        self.redis = pbredis.Redis(UNREACHABLE_PORT, self.dir, extra=['--appendfsync', 'always'])
        # pushbind leaves a failed node alone for a second, then reconnects by itself.
        deadline = time.time() + 10
        while srv.request('GET', '/healthz')[0] != 200:
            self.assertLess(time.time(), deadline, 'pushbind did not reconnect to Redis')
            time.sleep(0.1)
        self.assertEqual(srv.accounts_of('t1'), [acc('a'), acc('b')])
        self.assertEqual(srv.accounts_of('t2'), [])
        srv.bind('t2', 'a')
        self.assertEqual(srv.tokens_of('a'), ['t1', 't2'])

    def test_a_removed_app_or_a_new_key_is_refused_at_once(self):
        # Each thread keeps the secrets it read for a second; `app add` and
        # `app remove` publish the change, and the servers drop them at once.
        url = 'redis://127.0.0.1:%d/%s' % (UNREACHABLE_PORT, uniq('ns'))
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=url)
        body = {'operator_type': 2, 'token_list': ['t1']}
        for _ in range(8):  # every thread caches the secret
            self.assertEqual(srv.query(body)[1]['retCode'], pbtest.E_TOTAL)
        new_key = (APP[0], 'ab' * 16)
        pbtest.app_add(None, APP[0], new_key[1], store_url=url)
        self.assertEqual(srv.query(body), (200, query_error(pbtest.E_AUTH)))
        self.assertEqual(srv.query(body, app=new_key)[1]['retCode'], pbtest.E_TOTAL)
        r = run_cli('app', 'remove', '--store', url, '--access-id', APP[0])
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(srv.query(body, app=new_key), (200, query_error(pbtest.E_AUTH)))

    def test_namespaces_do_not_see_each_other(self):
        first = 'redis://127.0.0.1:%d/%s' % (UNREACHABLE_PORT, uniq('ns'))
        second = 'redis://127.0.0.1:%d/%s' % (UNREACHABLE_PORT, uniq('ns'))
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=first)
        srv.bind('t1', 'a')
        r = run_cli('app', 'list', '--store', second)
        self.assertEqual((r.returncode, r.stdout.split()), (0, ['ACCESS_ID', 'CREATED', 'BINDINGS']), r)
        other = pbtest.Server.for_test(self, apps=[APP], store_url=second)
        self.assertEqual(other.accounts_of('t1'), [])


class LoopWritesTest(unittest.TestCase):
    """An event loop thread carries its writes itself, on connections of their own."""

    def setUp(self):
        self.dir = pbtest.new_temp_dir(self.addCleanup)
        self.redis = pbredis.Redis(LOOP_PORT, self.dir)
        self.addCleanup(lambda: self.redis.stop())
        self.ns = uniq('ns')
        self.srv = pbtest.Server.for_test(self, apps=[APP], args=['--threads', '1'],
                                          store_url='redis://127.0.0.1:%d/%s' % (LOOP_PORT, self.ns))

    def pushbind_clients(self):
        """Redis clients other than redis-cli itself: pushbind's connections."""
        listing = pbredis.cli(LOOP_PORT, 'CLIENT', 'LIST')
        return [line for line in listing.splitlines() if 'cmd=client|list' not in line]

    def test_many_binds_in_flight_on_one_thread_are_all_answered_and_visible_and_reads_pass_them(self):
        # Writes wait while Redis pauses them; every one of 64 clients' binds is then
        # in flight on the one loop thread at once, over a handful of connections,
        # and a read is answered meanwhile: it does not queue behind the writes.
        self.srv.bind('before', 'a')
        n = 64
        answers = [None] * n
        started = threading.Barrier(n + 1)

        def client(no):
            conn = self.srv.new_connection(timeout=30)
            started.wait()
            try:
                answers[no] = post(conn, BATCH, {'operator_type': 1, 'token_accounts': [
                    {'token': 'loop-%d' % no, 'account_list': [acc('loop-acct-%d' % (no % 8))]}]})
            finally:
                conn.close()

        pbredis.cli(LOOP_PORT, 'CLIENT', 'PAUSE', 1500, 'WRITE')
        threads = [threading.Thread(target=client, args=(no,)) for no in range(n)]
        for t in threads:
            t.start()
        started.wait()
        time.sleep(0.3)
        began = time.time()
        self.assertEqual(self.srv.accounts_of('before'), [acc('a')])
        self.assertLess(time.time() - began, 1.0, 'a read waited for the paused writes')
        clients = len(self.pushbind_clients())
        self.assertLessEqual(clients, 8, 'pushbind holds %d Redis connections' % clients)
        for t in threads:
            t.join(30)
        ok = (200, {'ret_code': 0, 'err_msg': 'ok', 'result': ['0']})
        self.assertEqual([a for a in answers if a != ok], [])
        for acct in range(8):
            self.assertEqual(sorted(self.srv.tokens_of('loop-acct-%d' % acct)),
                             sorted('loop-%d' % no for no in range(n) if no % 8 == acct))

    def test_a_bind_whose_app_was_removed_after_it_authenticated_answers_auth_failure_and_writes_nothing(self):
        self.assertEqual(self.srv.accounts_of('t1'), [])  # the thread now trusts the secret for a second
        # Removed behind pushbind's back (no message): the write itself finds the app gone.
        pbredis.cli(LOOP_PORT, 'DEL', '%s:app:{%s}' % (self.ns, APP[0]))
        self.assertEqual(self.srv.batch({'operator_type': 1, 'token_accounts': [
            {'token': 't1', 'account_list': acc_list('a', 'b')}]}), (200, batch_error(pbtest.E_AUTH)))
        # Only the namespace's own keys are left (the apps set, the account types' walk mark): nothing of the app.
        self.assertEqual(sorted(pbredis.cli(LOOP_PORT, 'KEYS', '%s:*' % self.ns).split()),
                         ['%s:apps' % self.ns, '%s:types-indexed' % self.ns])


class ClusterTest(unittest.TestCase):
    """Two pushbind processes on one 3+3 cluster."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster = pbredis.Cluster(CLUSTER_PORTS)
        cls.addClassCleanup(cls.cluster.close)

    def two_servers(self):
        url = self.cluster.url(uniq('ns'))
        one = pbtest.Server.for_test(self, apps=[APP], store_url=url)
        two = pbtest.Server.for_test(self, apps=[], store_url=url)
        two.default_app = APP
        return one, two

    def test_a_write_through_one_process_is_read_through_the_other(self):
        one, two = self.two_servers()
        one.bind('tok-1', 'a', ('b', 1))
        one.bind('tok-2', 'a')
        self.assertEqual(two.accounts_of('tok-1'), [acc('a'), acc('b', 1)])
        self.assertEqual(two.tokens_of('a'), ['tok-1', 'tok-2'])
        two.ok_batch({'operator_type': 5, 'account_list': acc_list('a')})
        self.assertEqual(one.tokens_of('a'), [])
        self.assertEqual(one.accounts_of('tok-1'), [acc('b', 1)])

    def test_wait_all_acknowledges_once_every_replica_has_it(self):
        # One replica per primary here, each synced: a WAIT asking for more replicas than the slot
        # map lists would never be satisfied and every bind would answer 1008004.
        self.cluster.wait_synced()
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=self.cluster.url(uniq('ns'), wait='all'))
        for i in range(30):
            srv.bind('all-%d' % i, 'all-acct-%d' % i)
        self.assertEqual(srv.accounts_of('all-29'), [acc('all-acct-29')])

    def test_an_app_spreads_over_every_primary(self):
        url = self.cluster.url(uniq('ns'))
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=url)
        for i in range(30):
            srv.bind('spread-%d' % i, 'spread-acct-%d' % i)
        holding = [p for p in self.cluster.primaries() if int(pbredis.cli(p, 'DBSIZE')) > 0]
        self.assertEqual(len(holding), 3, holding)

    def test_tokens_per_account_limit_holds_under_concurrent_binds_from_two_processes(self):
        one, two = self.two_servers()
        results = {}

        def bind_many(srv, name):
            conn = srv.new_connection(timeout=30)
            ok = []
            for i in range(80):
                token = '%s-%d' % (name, i)
                status, resp = post(conn, BATCH, {'operator_type': 1, 'token_accounts': [
                    {'token': token, 'account_list': [acc('popular')]}]})
                if resp == {'ret_code': 0, 'err_msg': 'ok', 'result': ['0']}:
                    ok.append(token)
                else:
                    self.assertEqual(resp, pbtest.batch_answer(pbtest.E_PARAM))
            results[name] = ok
            conn.close()

        threads = [threading.Thread(target=bind_many, args=(srv, name))
                   for srv, name in ((one, 'p1'), (two, 'p2'), (one, 'p3'))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        bound = results['p1'] + results['p2'] + results['p3']
        self.assertEqual(len(bound), 100)
        self.assertEqual(sorted(one.tokens_of('popular')), sorted(bound))

    def test_batch_items_sharing_an_account_see_each_other_while_the_others_share_round_trips(self):
        url = self.cluster.url(uniq('ns'))
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=url)
        busy = uniq('busy')
        tokens = ['busy-%d' % i for i in range(99)]
        for k in range(0, 99, 20):
            srv.ok_batch({'operator_type': 1, 'token_accounts': [
                {'token': t, 'account_list': acc_list(busy)} for t in tokens[k:k + 20]]})
        # Items 1 and 3 both want busy's last slot: the first gets it, the other is refused;
        # the 18 independent items around them all apply, in order.
        items = [{'token': 'free-%d' % i, 'account_list': acc_list('free-acct-%d' % i)} for i in range(20)]
        items[1]['account_list'].append(acc(busy))
        items[3]['account_list'].append(acc(busy))
        codes = [0] * 20
        codes[3] = pbtest.E_PARAM
        self.assertEqual(srv.batch({'operator_type': 1, 'token_accounts': items}), (200, pbtest.batch_answer(*codes)))
        self.assertEqual(srv.tokens_of(busy), tokens + ['free-1'])
        self.assertEqual(srv.accounts_of('free-3'), [])
        self.assertEqual(srv.accounts_of('free-1'), [acc('free-acct-1'), acc(busy)])
        self.assertEqual(srv.tokens_of('free-acct-19'), ['free-19'])

    def test_resharding_under_load_answers_success_or_1008004_and_keeps_every_binding(self):
        one, two = self.two_servers()
        for i in range(50):
            one.bind('before-%d' % i, 'before-acct-%d' % (i % 5))
        loads = [Load(one, 'r1'), Load(two, 'r2')]
        try:
            loads[0].wait_for_successes(20)
            primaries = sorted(self.cluster.primaries().items())
            (src_port, src_id), (_, dst_id) = primaries[0], primaries[1]
            subprocess.run(['redis-cli', '--cluster', 'reshard', '127.0.0.1:%d' % src_port,
                            '--cluster-from', src_id, '--cluster-to', dst_id, '--cluster-slots', '1500',
                            '--cluster-yes'], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=300, check=True)
            for load in loads:
                load.wait_for_successes(20)
        finally:
            for load in loads:
                load.stop()
        for load in loads:
            self.assertEqual(load.unexpected, [], load.name)
        for i in range(50):
            self.assertEqual(two.accounts_of('before-%d' % i), [acc('before-acct-%d' % (i % 5))])
        assert_all_bound(self, two, loads[0].acknowledged + loads[1].acknowledged,
                         loads[0].uncertain | loads[1].uncertain)


class FailoverTest(unittest.TestCase):
    """A primary dies under load; its replica takes over; nothing acknowledged is lost."""

    def setUp(self):
        self.cluster = pbredis.Cluster(FAILOVER_PORTS)
        self.addCleanup(self.cluster.close)

    def kill_a_primary(self):
        """Kills the lowest-port primary and waits until a replica has taken over; returns its port."""
        victim = sorted(self.cluster.primaries())[0]
        self.cluster.nodes[victim].kill()
        deadline = time.time() + 60
        while victim in self.cluster.primaries() or len(self.cluster.primaries()) != 3:
            self.assertLess(time.time(), deadline, 'no replica took over from %d' % victim)
            time.sleep(0.1)
        self.cluster.wait_ok(ports=[p for p in self.cluster.ports if p != victim])
        return victim

    def test_failover_under_load_loses_no_acknowledged_binding(self):
        # wait=1: a batch is acknowledged once a replica of every node it wrote has it.
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=self.cluster.url(uniq('ns'), wait=1))
        load = Load(srv, 'f')
        try:
            load.wait_for_successes(50)
            victim = self.kill_a_primary()
            # The promoted replica has no replica of its own yet: writes there
            # wait for one. Reads succeed now; bring the old primary back.
            self.assertEqual(srv.accounts_of(load.acknowledged[0][0]), [acc(load.acknowledged[0][1])])
            self.cluster.nodes[victim] = pbredis.Redis(victim, self.cluster.dir, cluster=True)
            self.cluster.wait_ok()
            load.wait_for_successes(50)
        finally:
            load.stop()
        self.assertEqual(load.unexpected, [])
        self.assertGreater(load.failures, 0, 'the failover was not noticed: is the test killing a primary?')
        assert_all_bound(self, srv, load.acknowledged, load.uncertain)

    def test_first_read_of_a_second_process_after_a_failover_is_answered(self):
        # `two` only reads: its connections to the victim die unseen, and its
        # first read through one must find the new primary, not answer 1008004.
        url = self.cluster.url(uniq('ns'))
        one = pbtest.Server.for_test(self, apps=[APP], store_url=url)
        two = pbtest.Server.for_test(self, apps=[], store_url=url)
        two.default_app = APP
        tokens = ['after-failover-%d' % i for i in range(30)]
        for i, token in enumerate(tokens):
            one.bind(token, 'acct-%d' % i)
        for i, token in enumerate(tokens):
            self.assertEqual(two.accounts_of(token), [acc('acct-%d' % i)])
        # a replica that has not finished its first sync cannot be promoted
        deadline = time.time() + 30
        while any('master_link_status:up' not in pbredis.cli(p, 'INFO', 'replication')
                  for p in set(self.cluster.ports) - set(self.cluster.primaries())):
            self.assertLess(time.time(), deadline, 'the replicas did not finish their first sync')
            time.sleep(0.1)
        self.kill_a_primary()
        for i, token in enumerate(tokens):
            self.assertEqual(two.accounts_of(token), [acc('acct-%d' % i)])
            self.assertEqual(two.tokens_of('acct-%d' % i), [token])


if __name__ == '__main__':
    unittest.main()
