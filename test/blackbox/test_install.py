"""make install's layout: cmake --install of the tested build into a temporary prefix."""

import os
import re
import subprocess
import unittest

import pbtest

BUILD_DIR = os.path.dirname(pbtest.BIN)


class InstallTest(unittest.TestCase):
    def setUp(self):
        self.prefix = os.path.join(pbtest.new_temp_dir(self.addCleanup), 'prefix')
        r = subprocess.run(['cmake', '--install', BUILD_DIR, '--prefix', self.prefix],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def path(self, *parts):
        return os.path.join(self.prefix, *parts)

    def test_binary_unit_config_and_docs_land_under_the_prefix(self):
        for rel in ('bin/pushbind', 'lib/systemd/system/pushbind.service', 'lib/sysusers.d/pushbind.conf',
                    'etc/pushbind/pushbind.conf', 'etc/logrotate.d/pushbind', 'share/doc/pushbind/README.md',
                    'share/doc/pushbind/operations.md', 'share/doc/pushbind/API.md'):
            self.assertTrue(os.path.isfile(self.path(rel)), rel)
        self.assertTrue(os.access(self.path('bin/pushbind'), os.X_OK))
        r = subprocess.run([self.path('bin/pushbind'), '--help'], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0)
        self.assertIn('import', r.stdout)

    def test_unit_runs_the_installed_binary_hardened(self):
        with open(self.path('lib/systemd/system/pushbind.service')) as f:
            unit = f.read()
        self.assertIn('ExecStart=%s/bin/pushbind serve --config %s/etc/pushbind/pushbind.conf --data /var/lib/pushbind'
                      % (self.prefix, self.prefix), unit)
        for setting in ('User=pushbind', 'StateDirectory=pushbind', 'NoNewPrivileges=yes', 'ProtectSystem=strict',
                        'ExecReload=/bin/kill -HUP $MAINPID', 'CapabilityBoundingSet=\n'):
            self.assertIn(setting, unit)
        self.assertNotRegex(unit, r'@[A-Z]+@')

    def test_installed_config_file_is_accepted_by_serve(self):
        data = pbtest.new_temp_dir(self.addCleanup)
        srv = pbtest.Server.for_test(self, apps=[pbtest.APP], data_dir=data,
                                     args=['--config', self.path('etc/pushbind/pushbind.conf'),
                                           '--listen', '127.0.0.1:0'])
        status, _, body = srv.request('GET', '/healthz')
        self.assertEqual((status, body), (200, b'ok\n'))


if __name__ == '__main__':
    unittest.main()
