"""PostgreSQL servers for the tests: one server, a primary with a synchronous
standby, or Patroni members with etcd, on loopback ports in a temp dir, torn
down after. Standard library plus Debian's postgresql-15, postgresql-client-15,
patroni and etcd-server.

PostgreSQL refuses to run as root, and CI runs as root: initdb, pg_ctl and
patroni run as the `postgres` user Debian's package creates (runuser), in
directories it owns. psql connects over TCP as the `postgres` role (trust on
127.0.0.1: these servers listen there only).

Used by the CTest fixtures (python3 pbpostgres.py start|stop single|sync|patroni)
and by tests that kill, stop and promote servers of their own (test/soak).
The Patroni configuration is the one docs/operations.md recommends (patroni_config);
only the authentication differs (trust here, passwords there).
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

PG_BIN = '/usr/lib/postgresql/15/bin'
# PB_TEST_PORT_BASE (default 30000) moves every port, so that two checkouts can
# run their suites on one machine at once. + 80..89: the suite's servers
# (the fixtures); + 90..99: servers a single test makes for itself.
PORT_BASE = int(os.environ.get('PB_TEST_PORT_BASE', '30000'))
SINGLE_PORT = PORT_BASE + 80
SYNC_PORTS = (PORT_BASE + 81, PORT_BASE + 82)
# The fixture's Patroni: 1 etcd (client, peer), 2 members (PostgreSQL, REST API).
PATRONI_PORTS = dict(etcd=(PORT_BASE + 83, PORT_BASE + 84), pg=(PORT_BASE + 85, PORT_BASE + 86),
                     rest=(PORT_BASE + 87, PORT_BASE + 88))
# A test's own: Patroni with 3 members (+ 90..97) and a primary + standby (+ 98, 99).
OWN_PATRONI_PORTS = dict(etcd=(PORT_BASE + 90, PORT_BASE + 91), pg=(PORT_BASE + 92, PORT_BASE + 93, PORT_BASE + 94),
                         rest=(PORT_BASE + 95, PORT_BASE + 96, PORT_BASE + 97))
OWN_SYNC_PORTS = (PORT_BASE + 98, PORT_BASE + 99)
HOST = '127.0.0.1'

# Settings every server gets (auto.conf; a standby copies them with the base backup).
# Small shared_buffers: up to 5 servers run at once on a 2-core test machine.
SERVER_SETTINGS = {'wal_level': 'replica', 'max_wal_senders': '10', 'max_replication_slots': '10',
                   'wal_log_hints': 'on', 'shared_buffers': '32MB', 'max_connections': '200',
                   'wal_sender_timeout': '5s', 'wal_receiver_status_interval': '1s'}


def _as_postgres(argv):
    """argv run as the postgres user when we are root (PostgreSQL refuses to run as root)."""
    return ['runuser', '-u', 'postgres', '--'] + argv if os.getuid() == 0 else argv


def _own_dir(path):
    """Makes `path` (and leaves it) readable by all and owned by the postgres user when we are root."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    if os.getuid() == 0:
        pw = pwd.getpwnam('postgres')
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


def _run(argv, cwd, timeout=60):
    r = subprocess.run(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError('%s: exit %d:\n%s' % (' '.join(argv), r.returncode, r.stdout.decode('utf-8', 'replace')))
    return r.stdout.decode('utf-8', 'replace')


def psql(port, sql, timeout=10, check=True):
    """Runs `sql` on 127.0.0.1:port as postgres; returns its unaligned, tuples-only output
    (raises RuntimeError when check and it fails, subprocess.TimeoutExpired when it hangs)."""
    env = dict(os.environ, PGCONNECT_TIMEOUT='3')
    r = subprocess.run(['psql', '-h', HOST, '-p', str(port), '-U', 'postgres', '-d', 'postgres', '-XAtq',
                        '-v', 'ON_ERROR_STOP=1', '-c', sql], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise RuntimeError('psql -p %d -c %r: %s' % (port, sql, r.stderr.decode('utf-8', 'replace').strip()))
    return r.stdout.decode('utf-8', 'replace').strip()


def is_primary(port, timeout=5):
    """True when a server answers on `port` and is not in recovery."""
    try:
        return psql(port, 'SELECT pg_is_in_recovery()', timeout=timeout, check=False) == 'f'
    except subprocess.TimeoutExpired:
        return False


def current_primary(ports):
    """The first of `ports` whose server is a primary, or None."""
    for p in ports:
        if is_primary(p):
            return p
    return None


def wait_primary(ports, timeout=60, exclude=()):
    """Polls `ports` (every 0.1 s) until one not in `exclude` is a primary; returns it
    (RuntimeError after `timeout` s). After a kill: the time of the promotion."""
    deadline = time.time() + timeout
    while True:
        for p in ports:
            if p not in exclude and is_primary(p, timeout=2):
                return p
        if time.time() > deadline:
            raise RuntimeError('no primary among %r after %.0f s' % (list(ports), timeout))
        time.sleep(0.1)


def url(ports, database='postgres', **params):
    """The libpq URL listing every server, read-write sessions only, plus `params`
    (pushbind_schema=…): postgresql://127.0.0.1:P1,127.0.0.1:P2/postgres?target_session_attrs=read-write."""
    query = dict(target_session_attrs='read-write', **params)
    return 'postgresql://%s/%s?%s' % (','.join('%s:%d' % (HOST, p) for p in ports), database,
                                      '&'.join('%s=%s' % kv for kv in sorted(query.items())))


# ---- processes -------------------------------------------------------------------

def _children():
    """{pid: [child pids]} of every process, from /proc."""
    out = {}
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/%s/stat' % name) as f:
                    ppid = int(f.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            out.setdefault(ppid, []).append(int(name))
    return out


def _tree(pid):
    """pid and its descendants."""
    children = _children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _signal(pids, signum):
    for p in pids:
        try:
            os.kill(p, signum)
        except ProcessLookupError:
            pass


def _wait_gone(pids, timeout=10):
    deadline = time.time() + timeout
    while any(_alive(p) for p in pids):
        if time.time() > deadline:
            return False
        time.sleep(0.02)
    return True


def _listeners(ports):
    """{port: [(pid, command)]} of the processes listening on `ports` (ss -ltnp)."""
    out = {}
    r = subprocess.run(['ss', '-Hltnp'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
    for line in r.stdout.decode('utf-8', 'replace').splitlines():
        f = line.split()
        if len(f) < 6:
            continue
        port = int(f[3].rsplit(':', 1)[1])
        if port in ports:
            for part in f[5].split('),('):
                command = part.split('"')[1] if '"' in part else ''
                pid = part.split('pid=')[1].split(',')[0] if 'pid=' in part else None
                if pid:
                    out.setdefault(port, []).append((int(pid), command))
    return out


def stop_stale(ports):
    """Stops what a previous run left on `ports` (ours: they are reserved for these tests):
    Patroni first (it would restart its PostgreSQL), then PostgreSQL (immediate shutdown
    of the postmaster and its children), then etcd."""
    for commands, signum in ((('patroni',), signal.SIGKILL), (('postgres', 'postmaster'), signal.SIGQUIT),
                             (('etcd',), signal.SIGKILL)):
        pids = {pid for found in _listeners(set(ports)).values() for pid, c in found if c in commands}
        if pids:
            _signal(pids, signal.SIGCONT)
            _signal(pids, signum)
            if not _wait_gone(pids):
                _signal(pids, signal.SIGKILL)
                _wait_gone(pids)


# ---- one server ------------------------------------------------------------------

class Postgres(object):
    """One PostgreSQL 15 server on 127.0.0.1:port, data in directory/pg<port>/data, started
    with pg_ctl (detached: it outlives the Python process that started it)."""

    def __init__(self, port, directory):
        self.port = port
        self.name = 'pg%d' % port  # also its application_name as a standby
        self.dir = os.path.join(directory, self.name)
        self.data = os.path.join(self.dir, 'data')
        self.logfile = os.path.join(self.dir, 'postgres.log')

    def initdb(self, settings=None):
        """A new cluster (trust auth, replication from 127.0.0.1 allowed) with SERVER_SETTINGS and `settings`."""
        shutil.rmtree(self.dir, ignore_errors=True)
        _own_dir(self.dir)
        _run(_as_postgres([PG_BIN + '/initdb', '-D', self.data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8',
                           '--no-sync']), cwd=self.dir)
        with open(os.path.join(self.data, 'pg_hba.conf'), 'a') as f:
            f.write('host replication all 127.0.0.1/32 trust\n')
        self.configure(dict(SERVER_SETTINGS, **(settings or {})))

    def configure(self, settings):
        """Appends `settings` to postgresql.auto.conf (read at the next start or reload)."""
        with open(os.path.join(self.data, 'postgresql.auto.conf'), 'a') as f:
            for k, v in sorted(settings.items()):
                f.write("%s = '%s'\n" % (k, v))

    def basebackup(self, source_port):
        """This server's data as a streaming standby of source_port (-R -X stream), named self.name."""
        shutil.rmtree(self.dir, ignore_errors=True)
        _own_dir(self.dir)
        _run(_as_postgres([PG_BIN + '/pg_basebackup', '-D', self.data, '-R', '-X', 'stream', '-c', 'fast',
                           '-d', 'host=%s port=%d user=postgres application_name=%s'
                           % (HOST, source_port, self.name)]), cwd=self.dir)

    def start(self):
        _run(_as_postgres([PG_BIN + '/pg_ctl', 'start', '-D', self.data, '-l', self.logfile, '-w', '-t', '60',
                           '-o', '-p %d -c listen_addresses=%s -c unix_socket_directories=%s'
                           % (self.port, HOST, self.dir)]), cwd=self.dir, timeout=90)

    def pids(self):
        """The postmaster and its children (empty when not running)."""
        try:
            with open(os.path.join(self.data, 'postmaster.pid')) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return []
        return _tree(pid) if _alive(pid) else []

    def running(self):
        return bool(self.pids())

    def kill(self):
        """SIGKILL to the postmaster and every child at once: a crashed server."""
        pids = self.pids()
        _signal(pids, signal.SIGKILL)
        _wait_gone(pids)

    def pause(self):
        """SIGSTOP to every process of the server: a server that hangs."""
        _signal(self.pids(), signal.SIGSTOP)

    def resume(self):
        _signal(self.pids(), signal.SIGCONT)

    def stop(self):
        """Immediate shutdown (SIGQUIT to the postmaster); SIGKILL if it does not go."""
        pids = self.pids()
        if not pids:
            return
        _signal(pids, signal.SIGCONT)
        _signal(pids[:1], signal.SIGQUIT)
        if not _wait_gone(pids):
            self.kill()

    def log(self):
        try:
            with open(self.logfile, errors='replace') as f:
                return f.read()[-4000:]
        except OSError:
            return ''


class Single(object):
    """One server on `port`."""

    def __init__(self, port=SINGLE_PORT, directory=None):
        self._own_dir = directory is None
        self.dir = _own_dir(directory or tempfile.mkdtemp(prefix='pushbind-pg-'))
        self.ports = [port]
        stop_stale(self.ports)
        self.server = Postgres(port, self.dir)
        try:
            self.server.initdb()
            self.server.start()
        except BaseException:
            self.close()
            raise

    def url(self, **params):
        return url(self.ports, **params)

    def close(self):
        self.server.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class SyncPair(object):
    """A primary and a synchronous standby (synchronous_standby_names = its application_name),
    and the steps a failover manager takes: promote the standby, reset
    synchronous_standby_names on it, rebuild the old primary as its standby."""

    def __init__(self, ports=SYNC_PORTS, directory=None):
        self._own_dir = directory is None
        self.dir = _own_dir(directory or tempfile.mkdtemp(prefix='pushbind-pg-'))
        self.ports = list(ports)
        stop_stale(self.ports)
        self.nodes = {p: Postgres(p, self.dir) for p in self.ports}
        self.primary = self.ports[0]
        try:
            self.nodes[self.primary].initdb()
            self.nodes[self.primary].start()
            self.add_standby(self.ports[1])
        except BaseException:
            self.close()
            raise

    @property
    def standby(self):
        return [p for p in self.ports if p != self.primary][0]

    def url(self, **params):
        return url(self.ports, **params)

    def add_standby(self, port, timeout=60):
        """(Re)builds the server on `port` from a base backup of the primary, starts it and makes it
        the primary's synchronous standby; returns once pg_stat_replication says sync."""
        node = self.nodes[port]
        node.stop()
        node.basebackup(self.primary)
        node.start()
        psql(self.primary, "ALTER SYSTEM SET synchronous_standby_names = '%s'" % node.name)
        psql(self.primary, 'SELECT pg_reload_conf()')
        self.wait_sync(timeout)

    def sync_state(self):
        """The standby's sync_state in the primary's pg_stat_replication ('' when not connected)."""
        return psql(self.primary, "SELECT sync_state FROM pg_stat_replication WHERE application_name = '%s'"
                    % self.nodes[self.standby].name, check=False)

    def wait_sync(self, timeout=60):
        deadline = time.time() + timeout
        while self.sync_state() != 'sync':
            if time.time() > deadline:
                raise RuntimeError('standby %d not synchronous after %.0f s; its log:\n%s'
                                   % (self.standby, timeout, self.nodes[self.standby].log()))
            time.sleep(0.05)

    def kill_primary(self):
        """SIGKILL the primary's processes; returns its port."""
        victim = self.primary
        self.nodes[victim].kill()
        return victim

    def promote(self):
        """The standby becomes the primary, committing without a synchronous standby until
        add_standby gives it one (a failover manager's reset of synchronous_standby_names:
        the promoted server copied the old primary's, which names itself)."""
        port = self.standby
        _run(_as_postgres([PG_BIN + '/pg_ctl', 'promote', '-D', self.nodes[port].data, '-w', '-t', '60']),
             cwd=self.nodes[port].dir)
        psql(port, "ALTER SYSTEM SET synchronous_standby_names = ''")
        psql(port, 'SELECT pg_reload_conf()')
        self.primary = port
        return port

    def stop_all(self):
        for node in self.nodes.values():
            node.stop()

    def start_all(self):
        for node in self.nodes.values():
            node.start()

    def close(self):
        self.stop_all()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- Patroni + etcd --------------------------------------------------------------

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
        'use_slots': True,
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

    def __init__(self, etcd, pg, rest, directory=None, timeout=90):
        self._own_dir = directory is None
        self.dir = _own_dir(directory or tempfile.mkdtemp(prefix='pushbind-patroni-'))
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
                ['etcd', '--name', 'e0', '--data-dir', os.path.join(d, 'data'),
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
        d = _own_dir(self._member_dir(port))
        rest = self.rest_ports[self.ports.index(port)]
        config = os.path.join(d, 'patroni.yml')
        with open(config, 'w') as f:
            json.dump(patroni_config(self.scope, 'pg%d' % port, port, rest,
                                     ['%s:%d' % (HOST, self.etcd_ports[0])], d), f, indent=1)
        with open(os.path.join(d, 'patroni.log'), 'ab') as log:
            self.members[port] = subprocess.Popen(_as_postgres(['patroni', config]), cwd=d, stdin=subprocess.DEVNULL,
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
            pids += _tree(self.members[port].pid)
        pids += self.postgres(port).pids()
        _signal(pids, signal.SIGKILL)
        _wait_gone(pids)
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
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- CTest fixtures: python3 pbpostgres.py start|stop|check single|sync|patroni -----

def _check_single():
    assert is_primary(SINGLE_PORT), 'no primary on %d' % SINGLE_PORT


def _check_sync():
    primary, standby = SYNC_PORTS
    assert is_primary(primary), 'no primary on %d' % primary
    assert psql(standby, 'SELECT pg_is_in_recovery()') == 't', '%d is not a standby' % standby
    rows = psql(primary, 'SELECT application_name, sync_state FROM pg_stat_replication')
    assert rows == 'pg%d|sync' % standby, 'pg_stat_replication on %d: %r' % (primary, rows)


def _check_patroni():
    leader = patroni_leader(PATRONI_PORTS['rest'])
    assert leader is not None and is_primary(leader), 'no Patroni leader: %r' % patroni_cluster(PATRONI_PORTS['rest'])


# kind: (start it in a directory, check it, its ports)
KINDS = {
    'single': (lambda d: Single(SINGLE_PORT, d), _check_single, [SINGLE_PORT]),
    'sync': (lambda d: SyncPair(SYNC_PORTS, d), _check_sync, list(SYNC_PORTS)),
    'patroni': (lambda d: Patroni(directory=d, **PATRONI_PORTS), _check_patroni,
                [p for v in PATRONI_PORTS.values() for p in v]),
}


def _state_dir(kind):
    """Per port base too: two checkouts testing at once must not delete each other's servers' files."""
    return os.path.join(tempfile.gettempdir(), 'pushbind-test-pg-%s-%d-%d' % (kind, os.getuid(), PORT_BASE))


def main(argv):
    action, kind = argv[1], argv[2]
    make, check, ports = KINDS[kind]
    if action == 'check':
        check()
        return 0
    directory = _state_dir(kind)
    # Whatever a previous run left (a failed stop, a killed CTest) goes first.
    stop_stale(ports)
    for name in os.listdir(directory) if os.path.isdir(directory) else ():
        node = Postgres(0, directory)
        node.data = os.path.join(directory, name, 'data')
        node.stop()
    shutil.rmtree(directory, ignore_errors=True)
    if action == 'stop':
        return 0
    # The servers outlive this script (pg_ctl detaches them; Patroni and etcd get their own
    # session) and are stopped by the cleanup fixture, which CTest runs even when tests fail.
    server = make(_own_dir(directory))
    print('pbpostgres: %s up: %s' % (kind, server.url()))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
