"""The PostgreSQL harness itself (pbpostgres.py), without pushbind: the synchronous standby is
really synchronous, the steps of a manual failover keep every commit, Patroni elects a leader
with a synchronous standby and promotes it within PROMOTION_LIMIT s of the leader's crash,
and the multi-host URL reaches the primary wherever it is.

Ports: PB_TEST_PORT_BASE (default 30000) + 90..99, the same as test/soak's: run alone.
"""

import subprocess
import time
import unittest

import pbpatroni
import pbpostgres
from pbpostgres import psql

# Patroni's leader key expires after ttl; the sync standby takes the lock at its next loop.
PROMOTION_LIMIT = pbpatroni.PATRONI_DCS['ttl'] + pbpatroni.PATRONI_DCS['loop_wait'] + 4


def psql_url(u, sql):
    """`sql` through libpq's own reading of the URL u."""
    r = subprocess.run(['psql', u, '-XAtq', '-c', sql], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    if r.returncode != 0:
        raise AssertionError('psql %s: %s' % (u, r.stderr.decode()))
    return r.stdout.decode().strip()


class SyncPairTest(unittest.TestCase):
    def setUp(self):
        self.pair = pbpostgres.SyncPair(pbpostgres.OWN_SYNC_PORTS)
        self.addCleanup(self.pair.close)

    def test_commit_waits_for_the_standby_and_survives_a_manual_failover(self):
        pair = self.pair
        self.assertEqual(pair.sync_state(), 'sync')
        self.assertEqual(psql(pair.primary, 'SHOW synchronous_commit'), 'on')
        psql(pair.primary, 'CREATE TABLE t (k int PRIMARY KEY)')
        psql(pair.primary, 'INSERT INTO t VALUES (1)')

        # The standby hangs: a commit waits for it, and completes once it is back.
        pair.nodes[pair.standby].pause()
        try:
            with self.assertRaises(subprocess.TimeoutExpired):
                psql(pair.primary, 'INSERT INTO t VALUES (2)', timeout=2)
        finally:
            pair.nodes[pair.standby].resume()
        psql(pair.primary, 'INSERT INTO t VALUES (3)', timeout=20)

        self.assertEqual(psql_url(pair.url(), 'SELECT inet_server_port()'), str(pair.primary))
        old = pair.kill_primary()
        self.assertFalse(pair.nodes[old].running())
        new = pair.promote()
        self.assertNotEqual(new, old)
        self.assertTrue(pbpostgres.is_primary(new))
        self.assertEqual(psql(new, 'SHOW synchronous_standby_names'), '')
        self.assertEqual(psql(new, 'SELECT k FROM t ORDER BY k').split(), ['1', '2', '3'])
        self.assertEqual(psql_url(pair.url(), 'SELECT inet_server_port()'), str(new))

        pair.add_standby(old)
        self.assertEqual(pair.standby, old)
        self.assertEqual(pair.sync_state(), 'sync')
        self.assertEqual(psql(new, 'SHOW synchronous_standby_names'), 'pg%d' % old)

    def test_stop_and_start_all(self):
        pair = self.pair
        pair.stop_all()
        self.assertEqual(pbpostgres.current_primary(pair.ports), None)
        pair.start_all()
        self.assertEqual(pbpostgres.wait_primary(pair.ports, timeout=20), pair.primary)
        pair.wait_sync(20)

    def test_url(self):
        self.assertEqual(pbpostgres.url([5, 6], pushbind_schema='ns'),
                         'postgresql://postgres@127.0.0.1:5,127.0.0.1:6/postgres?pushbind_schema=ns'
                         '&target_session_attrs=read-write')


class PatroniTest(unittest.TestCase):
    def test_leader_elected_and_replaced_after_a_crash(self):
        started = time.monotonic()
        cluster = pbpatroni.Patroni(**pbpostgres.OWN_PATRONI_PORTS)
        self.addCleanup(cluster.close)
        leader = cluster.wait_healthy()
        print('Patroni: %d members healthy after %.1f s, leader %d'
              % (len(cluster.ports), time.monotonic() - started, leader), flush=True)
        self.assertEqual(psql(leader, 'SHOW synchronous_commit'), 'on')
        psql(leader, 'CREATE TABLE t (k int PRIMARY KEY)')
        psql(leader, 'INSERT INTO t SELECT generate_series(1, 100)')

        killed = time.monotonic()
        cluster.kill_member(leader)
        new = pbpostgres.wait_primary(cluster.ports, timeout=60, exclude=(leader,))
        took = time.monotonic() - killed
        print('Patroni: %d promoted %.2f s after %d was killed' % (new, took, leader), flush=True)
        self.assertLessEqual(took, PROMOTION_LIMIT)
        self.assertEqual(psql(new, 'SELECT count(*) FROM t'), '100')
        self.assertEqual(psql_url(cluster.url(), 'SELECT inet_server_port()'), str(new))

        cluster.start_member(leader)
        self.assertEqual(cluster.wait_healthy(), new)
        self.assertEqual(psql(leader, 'SELECT pg_is_in_recovery()'), 't')


if __name__ == '__main__':
    unittest.main()
