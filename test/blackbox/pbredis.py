"""Redis servers and clusters for the tests: started on loopback ports in a
temp dir, torn down after. Standard library plus the redis-server and
redis-cli binaries (Debian redis-server, redis-tools).

Used by the CTest fixtures (python3 pbredis.py start|stop KIND) and by tests
that need a cluster of their own (failover, resharding).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# The ports these tests own: one server, the shared cluster, and clusters
# made by single tests. A cluster node's bus would listen on port + 10000,
# inside Linux's ephemeral range where a client's socket may already hold it;
# it is put at port + BUS_OFFSET instead (cluster-port).
BUS_OFFSET = 500
# PB_TEST_PORT_BASE (default 30000) moves them all, so that two checkouts can
# run their suites on one machine at once.
PORT_BASE = int(os.environ.get('PB_TEST_PORT_BASE', '30000'))
SINGLE_PORT = PORT_BASE + 1
CLUSTER_PORTS = tuple(range(PORT_BASE + 11, PORT_BASE + 17))
HERE = os.path.dirname(os.path.abspath(__file__))


def poll(condition, timeout, what):
    """Polls `condition` every 100 ms until it holds; fails saying `what` was not reached after `timeout` s."""
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError('still not %s after %.1f s' % (what, timeout))
        time.sleep(0.1)


def cli(port, *args, timeout=10, check=True, host='127.0.0.1'):
    """redis-cli -h HOST -p PORT ARGS…; returns stdout (raises when check and it fails)."""
    r = subprocess.run(['redis-cli', '-h', host, '-p', str(port)] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError('redis-cli -p %d %s: %s %s' % (port, ' '.join(map(str, args)), r.stdout, r.stderr))
    return r.stdout.decode('utf-8', 'replace')


def _alive(port, host='127.0.0.1'):
    try:
        return cli(port, 'PING', timeout=2, check=False, host=host).strip() == 'PONG'
    except subprocess.TimeoutExpired:
        return False


def _shutdown(port, host='127.0.0.1'):
    """Stops whatever Redis answers on `port` (ours: the ports are reserved for these tests)."""
    if _alive(port, host):
        cli(port, 'SHUTDOWN', 'NOSAVE', check=False, host=host)
    deadline = time.time() + 10
    while _alive(port, host) and time.time() < deadline:
        time.sleep(0.05)


class Redis(object):
    """One redis-server process (cluster node when cluster=True), on `host`: a loopback address of
    its own lets a test cut its links with packet filters (its outgoing bus and replication
    connections leave from it too, and the cluster announces it)."""

    def __init__(self, port, directory, cluster=False, extra=(), host='127.0.0.1'):
        self.port = port
        self.host = host
        self.dir = os.path.join(directory, str(port))
        os.makedirs(self.dir, exist_ok=True)
        _shutdown(port, host)
        argv = ['redis-server', '--port', str(port), '--bind', host, '--dir', self.dir,
                '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec',
                '--logfile', os.path.join(self.dir, 'redis.log'), '--daemonize', 'no']
        if cluster:
            argv += ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
                     '--cluster-node-timeout', '1000', '--cluster-port', str(port + BUS_OFFSET)]
        if host != '127.0.0.1':
            # Protected mode takes only 127.0.0.1 for loopback: it would refuse the other nodes'
            # replication links, which leave from their own loopback addresses.
            argv += ['--bind-source-addr', host, '--cluster-announce-ip', host, '--protected-mode', 'no']
        argv += list(extra)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 10
        while not _alive(port, host):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError('redis-server on port %d did not start; log:\n%s' % (port, self.log()))
            time.sleep(0.05)

    def log(self):
        try:
            with open(os.path.join(self.dir, 'redis.log')) as f:
                return f.read()[-4000:]
        except OSError:
            return ''

    def kill(self):
        """SIGKILL: a crashed node."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            cli(self.port, 'SHUTDOWN', 'NOSAVE', check=False, host=self.host)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


class Cluster(object):
    """3 primaries with `replicas` replicas each on `ports` (3 × (1 + replicas) of them, the
    primaries first), made with redis-cli --cluster create. `hosts`, when given, puts node i on
    loopback address hosts[i] instead of 127.0.0.1."""

    def __init__(self, ports, directory=None, extra=(), replicas=1, hosts=None):
        self.ports = list(ports)
        self.hosts = dict(zip(self.ports, hosts or ['127.0.0.1'] * len(self.ports)))
        self.extra = list(extra)
        self._own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix='pushbind-redis-')
        self.nodes = {}
        try:
            for p in self.ports:
                self.nodes[p] = Redis(p, self.dir, cluster=True, extra=extra, host=self.hosts[p])
            subprocess.run(['redis-cli', '--cluster', 'create'] + ['%s:%d' % (self.hosts[p], p) for p in self.ports] +
                           ['--cluster-replicas', str(replicas), '--cluster-yes'], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60, check=True)
            self.wait_ok()
        except BaseException:
            self.close()
            raise

    def cli(self, port, *args, **kw):
        """redis-cli to the node on `port`, at its own address."""
        return cli(port, *args, host=self.hosts[port], **kw)

    def url(self, namespace=None, wait=None):
        u = 'redis-cluster://' + ','.join('%s:%d' % (self.hosts[p], p) for p in self.ports[:3])
        if namespace:
            u += '/' + namespace
        if wait is not None:
            u += '?wait=%s' % wait
        return u

    def wait_ok(self, timeout=60, ports=None):
        """Polls CLUSTER INFO on every live node until each says cluster_state:ok."""
        deadline = time.time() + timeout
        for p in ports or self.ports:
            if self.nodes[p].proc.poll() is not None:
                continue
            while 'cluster_state:ok' not in self.cli(p, 'CLUSTER', 'INFO', check=False):
                if time.time() > deadline:
                    raise RuntimeError('cluster not ok after %.0f s' % timeout)
                time.sleep(0.1)

    def restart(self, port):
        """Starts the node on `port` again on its own dir (nodes.conf, AOF): it rejoins the cluster."""
        self.nodes[port] = Redis(port, self.dir, cluster=True, extra=self.extra, host=self.hosts[port])

    def wait_synced(self, timeout=60):
        """Waits until every live replica reports master_link_status:up: a replica that has not
        finished its first sync cannot be promoted."""
        deadline = time.time() + timeout
        while True:
            live = [p for p in self.ports if self.nodes[p].proc.poll() is None]
            info = {p: self.cli(p, 'INFO', 'replication', check=False) for p in live}
            if all('role:master' in i or 'master_link_status:up' in i for i in info.values()):
                return
            if time.time() > deadline:
                raise RuntimeError('replicas not synced after %.0f s' % timeout)
            time.sleep(0.1)

    def primaries(self):
        """{port: node id} of the live primaries, from CLUSTER NODES."""
        out = {}
        for p in self.ports:
            if self.nodes[p].proc.poll() is None:
                for line in self.cli(p, 'CLUSTER', 'NODES').splitlines():
                    f = line.split()
                    if 'master' in f[2] and 'fail' not in f[2]:
                        out[int(f[1].split('@')[0].split(':')[1])] = f[0]
                return out
        return out

    def close(self):
        for node in self.nodes.values():
            node.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---- CTest fixtures: python3 pbredis.py start|stop single|cluster -------------

def _state_dir(kind):
    """Per port base too: two checkouts testing at once must not delete each other's servers' files."""
    return os.path.join(tempfile.gettempdir(), 'pushbind-test-redis-%s-%d-%d' % (kind, os.getuid(), PORT_BASE))


def main(argv):
    action, kind = argv[1], argv[2]
    directory = _state_dir(kind)
    ports = [SINGLE_PORT] if kind == 'single' else list(CLUSTER_PORTS)
    if action == 'stop':
        for p in ports:
            _shutdown(p)
        shutil.rmtree(directory, ignore_errors=True)
        return 0
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    # The servers must outlive this script: they are detached (own session) and
    # stopped by the cleanup fixture, which CTest runs even when tests fail.
    if kind == 'single':
        Redis(SINGLE_PORT, directory)
    else:
        Cluster(ports, directory)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
