"""The Debian package on this machine: dpkg -i, the installed binary serving
HTTP, then dpkg -r and dpkg --purge and what each leaves behind.

Run as root by `make test-deb` (after `make deb`) with /usr/bin/python3:

    /usr/bin/python3 test/package/test_deb.py -v

PUSHBIND_DEB names the package; the default is the one pushbind_*.deb in
build-deb/, built with `make deb` when there is none. The test refuses to run
where pushbind is installed or /var/lib/pushbind exists (it would touch an
operator's service), and on the way out, pass or fail, purges the package and
removes the data directory and the pushbind user it created.
"""

import glob
import os
import pwd
import grp
import stat
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, '..', '..'))

# The harness speaks to whatever PUSHBIND_BIN names: here the installed binary.
os.environ['PUSHBIND_BIN'] = '/usr/bin/pushbind'
os.environ.pop('PUSHBIND_STORE', None)
sys.path.insert(0, os.path.join(ROOT, 'test', 'blackbox'))
import pbtest  # noqa: E402

PACKAGE = 'pushbind'
CONFIG = '/etc/pushbind/pushbind.conf'
DATA = '/var/lib/pushbind'
LOGS = '/var/log/pushbind'
UNIT = '/lib/systemd/system/pushbind.service'
ENABLED = '/etc/systemd/system/multi-user.target.wants/pushbind.service'
CONFFILES = ('/etc/logrotate.d/pushbind', CONFIG)

# Another apt or dpkg on the machine holds the lock for a while; wait for it.
LOCK_WAIT = 300.0


def run(*argv, check=True, timeout=120):
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError('%s exited %d\nstdout:\n%s\nstderr:\n%s'
                             % (' '.join(argv), r.returncode, r.stdout, r.stderr))
    return r


def dpkg(*args):
    """dpkg ARGS, waiting while another package manager holds dpkg's lock."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        r = run('dpkg', *args, check=False, timeout=LOCK_WAIT)
        if r.returncode == 0:
            return r
        if 'lock' not in r.stderr or time.monotonic() > deadline:
            raise AssertionError('dpkg %s exited %d\nstdout:\n%s\nstderr:\n%s'
                                 % (' '.join(args), r.returncode, r.stdout, r.stderr))
        time.sleep(2)


def package_status():
    """dpkg's Status of the package, 'not-installed' when dpkg has no record of it."""
    r = run('dpkg-query', '-W', '-f=${Status}', PACKAGE, check=False)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else 'not-installed'


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def find_deb():
    path = os.environ.get('PUSHBIND_DEB')
    if path:
        return path
    pattern = os.path.join(ROOT, 'build-deb', 'pushbind_*.deb')
    if not glob.glob(pattern):
        subprocess.run(['make', '-C', ROOT, 'deb'], check=True)
    debs = glob.glob(pattern)
    if len(debs) != 1:
        raise AssertionError('want one package matching %s, found %r' % (pattern, debs))
    return debs[0]


def deb_paths(deb):
    """The paths the package ships whose names mention pushbind (not /usr, /etc...)."""
    out = run('dpkg-deb', '-c', deb).stdout
    paths = set()
    for line in out.splitlines():
        path = line.split()[5].lstrip('.').rstrip('/')
        if 'pushbind' in path:
            paths.add(path)
    return paths


def left_behind(shipped):
    """Every path about pushbind that exists now: what the package shipped, what
    its scripts and dpkg made, and anything in /etc named after it."""
    candidates = set(shipped) | {DATA, LOGS, ENABLED}
    candidates |= set(glob.glob('/etc/**/*pushbind*', recursive=True))
    candidates |= set(glob.glob('/var/lib/dpkg/info/pushbind.*'))
    candidates |= set(glob.glob('/var/lib/systemd/deb-systemd-helper-enabled/**/*pushbind*', recursive=True))
    return sorted(p for p in candidates if os.path.lexists(p))


class DebianPackageTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest('installs a package: run as root (make test-deb)')
        if package_status() != 'not-installed':
            self.skipTest('pushbind is installed here already: not replacing it')
        if os.path.lexists(DATA):
            self.skipTest('%s exists: not touching an existing data directory' % DATA)
        self.deb = find_deb()
        self.shipped = deb_paths(self.deb)
        # Named after pushbind but not the package's (the container image's podman settings,
        # /etc/containers/containers.conf.d/00-pushbind.conf): not counted as left behind.
        self.unrelated = set(left_behind(self.shipped)) - set(self.shipped) - {DATA, LOGS, ENABLED}
        self.had_user = user_exists('pushbind')
        self.had_group = group_exists('pushbind')
        self.addCleanup(self.restore_machine)

    def restore_machine(self):
        """Purge, then what purge keeps on purpose: the data and the user."""
        if package_status() != 'not-installed':
            dpkg('--purge', PACKAGE)
        run('rm', '-rf', DATA)
        if not self.had_user and user_exists('pushbind'):
            run('userdel', 'pushbind')
        if not self.had_group and group_exists('pushbind'):
            run('groupdel', 'pushbind')

    def test_install_serve_remove_and_purge(self):
        dpkg('-i', self.deb)
        self.check_installed()
        self.check_an_upgrade_keeps_the_edited_config()
        self.check_the_installed_binary_serves()
        self.check_the_service_user_can_use_the_data_directory()

        dpkg('-r', PACKAGE)
        self.check_removed()

        dpkg('--purge', PACKAGE)
        self.check_purged()

    # -- steps --

    def check_installed(self):
        self.assertEqual(package_status(), 'install ok installed')
        self.assertTrue(os.access('/usr/bin/pushbind', os.X_OK))
        depends = run('dpkg-query', '-W', '-f=${Depends}', PACKAGE).stdout
        for lib in ('libh2o-evloop', 'liblmdb', 'libhiredis', 'libyajl', 'libssl'):
            self.assertIn(lib, depends)
        conffiles = run('dpkg-query', '-W', '-f=${Conffiles}', PACKAGE).stdout
        for path in CONFFILES:
            self.assertIn(path + ' ', conffiles)
        with open(UNIT) as f:
            unit = f.read()
        self.assertIn('ExecStart=/usr/bin/pushbind serve --config %s --data %s\n' % (CONFIG, DATA), unit)
        self.assertIn('Documentation=file:///usr/share/doc/pushbind/operations.md\n', unit)
        for path in ('/usr/lib/sysusers.d/pushbind.conf', '/usr/share/doc/pushbind/operations.md',
                     '/usr/share/doc/pushbind/openapi.yaml',
                     '/usr/share/doc/pushbind/copyright', '/usr/share/doc/pushbind/changelog.Debian.gz'):
            self.assertTrue(os.path.isfile(path), path)
        # dh_installsystemd's postinst enables the unit even with no systemd running.
        self.assertEqual(os.readlink(ENABLED), UNIT)
        user = pwd.getpwnam('pushbind')
        self.assertEqual(user.pw_dir, DATA)
        st = os.stat(DATA)
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (user.pw_uid, 0o700))

    def check_an_upgrade_keeps_the_edited_config(self):
        """Installing the package over itself runs the upgrade path of dpkg and
        of the maintainer scripts; the operator's edit survives without a prompt."""
        edit = '# edited by the operator\n'
        with open(CONFIG, 'a') as f:
            f.write(edit)
        dpkg('-i', self.deb)
        self.assertEqual(package_status(), 'install ok installed')
        with open(CONFIG) as f:
            self.assertTrue(f.read().endswith(edit))
        self.assertEqual(glob.glob('/etc/pushbind/*.dpkg-*'), [])

    def check_the_installed_binary_serves(self):
        r = run('/usr/bin/pushbind', '--help')
        self.assertIn('serve', r.stdout)
        # One version: the package's upstream part is the binary's (CMake's project VERSION).
        version = run('dpkg-query', '-W', '-f=${Version}', PACKAGE).stdout.rsplit('-', 1)[0]
        self.assertEqual(run('/usr/bin/pushbind', '--version').stdout, 'pushbind %s\n' % version)
        data = tempfile.mkdtemp(prefix='pushbind-deb-')
        self.addCleanup(run, 'rm', '-rf', data)
        srv = pbtest.Server(apps=[pbtest.APP], data_dir=data,
                            args=['--config', CONFIG, '--listen', '127.0.0.1:0'])
        try:
            status, _, body = srv.request('GET', '/healthz')
            self.assertEqual((status, body), (200, b'ok\n'))
            srv.bind('token-deb-1', 'account-deb')
            self.assertEqual(srv.tokens_of('account-deb'), ['token-deb-1'])
            srv.stop()
        finally:
            srv.close()

    def check_the_service_user_can_use_the_data_directory(self):
        """What the unit does, without systemd: pushbind as its user on /var/lib/pushbind."""
        run('runuser', '-u', 'pushbind', '--', '/usr/bin/pushbind', 'app', 'add', '--data', DATA,
            '--access-id', pbtest.APP[0], '--secret-key', pbtest.APP[1])
        self.assertTrue(os.listdir(DATA))

    def check_removed(self):
        self.assertEqual(package_status(), 'deinstall ok config-files')
        left = [p for p in left_behind(self.shipped) if p not in self.unrelated]
        # dpkg keeps the conffiles and its record of them; the unit stays
        # enabled (a dangling link) until purge, as for every Debian service.
        want = set(CONFFILES) | {'/etc/pushbind', DATA, LOGS, ENABLED}
        files = set(p for p in left if not p.startswith(('/var/lib/dpkg/', '/var/lib/systemd/')))
        self.assertEqual(files, want, 'left after dpkg -r: %r' % (left,))
        self.assertFalse(os.path.lexists('/usr/bin/pushbind'))
        self.assertFalse(os.path.lexists(UNIT))

    def check_purged(self):
        self.assertEqual(package_status(), 'not-installed')
        left = [p for p in left_behind(self.shipped) if p not in self.unrelated]
        sys.stderr.write('\nleft after dpkg --purge: %r\n' % (left,))
        self.assertEqual(left, [DATA], 'purge keeps the data and nothing else')
        self.assertTrue(os.listdir(DATA), 'purge keeps what is in the data directory')
        self.assertTrue(user_exists('pushbind'), 'purge keeps the user owning the data')


if __name__ == '__main__':
    unittest.main()
