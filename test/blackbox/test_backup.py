"""pushbind backup: a consistent copy taken while the server serves writes."""

import json
import os
import subprocess
import threading
import unittest

import pbtest
from pbtest import APP, BIN


def run(*args, timeout=120):
    return subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


@pbtest.lmdb_only('backup copies the LMDB data directory')
class BackupTest(unittest.TestCase):
    def test_backup_under_write_load_holds_every_binding_acknowledged_before_it(self):
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--log-format', 'off'])
        acked = []            # tokens answered "0", in order
        stop = threading.Event()
        errors = []

        def writer():
            conn = srv.new_connection()
            try:
                n = 0
                while not stop.is_set():
                    token = 'bk-%d' % n
                    body = json.dumps({'operator_type': 1, 'token_accounts': [
                        {'token': token, 'account_list': [{'account': 'acc-%d' % (n % 50)}]}]}).encode()
                    conn.request('POST', pbtest.BATCH, body=body,
                                 headers=pbtest.auth_headers('basic', APP, body))
                    resp = json.loads(conn.getresponse().read())
                    if resp.get('result') != ['0']:
                        errors.append(resp)
                        return
                    acked.append(token)
                    n += 1
            except Exception as e:  # reported by the test below
                errors.append(e)
            finally:
                conn.close()

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            while len(acked) < 200 and thread.is_alive():
                threading.Event().wait(0.01)
            before = list(acked)  # everything acknowledged before the backup began
            dest = os.path.join(pbtest.new_temp_dir(self.addCleanup), 'copy')
            r = run('backup', '--data', srv.data_dir, dest)
            self.assertEqual(r.returncode, 0, r)
            while len(acked) < len(before) + 50 and thread.is_alive():
                threading.Event().wait(0.01)
        finally:
            stop.set()
            thread.join(30)
        self.assertEqual(errors, [])
        self.assertEqual(sorted(os.listdir(dest)), ['data.mdb'])
        # It holds every secret key: its owner's only.
        self.assertEqual(os.stat(dest).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(os.path.join(dest, 'data.mdb')).st_mode & 0o777, 0o600)

        r = run('export', '--data', dest, '--access-id', APP[0])
        self.assertEqual(r.returncode, 0, r)
        copied = [json.loads(l)['token'] for l in r.stdout.splitlines()]
        self.assertEqual(copied[:len(before)], before)
        self.assertLessEqual(len(copied), len(acked))
        # The copy is a working store: a server starts on it and answers from it.
        copy_srv = pbtest.Server.for_test(self, apps=[], data_dir=dest)
        copy_srv.default_app = APP
        self.assertEqual(copy_srv.accounts_of(before[-1]), [{'account': 'acc-%d' % ((len(before) - 1) % 50)}])

    def test_backup_refuses_a_non_empty_destination(self):
        data = pbtest.new_temp_dir(self.addCleanup)
        pbtest.app_add(data, APP[0], APP[1])
        dest = pbtest.new_temp_dir(self.addCleanup)
        with open(os.path.join(dest, 'keep'), 'w') as f:
            f.write('x')
        r = run('backup', '--data', data, dest)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn('new or empty directory', r.stderr)
        self.assertEqual(os.listdir(dest), ['keep'])

    def test_backup_needs_a_destination(self):
        self.assertEqual(run('backup', '--data', '/nonexistent').returncode, 2)


if __name__ == '__main__':
    unittest.main()
