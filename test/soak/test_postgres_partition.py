"""Partition suite, PostgreSQL: what an acknowledgement is worth when links are cut.

Patroni (3 members, synchronous_mode strict, with etcd: the configuration docs/operations.md
recommends) under a pushbind whose writer threads bind unique tokens and record every item
answered "0". The leader's machine (its PostgreSQL and Patroni) and pushbind are cut off from
the two other members and etcd: the leader can neither reach its synchronous standby nor keep
its leader key, the majority promotes the standby, and the links heal. Nothing is killed;
only packets are dropped (netcut.PortPartition: each machine a cgroup, since every one of
these servers speaks from 127.0.0.1). Asserted: every acknowledged write is read back after
healing (0 lost: a COMMIT on the cut-off leader waits for a standby it cannot reach, so
nothing is acknowledged there), and every request is answered within the reply timeout.

  PUSHBIND_BIN=build/pushbind /usr/bin/python3 -m unittest -v test_postgres_partition

Needs root (iptables, cgroups). Ports: PB_TEST_PORT_BASE + 90..97 (pbpostgres.py's own Patroni).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'blackbox'))
import netcut  # noqa: E402
import pbpatroni  # noqa: E402
import pbpostgres  # noqa: E402
import pbtest  # noqa: E402
from pbtest import APP  # noqa: E402
import soak  # noqa: E402

HOLD_AFTER_PROMOTION = 3.0  # seconds the partition lasts once the majority has promoted
REPLY_TIMEOUT = 2.0  # the store's reply timeout (docs/design.md)
SLACK = 1.5  # what a loaded two-core machine adds to an answer's time


class PostgresPartitionTest(unittest.TestCase):
    def setUp(self):
        self.assertIsNone(netcut.available(), 'the partition suite cannot cut links here')
        self.assertIsNone(netcut.cgroups_available(), 'the partition suite cannot group processes here')
        soak.catch_interrupts(self)

    def test_leader_and_pushbind_cut_off_lose_no_acknowledged_write(self):
        ports = pbpostgres.OWN_PATRONI_PORTS
        # A socket keeps the group it was made in: every server starts in its machine.
        machines = netcut.Machines('etcd', 'pushbind', *('pg%d' % p for p in ports['pg']))
        self.addCleanup(machines.close)
        cluster = pbpatroni.Patroni(**ports, enter=machines.enter)
        self.addCleanup(cluster.close)
        leader = cluster.wait_healthy()
        srv = pbtest.Server.for_test(self, apps=[APP],
                                     store_url=cluster.url(pushbind_schema='pbpart_%d' % os.getpid()))
        # pushbind's connections so far are the leader's, on its side of the cut: what it opens
        # from now on is its machine's.
        machines.put('pushbind', pbpostgres.process_tree(srv.proc.pid))
        writers = soak.Writers([srv], 4, 'pgpart-%d' % os.getpid())
        self.addCleanup(writers.stop)
        writers.wait_for_successes(50)

        others = [p for p in cluster.ports if p != leader]
        rest = dict(zip(cluster.ports, cluster.rest_ports))
        cut = netcut.PortPartition(machines)
        self.addCleanup(cut.close)

        cut.apart(['pg%d' % leader, 'pushbind'], [leader, rest[leader]],
                  ['etcd'] + ['pg%d' % p for p in others], others + [rest[p] for p in others] + list(cluster.etcd_ports))
        t_cut = time.monotonic()
        promoted = pbpostgres.wait_primary(others, timeout=90)
        t_promoted = time.monotonic()
        time.sleep(HOLD_AFTER_PROMOTION)
        cut.heal()
        t_heal = time.monotonic()
        cluster.wait_healthy(timeout=120)
        writers.wait_for_successes(50, timeout=90)
        writers.stop()

        during = [e for e in writers.events if t_cut <= e[0] < t_heal]
        acked_during = [e for e in during if e[2]]
        worst = max([e[1] - e[0] for e in during] or [0])
        print('leader %d and pushbind cut off: %d promoted after %.1f s, healed after %.1f s; %d writes answered '
              'meanwhile (%d "0"), the slowest in %.2f s; %d acknowledged in all'
              % (leader, promoted, t_promoted - t_cut, t_heal - t_cut, len(during), len(acked_during), worst,
                 len(writers.acknowledged)), flush=True)
        self.assertEqual([u for u in writers.unexpected if u[0] != 'exception'], [])
        self.assertLessEqual(worst, REPLY_TIMEOUT + SLACK, 'a request waited %.2f s during the partition' % worst)
        soak.assert_all_bound(self, srv, writers.acknowledged)


if __name__ == '__main__':
    unittest.main()
