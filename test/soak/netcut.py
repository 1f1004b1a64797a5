"""Network partitions between loopback addresses, for the partition suites.

Every address in 127.0.0.0/8 is loopback on Linux, so each server of a test can
have its own (127.H.L.x, where H.L come from PB_TEST_PORT_BASE: two checkouts
testing at once cut different addresses). A link is cut by dropping the
packets between two addresses in an iptables chain of our own, jumped to from
INPUT (loopback packets pass INPUT on their way in). Nothing else on the
machine is touched: the rules are deleted one by one (-D) and the chain removed
when the partition heals or the test ends, also when it fails; no table is
ever flushed.

    with Partition() as cut:
        cut.apart(['127.117.48.11', '127.0.0.1'], ['127.117.48.12', ...])
        ...
        cut.heal()
"""

import os
import socket
import subprocess

PORT_BASE = int(os.environ.get('PB_TEST_PORT_BASE', '30000'))
NET = '127.%d.%d.' % divmod(PORT_BASE, 256)
CHAIN = 'PB_CUT_%d' % PORT_BASE
COMMENT = 'pushbind partition test, port base %d' % PORT_BASE


def address(n):
    """The n-th loopback address of this port base (1-254)."""
    return NET + str(n)


# Where the tests' own control connections come from: in neither half of any partition.
CONTROL = address(250)


def available():
    """None when iptables can cut links here, else why not."""
    if os.geteuid() != 0:
        return 'needs root for iptables'
    try:
        r = subprocess.run(['iptables', '-w', '-S', 'INPUT'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return 'iptables: %s' % e
    return None if r.returncode == 0 else 'iptables: %s' % r.stderr.decode('utf-8', 'replace').strip()


def _iptables(*args, check=True):
    r = subprocess.run(['iptables', '-w'] + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError('iptables %s: %s' % (' '.join(args), r.stderr.decode('utf-8', 'replace').strip()))
    return r.returncode == 0


class Partition(object):
    """The chain and the rules of one test; a context manager that removes them all."""

    def __init__(self):
        self.rules = []
        self._remove_chain()  # left by a run that was killed
        _iptables('-N', CHAIN)
        _iptables('-I', 'INPUT', '-m', 'comment', '--comment', COMMENT, '-j', CHAIN)

    def apart(self, side_a, side_b):
        """Drops every packet between an address of side_a and one of side_b, both ways."""
        for a in side_a:
            for b in side_b:
                for src, dst in ((a, b), (b, a)):
                    rule = ('-s', src, '-d', dst, '-j', 'DROP')
                    _iptables('-A', CHAIN, *rule)
                    self.rules.append(rule)

    def heal(self):
        """Deletes every rule this partition added."""
        while self.rules:
            _iptables('-D', CHAIN, *self.rules.pop())

    def close(self):
        self.heal()
        self._remove_chain()

    @staticmethod
    def _remove_chain():
        while _iptables('-D', 'INPUT', '-m', 'comment', '--comment', COMMENT, '-j', CHAIN, check=False):
            pass
        if _iptables('-S', CHAIN, check=False):
            for line in subprocess.run(['iptables', '-w', '-S', CHAIN], stdout=subprocess.PIPE,
                                       timeout=30).stdout.decode().splitlines():
                if line.startswith('-A '):
                    _iptables('-D', *line.split()[1:], check=False)
            _iptables('-X', CHAIN, check=False)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def resp(host, port, *args, timeout=5.0):
    """One Redis command from CONTROL (outside every partition); the reply decoded loosely:
    a bulk or simple string, an integer, or a list of them."""
    with socket.create_connection((host, port), timeout=timeout, source_address=(CONTROL, 0)) as s:
        cmd = b'*%d\r\n' % len(args) + b''.join(
            b'$%d\r\n%s\r\n' % (len(a), a) for a in (str(x).encode() for x in args))
        s.sendall(cmd)
        f = s.makefile('rb')
        return _read_reply(f)


def _read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError('connection closed')
    kind, rest = line[:1], line[1:-2]
    if kind == b'+':
        return rest.decode()
    if kind == b'-':
        raise RuntimeError(rest.decode())
    if kind == b':':
        return int(rest)
    if kind == b'$':
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode('utf-8', 'replace')
    if kind == b'*':
        return [_read_reply(f) for _ in range(int(rest))]
    raise RuntimeError('unexpected reply %r' % line)


# ---- Cuts by process, for servers that all speak from 127.0.0.1 -------------------------
#
# PostgreSQL, Patroni and etcd connect out from 127.0.0.1 whatever address they listen on, so
# addresses cannot tell their links apart. Each "machine" is instead a cgroup v2 group of its
# processes (children forked later, such as PostgreSQL's backends, inherit it), and a cut drops
# the packets a group sends to the listening ports of the other side (iptables' cgroup match in
# OUTPUT, where locally sent packets pass first). Dropping one direction is enough: a connection
# whose requests never arrive is cut, and a new one never completes its handshake.

CGROUP_ROOT = '/sys/fs/cgroup/unified'


def cgroups_available():
    """None when cgroup v2 groups can hold processes here, else why not."""
    if not os.path.isdir(CGROUP_ROOT) or not os.access(os.path.join(CGROUP_ROOT, 'cgroup.procs'), os.W_OK):
        return 'no writable cgroup v2 hierarchy at %s' % CGROUP_ROOT
    return None


class Machines(object):
    """Named cgroup v2 groups of this port base, each a machine of the test; removed at close
    (their processes go back to the root group first)."""

    def __init__(self, *names):
        self.paths = {}
        for name in names:
            rel = 'pushbind-%d-%s' % (PORT_BASE, name)
            path = os.path.join(CGROUP_ROOT, rel)
            os.makedirs(path, exist_ok=True)
            self.paths[name] = rel

    def enter(self, name):
        """The argv prefix that starts a command inside machine `name` (it joins, then execs), so
        that every socket it opens is the machine's: a socket keeps the group it was made in."""
        procs = os.path.join(CGROUP_ROOT, self.paths[name], 'cgroup.procs')
        return ['sh', '-c', 'echo $$ > %s && exec "$@"' % procs, 'sh']

    def put(self, name, pids):
        """Moves every pid into machine `name` (a pid that has exited meanwhile is skipped). Only
        the sockets they open from then on are the machine's."""
        for pid in pids:
            try:
                with open(os.path.join(CGROUP_ROOT, self.paths[name], 'cgroup.procs'), 'w') as f:
                    f.write(str(pid))
            except (ProcessLookupError, FileNotFoundError, OSError):
                pass

    def close(self):
        for rel in self.paths.values():
            path = os.path.join(CGROUP_ROOT, rel)
            try:
                with open(os.path.join(path, 'cgroup.procs')) as f:
                    pids = f.read().split()
                for pid in pids:
                    with open(os.path.join(CGROUP_ROOT, 'cgroup.procs'), 'w') as root:
                        root.write(pid)
                os.rmdir(path)
            except OSError:
                pass


class PortPartition(Partition):
    """Cuts by machine (Machines) and listening port, in a chain jumped to from OUTPUT."""

    HOOK = 'OUTPUT'

    def __init__(self, machines):
        self.machines = machines
        self.rules = []
        self._remove_chain()
        _iptables('-N', CHAIN)
        _iptables('-I', self.HOOK, '-m', 'comment', '--comment', COMMENT, '-j', CHAIN)

    def apart(self, side_a, ports_a, side_b, ports_b):
        """Drops what machines of side_a send to ports_b, and what side_b sends to ports_a (TCP)."""
        for senders, ports in ((side_a, ports_b), (side_b, ports_a)):
            for name in senders:
                for port in ports:
                    rule = ('-m', 'cgroup', '--path', self.machines.paths[name], '-p', 'tcp', '--dport', str(port),
                            '-j', 'DROP')
                    _iptables('-A', CHAIN, *rule)
                    self.rules.append(rule)

    @classmethod
    def _remove_chain(cls):
        while _iptables('-D', cls.HOOK, '-m', 'comment', '--comment', COMMENT, '-j', CHAIN, check=False):
            pass
        Partition._remove_chain()
