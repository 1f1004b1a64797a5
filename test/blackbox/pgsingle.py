"""One PostgreSQL server for the suite: `python3 pgsingle.py start|stop`.

PostgreSQL refuses to run as root (CI does): the server runs as the
`postgres` user Debian's package creates, in a temp dir it owns, on
127.0.0.1:PB_TEST_PORT_BASE+80 with trust authentication. Standard library
plus Debian's postgresql-15.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

PORT = int(os.environ.get('PB_TEST_PORT_BASE', '30000')) + 80
BIN = '/usr/lib/postgresql/15/bin'
# Where start leaves the data dir for stop to find.
STATE = os.path.join(tempfile.gettempdir(), 'pushbind-pgsingle-%d' % PORT)


def _as_postgres(*argv, check=True):
    cmd = ['runuser', '-u', 'postgres', '--'] if os.geteuid() == 0 else []
    return subprocess.run(cmd + list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=check, timeout=120)


def url():
    return 'postgresql://postgres@127.0.0.1:%d/postgres' % PORT


def start():
    stop()
    base = tempfile.mkdtemp(prefix='pushbind-pg-')
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        shutil.chown(base, 'postgres', 'postgres')
    data = os.path.join(base, 'data')
    _as_postgres(BIN + '/initdb', '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale', 'C.UTF-8', '-D', data)
    with open(os.path.join(data, 'postgresql.auto.conf'), 'a') as f:
        f.write("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"
                "max_connections = 300\nfsync = on\n" % (PORT, base))
    r = _as_postgres(BIN + '/pg_ctl', '-D', data, '-l', os.path.join(base, 'log'), '-w', '-t', '60', 'start',
                     check=False)
    if r.returncode != 0:
        sys.exit('pg_ctl start failed: %s' % r.stdout.decode('utf-8', 'replace'))
    with open(STATE, 'w') as f:
        f.write(base)


def stop():
    try:
        with open(STATE) as f:
            base = f.read().strip()
    except FileNotFoundError:
        return
    _as_postgres(BIN + '/pg_ctl', '-D', os.path.join(base, 'data'), '-m', 'immediate', '-w', 'stop', check=False)
    shutil.rmtree(base, ignore_errors=True)
    os.unlink(STATE)


if __name__ == '__main__':
    if len(sys.argv) != 2 or sys.argv[1] not in ('start', 'stop', 'url'):
        sys.exit('usage: pgsingle.py start|stop|url')
    if sys.argv[1] == 'url':
        print(url())
    else:
        globals()[sys.argv[1]]()
