"""Patroni members with etcd for the tests, on loopback ports in a temp dir, torn down after:
the configuration docs/operations.md recommends (PATRONI_DCS, patroni_config), with trust
authentication on 127.0.0.1 instead of passwords. Standard library plus Debian's patroni,
python3-etcd (Patroni's etcd3 client imports it) and etcd-server; the PostgreSQL side is
pbpostgres.py's (runs as the postgres user, ports from PB_TEST_PORT_BASE).

    cluster = pbpatroni.Patroni(**pbpostgres.OWN_PATRONI_PORTS)
    leader = cluster.wait_healthy(); cluster.kill_member(leader)
    new = pbpostgres.wait_primary(cluster.ports, exclude=(leader,)); cluster.start_member(leader)
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from pbpostgres import (HOST, PG_BIN, Postgres, as_postgres, is_primary, own_dir, process_tree, psql, signal_all,
                        stop_stale, url, wait_gone)

# The dynamic configuration docs/operations.md recommends (bootstrap.dcs). A dead
# primary's leader key expires after ttl; the sync standby sees it at its next loop and
# is promoted: about ttl + loop_wait after the crash. loop_wait + 2 × retry_timeout ≤ ttl
# keeps a primary that loses etcd from demoting itself before its key could expire.
PATRONI_DCS = {
    'ttl': 6, 'loop_wait': 1, 'retry_timeout': 2,
    'maximum_lag_on_failover': 1048576,
    'synchronous_mode': True,
    # With 3 members a commit waits for a second disk even after one member is lost;
    # with fewer members alive, writes wait rather than be acknowledged on one.
    'synchronous_mode_strict': True,
    'postgresql': {
        'use_pg_rewind': True,
        # With slots a new leader creates its replicas' slots only a loop after its promotion,
        # and strict mode holds every COMMIT until one of them streams: seconds, not 0.1 s.
        'use_slots': False,
        'parameters': {'wal_level': 'replica', 'hot_standby': 'on', 'wal_log_hints': 'on',
                       'max_wal_senders': 10, 'max_replication_slots': 10, 'max_connections': 200,
                       'wal_sender_timeout': '5s', 'wal_receiver_status_interval': '1s',
                       'wal_keep_size': '256MB'},
    },
}


def patroni_config(scope, name, pg_port, rest_port, etcd_hosts, directory):
    """One member's patroni.yml (JSON is YAML): PATRONI_DCS, trust on 127.0.0.1."""
    return {
        'scope': scope,
        'name': name,
        'restapi': {'listen': '%s:%d' % (HOST, rest_port), 'connect_address': '%s:%d' % (HOST, rest_port)},
        'etcd3': {'hosts': etcd_hosts},
        'bootstrap': {
            'dcs': PATRONI_DCS,
            'initdb': [{'encoding': 'UTF8'}, 'data-checksums'],
            'pg_hba': ['host replication all 127.0.0.1/32 trust', 'host all all 127.0.0.1/32 trust'],
        },
        'postgresql': {
            'listen': '%s:%d' % (HOST, pg_port),
            'connect_address': '%s:%d' % (HOST, pg_port),
            'data_dir': os.path.join(directory, 'data'),
            'bin_dir': PG_BIN,
            'pgpass': os.path.join(directory, 'pgpass'),
            'authentication': {'superuser': {'username': 'postgres'},
                               'replication': {'username': 'postgres'},
                               'rewind': {'username': 'postgres'}},
            'parameters': {'unix_socket_directories': directory, 'shared_buffers': '32MB'},
            'remove_data_directory_on_rewind_failure': True,
            'remove_data_directory_on_diverged_timelines': True,
        },
    }


def patroni_cluster(rest_ports):
    """GET /cluster from the first member whose REST API answers: {'members': [...]} or None."""
    for rest in rest_ports:
        try:
            with urllib.request.urlopen('http://%s:%d/cluster' % (HOST, rest), timeout=2) as r:
                return json.loads(r.read().decode())
        except (OSError, ValueError):
            continue
    return None


def patroni_leader(rest_ports):
    """The leader's PostgreSQL port per Patroni, or None."""
    for m in (patroni_cluster(rest_ports) or {}).get('members', []):
        if m['role'] == 'leader' and m.get('state') == 'running':
            return m['port']
    return None


class Patroni(object):
    """One etcd (client and peer port) and a Patroni member per PostgreSQL port (REST API on the
    matching rest port), synchronous_mode on. One etcd, not three: the DCS's own quorum is not
    what the tests kill, and three more processes (and six ports) would not fit the 2 cores and
    the 10 ports a test has."""

    def __init__(self, etcd, pg, rest, directory=None, timeout=90, enter=None):
        """`enter`, when given, maps a machine's name ('etcd', 'pg<port>') to the argv prefix that
        starts a process in that machine (the partition suite's process groups)."""
        self.enter = enter or (lambda name: [])
        self._temp_dir = directory is None
        self.dir = own_dir(directory or tempfile.mkdtemp(prefix='pushbind-patroni-'))
        self.etcd_ports, self.ports, self.rest_ports = tuple(etcd), list(pg), list(rest)
        self.scope = 'pushbind-test-%d' % self.ports[0]
        self.etcd = None
        self.members = {}  # pg port -> Popen of runuser … patroni
        stop_stale(list(self.etcd_ports) + self.ports + self.rest_ports)
        try:
            self._start_etcd()
            for p in self.ports:
                shutil.rmtree(self._member_dir(p), ignore_errors=True)
                self.start_member(p)
            self.wait_healthy(timeout)
        except BaseException:
            self.close()
            raise

    def _member_dir(self, port):
        return os.path.join(self.dir, 'pg%d' % port)

    def _start_etcd(self):
        client, peer = self.etcd_ports
        d = os.path.join(self.dir, 'etcd')
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, 'etcd.log'), 'ab') as log:
            self.etcd = subprocess.Popen(
                self.enter('etcd') + ['etcd', '--name', 'e0', '--data-dir', os.path.join(d, 'data'),
                 '--listen-client-urls', 'http://%s:%d' % (HOST, client),
                 '--advertise-client-urls', 'http://%s:%d' % (HOST, client),
                 '--listen-peer-urls', 'http://%s:%d' % (HOST, peer),
                 '--initial-advertise-peer-urls', 'http://%s:%d' % (HOST, peer),
                 '--initial-cluster', 'e0=http://%s:%d' % (HOST, peer), '--initial-cluster-state', 'new'],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen('http://%s:%d/health' % (HOST, client), timeout=2) as r:
                    if json.loads(r.read().decode()).get('health') == 'true':
                        return
            except OSError:
                pass
            if self.etcd.poll() is not None or time.time() > deadline:
                raise RuntimeError('etcd on port %d did not start' % client)
            time.sleep(0.1)

    def start_member(self, port):
        """Starts the Patroni member of `port` (again, after kill_member: it rejoins as a replica)."""
        d = own_dir(self._member_dir(port))
        rest = self.rest_ports[self.ports.index(port)]
        config = os.path.join(d, 'patroni.yml')
        with open(config, 'w') as f:
            json.dump(patroni_config(self.scope, 'pg%d' % port, port, rest,
                                     ['%s:%d' % (HOST, self.etcd_ports[0])], d), f, indent=1)
        with open(os.path.join(d, 'patroni.log'), 'ab') as log:
            self.members[port] = subprocess.Popen(self.enter('pg%d' % port) + as_postgres(['patroni', config]), cwd=d, stdin=subprocess.DEVNULL,
                                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def postgres(self, port):
        """The member's PostgreSQL server (for its processes: Patroni starts it detached)."""
        node = Postgres(port, self.dir)
        node.data = os.path.join(self._member_dir(port), 'data')
        return node

    def log(self, port):
        try:
            with open(os.path.join(self._member_dir(port), 'patroni.log'), errors='replace') as f:
                return f.read()[-4000:]
        except OSError:
            return ''

    def cluster(self):
        return patroni_cluster(self.rest_ports)

    def leader(self):
        return patroni_leader(self.rest_ports)

    def wait_healthy(self, timeout=90):
        """A leader that is a primary, every other live member streaming from it, and the member
        Patroni names sync_standby (the only one it would promote) synchronous in the leader's
        pg_stat_replication. Returns the leader's port."""
        deadline = time.time() + timeout
        live = [p for p in self.ports if self.members.get(p) and self.members[p].poll() is None]
        while True:
            members = (self.cluster() or {}).get('members', [])
            leader = self.leader()
            sync = ['pg%d' % m['port'] for m in members if m['role'] == 'sync_standby' and m.get('state') == 'running']
            running = [m for m in members if m.get('state') == 'running']
            if leader is not None and sync and len(running) == len(live) and is_primary(leader):
                rows = psql(leader, 'SELECT application_name, sync_state FROM pg_stat_replication',
                            check=False).split()
                if len(rows) == len(live) - 1 and '%s|sync' % sync[0] in rows:
                    return leader
            if time.time() > deadline:
                raise RuntimeError('Patroni not healthy after %.0f s: %r; logs:\n%s'
                                   % (timeout, self.cluster(), '\n'.join(self.log(p) for p in self.ports)))
            time.sleep(0.2)

    def kill_member(self, port):
        """SIGKILL Patroni and its PostgreSQL at once: the member's machine crashed."""
        pids = []
        if port in self.members and self.members[port].poll() is None:
            pids += process_tree(self.members[port].pid)
        pids += self.postgres(port).pids()
        signal_all(pids, signal.SIGKILL)
        wait_gone(pids)
        if port in self.members:
            self.members[port].wait(10)

    def url(self, **params):
        return url(self.ports, **params)

    def close(self):
        for p in list(self.members):
            self.kill_member(p)
            self.postgres(p).stop()
        if self.etcd is not None and self.etcd.poll() is None:
            self.etcd.kill()
            self.etcd.wait(10)
        stop_stale(list(self.etcd_ports) + self.ports + self.rest_ports)
        if self._temp_dir:
            # A process that was exiting may still have written a file meanwhile: once more.
            for _ in range(2):
                shutil.rmtree(self.dir, ignore_errors=True)
                if not os.path.exists(self.dir):
                    break
                time.sleep(0.5)
