"""PostgreSQL servers for the tests: one server, or a primary with a synchronous standby,
on loopback ports in a temp dir, torn down after; the process and port tools pbpatroni.py
(Patroni members with etcd) builds on. Standard library plus Debian's postgresql-15 and
postgresql-client-15.

PostgreSQL refuses to run as root, and CI runs as root: initdb, pg_ctl (and patroni) run as
the `postgres` user Debian's package creates (runuser), in directories it owns. psql
connects over TCP as the `postgres` role (trust on 127.0.0.1: these servers listen there
only).

Used by the CTest fixtures (python3 pbpostgres.py start|stop|check single|sync|patroni)
and by tests that kill, stop and promote servers of their own (test/soak).
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time

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


def as_postgres(argv):
    """argv run as the postgres user when we are root (PostgreSQL refuses to run as root)."""
    return ['runuser', '-u', 'postgres', '--'] + argv if os.getuid() == 0 else argv


def own_dir(path):
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


def wait_sync_standby(port, timeout=60):
    """Polls the primary on `port` (every 0.05 s) until a standby is synchronous there: from then
    on its COMMITs return (RuntimeError after `timeout` s)."""
    deadline = time.time() + timeout
    while psql(port, "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'", check=False) in ('', '0'):
        if time.time() > deadline:
            raise RuntimeError('no synchronous standby on %d after %.0f s' % (port, timeout))
        time.sleep(0.05)


def url(ports, database='postgres', user='postgres', **params):
    """The libpq URL listing every server, read-write sessions only, plus `params` (pushbind_schema=…):
    postgresql://postgres@127.0.0.1:P1,127.0.0.1:P2/postgres?target_session_attrs=read-write."""
    query = dict(target_session_attrs='read-write', **params)
    return 'postgresql://%s@%s/%s?%s' % (user, ','.join('%s:%d' % (HOST, p) for p in ports), database,
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


def process_tree(pid):
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


def signal_all(pids, signum):
    for p in pids:
        try:
            os.kill(p, signum)
        except ProcessLookupError:
            pass


def wait_gone(pids, timeout=10):
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
            signal_all(pids, signal.SIGCONT)
            signal_all(pids, signum)
            if not wait_gone(pids):
                signal_all(pids, signal.SIGKILL)
                wait_gone(pids)


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
        own_dir(self.dir)
        _run(as_postgres([PG_BIN + '/initdb', '-D', self.data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8',
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
        own_dir(self.dir)
        _run(as_postgres([PG_BIN + '/pg_basebackup', '-D', self.data, '-R', '-X', 'stream', '-c', 'fast',
                           '-d', 'host=%s port=%d user=postgres application_name=%s'
                           % (HOST, source_port, self.name)]), cwd=self.dir)

    def start(self):
        _run(as_postgres([PG_BIN + '/pg_ctl', 'start', '-D', self.data, '-l', self.logfile, '-w', '-t', '60',
                           '-o', '-p %d -c listen_addresses=%s -c unix_socket_directories=%s'
                           % (self.port, HOST, self.dir)]), cwd=self.dir, timeout=90)

    def pids(self):
        """The postmaster and its children (empty when not running)."""
        try:
            with open(os.path.join(self.data, 'postmaster.pid')) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return []
        return process_tree(pid) if _alive(pid) else []

    def running(self):
        return bool(self.pids())

    def kill(self):
        """SIGKILL to the postmaster and every child at once: a crashed server."""
        pids = self.pids()
        signal_all(pids, signal.SIGKILL)
        wait_gone(pids)

    def pause(self):
        """SIGSTOP to every process of the server: a server that hangs."""
        signal_all(self.pids(), signal.SIGSTOP)

    def resume(self):
        signal_all(self.pids(), signal.SIGCONT)

    def stop(self):
        """Immediate shutdown (SIGQUIT to the postmaster); SIGKILL if it does not go."""
        pids = self.pids()
        if not pids:
            return
        signal_all(pids, signal.SIGCONT)
        signal_all(pids[:1], signal.SIGQUIT)
        if not wait_gone(pids):
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
        self._temp_dir = directory is None
        self.dir = own_dir(directory or tempfile.mkdtemp(prefix='pushbind-pg-'))
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
        if self._temp_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class SyncPair(object):
    """A primary and a synchronous standby (synchronous_standby_names = its application_name),
    and the steps a failover manager takes: promote the standby, reset
    synchronous_standby_names on it, rebuild the old primary as its standby."""

    def __init__(self, ports=SYNC_PORTS, directory=None):
        self._temp_dir = directory is None
        self.dir = own_dir(directory or tempfile.mkdtemp(prefix='pushbind-pg-'))
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
        _run(as_postgres([PG_BIN + '/pg_ctl', 'promote', '-D', self.nodes[port].data, '-w', '-t', '60']),
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
        if self._temp_dir:
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
    import pbpatroni
    leader = pbpatroni.patroni_leader(PATRONI_PORTS['rest'])
    assert leader is not None and is_primary(leader), 'no leader: %r' % pbpatroni.patroni_cluster(PATRONI_PORTS['rest'])


def _start_patroni(directory):
    import pbpatroni  # it imports this module
    return pbpatroni.Patroni(directory=directory, **PATRONI_PORTS)


# kind: (start it in a directory, check it, its ports)
KINDS = {
    'single': (lambda d: Single(SINGLE_PORT, d), _check_single, [SINGLE_PORT]),
    'sync': (lambda d: SyncPair(SYNC_PORTS, d), _check_sync, list(SYNC_PORTS)),
    'patroni': (_start_patroni, _check_patroni, [p for v in PATRONI_PORTS.values() for p in v]),
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
    server = make(own_dir(directory))
    print('pbpostgres: %s up: %s' % (kind, server.url()))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
