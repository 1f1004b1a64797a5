"""PostgreSQL servers for the tests: `python3 pgsingle.py start|stop` runs the
suite's one (the CTest fixture postgres_single); Postgres(port) is one a test
starts for itself.

PostgreSQL refuses to run as root (CI does): the server runs as the
`postgres` user Debian's package creates, in a temp dir it owns, on
127.0.0.1 only, with trust authentication. Standard library plus Debian's
postgresql-15.
"""

import os
import shutil
import subprocess
import sys
import tempfile

# The suite's server: PB_TEST_PORT_BASE + 80; tests that start their own use + 81.
PORT = int(os.environ.get('PB_TEST_PORT_BASE', '30000')) + 80
OWN_PORT = PORT - 1  # PORT + 1.. are pbpostgres.py's (the sync pair, Patroni)
BIN = '/usr/lib/postgresql/15/bin'
# Where start leaves the suite server's directory for stop to find.
STATE = os.path.join(tempfile.gettempdir(), 'pushbind-pgsingle-%d' % PORT)


def _as_postgres(*argv, check=True):
    cmd = ['runuser', '-u', 'postgres', '--'] if os.geteuid() == 0 else []
    return subprocess.run(cmd + list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=check, timeout=120)


class Postgres(object):
    """One PostgreSQL server on 127.0.0.1:port, its data in a fresh temp dir."""

    def __init__(self, port, base=None):
        self.port = port
        self.base = base
        if base is not None:
            return
        self.base = tempfile.mkdtemp(prefix='pushbind-pg-')
        os.chmod(self.base, 0o755)
        if os.geteuid() == 0:
            shutil.chown(self.base, 'postgres', 'postgres')
        _as_postgres(BIN + '/initdb', '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale', 'C.UTF-8',
                     '-D', self.data)
        with open(os.path.join(self.data, 'postgresql.auto.conf'), 'a') as f:
            f.write("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"
                    "max_connections = 300\n" % (port, self.base))
        self.start()

    @property
    def data(self):
        return os.path.join(self.base, 'data')

    @property
    def url(self):
        return 'postgresql://postgres@127.0.0.1:%d/postgres' % self.port

    def start(self):
        r = _as_postgres(BIN + '/pg_ctl', '-D', self.data, '-l', os.path.join(self.base, 'log'), '-w', '-t', '60',
                         'start', check=False)
        if r.returncode != 0:
            raise RuntimeError('pg_ctl start failed: %s' % r.stdout.decode('utf-8', 'replace'))

    def stop(self, mode='fast'):
        _as_postgres(BIN + '/pg_ctl', '-D', self.data, '-m', mode, '-w', 'stop', check=False)

    def pids(self):
        """The postmaster and its children (backends included)."""
        with open(os.path.join(self.data, 'postmaster.pid')) as f:
            postmaster = int(f.readline())
        children = subprocess.run(['pgrep', '-P', str(postmaster)], stdout=subprocess.PIPE).stdout.split()
        return [postmaster] + [int(p) for p in children]

    def destroy(self):
        self.stop('immediate')
        shutil.rmtree(self.base, ignore_errors=True)


def start():
    stop()
    with open(STATE, 'w') as f:
        f.write(Postgres(PORT).base)


def stop():
    try:
        with open(STATE) as f:
            base = f.read().strip()
    except FileNotFoundError:
        return
    Postgres(PORT, base).destroy()
    os.unlink(STATE)


if __name__ == '__main__':
    if len(sys.argv) != 2 or sys.argv[1] not in ('start', 'stop'):
        sys.exit('usage: pgsingle.py start|stop')
    globals()[sys.argv[1]]()
