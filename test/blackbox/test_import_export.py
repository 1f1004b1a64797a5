"""pushbind import / export: formats, bad lines, limits, idempotence, order, round trip."""

import json
import os
import pty
import re
import select
import subprocess
import unittest

import pbtest
from pbtest import APP, BIN

APP_ID = APP[0]


def run(*args, stdin=None, timeout=120):
    """Runs `pushbind ARGS...`; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run([BIN] + [str(a) for a in args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def ndjson(rows):
    return ''.join(json.dumps({'token': t, 'account': a, 'account_type': ty}) + '\n' for t, a, ty in rows)


def parse_export(stdout):
    return [(d['token'], d['account'], d['account_type']) for d in map(json.loads, stdout.splitlines())]


@unittest.skipIf(pbtest.STORE_KIND in ('redis', 'cluster'), 'import, export and stats: the embedded store and PostgreSQL')
class StoreToolTestCase(unittest.TestCase):
    def setUp(self):
        self.data = pbtest.new_temp_dir(self.addCleanup)
        pbtest.app_add(self.data, APP_ID, APP[1])

    def write(self, name, text):
        path = os.path.join(pbtest.new_temp_dir(self.addCleanup), name)
        with open(path, 'w', encoding='utf-8') as f:
            f.write(text)
        return path

    def import_text(self, text, *flags, data=None, name='in.ndjson'):
        return run('import', *pbtest.store_args(data or self.data), '--access-id', APP_ID, *flags, self.write(name, text))

    def export(self, data=None):
        r = run('export', *pbtest.store_args(data or self.data), '--access-id', APP_ID)
        self.assertEqual(r.returncode, 0, r)
        return parse_export(r.stdout)


class ImportTest(StoreToolTestCase):
    def test_ndjson_lines_become_bindings_in_file_order(self):
        rows = [('tok-b', 'alice', 0), ('tok-a', 'alice', 0), ('tok-a', 'bob', 1), ('tok-c', 'alice', 0)]
        r = self.import_text(ndjson(rows))
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('4 bound, 0 already present, 0 rejected', r.stdout)
        self.assertEqual(self.export(), rows)
        srv = pbtest.Server.for_test(self, apps=[], data_dir=self.data)
        srv.default_app = APP
        self.assertEqual(srv.tokens_of('alice'), ['tok-b', 'tok-a', 'tok-c'])
        self.assertEqual(srv.accounts_of('tok-a'), [{'account': 'alice'}, {'account': 'bob', 'account_type': 1}])

    def test_csv_from_stdin_with_header_quotes_and_default_type(self):
        text = 'token,account,account_type\nt1,"smith, john",2\nt1,"say ""hi"""\nt2,carol\n'
        r = run('import', *pbtest.store_args(self.data), '--access-id', APP_ID, '-', stdin=text)
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(self.export(), [('t1', 'smith, john', 2), ('t1', 'say "hi"', 0), ('t2', 'carol', 0)])

    def test_format_flag_reads_csv_without_header(self):
        r = self.import_text('t1,a\n', '--format', 'csv', name='in.txt')
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(self.export(), [('t1', 'a', 0)])

    def test_format_flag_csv_skips_a_header_line(self):
        r = self.import_text('\nToken,Account,Account_Type\nt1,a,1\n', '--format', 'csv', name='in.csv')
        self.assertEqual(r.returncode, 0, r)
        self.assertNotIn('line 2', r.stderr)
        self.assertEqual(self.export(), [('t1', 'a', 1)])

    def test_bad_lines_are_reported_with_their_number_and_skipped(self):
        text = ('{"token":"t1","account":"a"}\n'
                'not json\n'
                '\n'
                '{"token":"has space","account":"a"}\n'
                '{"token":"t2"}\n'
                '{"token":"t3","account":"a","account_type":-1}\n'
                '{"token":"t4","account":"ctl\\u0001"}\n'
                '["t5","a"]\n'
                '{"token":"t6","account":"b","extra":{"x":[1]}}\n')
        r = self.import_text(text)
        self.assertEqual(r.returncode, 1, r)
        for line in (2, 4, 5, 6, 7, 8):
            self.assertRegex(r.stderr, r'line %d: ' % line)
        for line in (1, 3, 9):
            self.assertNotRegex(r.stderr, r'line %d: ' % line)
        self.assertIn('2 bound, 0 already present, 6 rejected', r.stdout)
        self.assertEqual(self.export(), [('t1', 'a', 0), ('t6', 'b', 0)])

    def test_reimport_changes_nothing(self):
        rows = [('t%d' % (i % 7), 'acc%d' % i, i % 3) for i in range(50)]
        self.assertEqual(self.import_text(ndjson(rows)).returncode, 0)
        before = self.export()
        r = self.import_text(ndjson(rows))
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('0 bound, 50 already present', r.stdout)
        self.assertEqual(self.export(), before)

    def test_lines_over_a_limit_are_refused_like_the_api_refuses_them(self):
        rows = [('t1', 'a%d' % i, 0) for i in range(4)] + [('u%d' % i, 'z', 0) for i in range(4)]
        r = self.import_text(ndjson(rows), '--max-accounts-per-token', '3', '--max-tokens-per-account', '2')
        self.assertEqual(r.returncode, 1, r)
        self.assertRegex(r.stderr, r'line 4: the token already has --max-accounts-per-token accounts')
        self.assertRegex(r.stderr, r'line 7: the account already has --max-tokens-per-account tokens')
        self.assertRegex(r.stderr, r'line 8: the account already has')
        self.assertEqual(self.export(), rows[:3] + rows[4:6])

    def test_both_limits_in_one_chunk_follow_line_order(self):
        # Line 2 is refused (account z is full), so token t1 still has room for line 4.
        rows = [('t0', 'z', 0), ('t1', 'z', 0), ('t1', 'b', 0), ('t1', 'c', 0), ('t1', 'd', 0)]
        r = self.import_text(ndjson(rows), '--max-accounts-per-token', '2', '--max-tokens-per-account', '1')
        self.assertEqual(r.returncode, 1, r)
        self.assertRegex(r.stderr, r'line 2: the account already has')
        self.assertRegex(r.stderr, r'line 5: the token already has')
        self.assertNotRegex(r.stderr, r'line 4: ')
        self.assertEqual(self.export(), [('t0', 'z', 0), ('t1', 'b', 0), ('t1', 'c', 0)])

    def test_config_file_gives_the_settings_and_flags_win(self):
        flag, store = pbtest.store_args(self.data)
        conf = self.write('import.conf', '# as serve\n%s = %s\naccess-id = %s\nformat = csv\n'
                                         'max-accounts-per-token = 1\nbatch-size = 2\n' % (flag[2:], store, APP_ID))
        csv = self.write('in.csv', 't1,a\nt1,b\nt2,c\nt2,d\nt2,e\n')
        r = run('import', '--config', conf, csv)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(re.findall(r'line (\d+): the token already has', r.stderr), ['2', '4', '5'])
        r = run('import', '--config', conf, '--max-accounts-per-token', '2', csv)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(re.findall(r'line (\d+): ', r.stderr), ['5'])
        self.assertEqual(self.export(), [('t1', 'a', 0), ('t2', 'c', 0), ('t1', 'b', 0), ('t2', 'd', 0)])

    def test_small_batches_give_the_same_state_as_one(self):
        rows = [('t%d' % (i % 5), 'a%d' % (i % 9), 0) for i in range(40)]
        self.assertEqual(self.import_text(ndjson(rows), '--batch-size', '3').returncode, 0)
        small = self.export()
        other = pbtest.new_temp_dir(self.addCleanup)
        pbtest.app_add(other, APP_ID, APP[1])
        self.assertEqual(self.import_text(ndjson(rows), data=other).returncode, 0)
        self.assertEqual(self.export(other), small)

    def test_unknown_app_fails_before_reading(self):
        r = run('import', *pbtest.store_args(self.data), '--access-id', '42', self.write('x.ndjson', ndjson([('t', 'a', 0)])))
        self.assertEqual(r.returncode, 1, r)
        self.assertIn('no app 42', r.stderr)

    def test_progress_is_plain_lines_when_not_a_terminal(self):
        r = self.import_text(ndjson([('t', 'a', 0)]))
        self.assertNotIn('\r', r.stderr)
        self.assertNotIn('\033[', r.stderr)

    def test_progress_is_a_bar_with_rate_and_eta_on_a_terminal(self):
        # Enough lines for the reading and the storing to each outlast a redraw (0.2 s) even on a fast machine.
        lines = 600000
        path = self.write('big.ndjson', ndjson(('tty-%d' % i, 'acc-%d' % (i % 20000), 0) for i in range(lines)))
        master, slave = pty.openpty()
        proc = subprocess.Popen([BIN, 'import', *pbtest.store_args(self.data), '--access-id', APP_ID, path],
                                stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        seen = b''
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            try:
                chunk = os.read(master, 65536) if ready else b''
            except OSError:  # the terminal closed with the process
                chunk = b''
            if not chunk:
                break
            seen += chunk
        os.close(master)
        stdout = proc.communicate(timeout=60)[0].decode()
        self.assertEqual(proc.returncode, 0)
        self.assertIn('%d bound' % lines, stdout)
        text = seen.decode('utf-8', 'replace')
        self.assertRegex(text, r'\r\x1b\[K\[[#.]+\] +\d+%  \d+ lines  \d+/s  ETA \d+:\d\d:\d\d')
        # The chunk is stored after the whole file is read: the bar says how far the store has come.
        self.assertRegex(text, r'%d lines  \d+/s  ETA \d+:\d\d:\d\d  storing: (sorting|\d+ of %d (checked|written)'
                               r'|committing)' % (lines, 2 * lines))

    def test_usage_errors(self):
        for args in (['import', *pbtest.store_args(self.data), 'f'], ['import', '--access-id', APP_ID, 'f'],
                     ['import', *pbtest.store_args(self.data), '--access-id', APP_ID],
                     ['import', *pbtest.store_args(self.data), '--access-id', APP_ID, '--format', 'xml', 'f'],
                     ['export', *pbtest.store_args(self.data)]):
            r = run(*args)
            self.assertEqual(r.returncode, 2, r)


def varied_rows(n, tag):
    """n bindings whose lines differ in length, so that block boundaries fall anywhere in a line."""
    return [('%s-%d-%s' % (tag, i, 'x' * (i * 7 % 41)), 'acc-%d' % (i % 997), i % 3) for i in range(n)]


# Lines enough for several MiB of input: more than one block, however the reader cuts them.
MANY = 60000


class ImportLargeInputTest(StoreToolTestCase):
    def test_bad_lines_far_into_a_large_file_are_reported_in_file_order(self):
        rows = varied_rows(MANY, 'far')
        lines = ndjson(rows).splitlines(keepends=True)
        bad_at = [2, 23456, 40001, MANY - 1]
        for i in bad_at:
            lines[i] = 'not json\n' if i % 2 else '{"token":"bad token","account":"a"}\n'
        text = ''.join(lines)
        self.assertGreater(len(text), 4 << 20)
        r = self.import_text(text)
        self.assertEqual(r.returncode, 1, r)
        reported = [int(n) for n in re.findall(r'^pushbind import: line (\d+): ', r.stderr, re.M)]
        self.assertEqual(reported, [i + 1 for i in bad_at])
        self.assertIn('%d lines: %d bound, 0 already present, 4 rejected' % (MANY, MANY - 4), r.stdout)
        self.assertEqual(self.export(), [row for i, row in enumerate(rows) if i not in bad_at])

    def test_crlf_lines_and_a_last_line_without_newline_in_a_large_file(self):
        rows = varied_rows(MANY, 'crlf')
        text = '\r\n' + ndjson(rows).replace('\n', '\r\n').rstrip('\r\n')
        r = self.import_text(text)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('%d lines: %d bound, 0 already present, 0 rejected' % (MANY + 1, MANY), r.stdout)
        self.assertEqual(self.export(), rows)

    def test_csv_from_stdin_in_several_blocks_skips_a_header_after_blank_lines(self):
        rows = varied_rows(MANY, 'pipe')
        text = '\n \ntoken,account,account_type\n' + ''.join('%s,%s,%d\n' % row for row in rows)
        r = run('import', *pbtest.store_args(self.data), '--access-id', APP_ID, '-', stdin=text)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('%d lines: %d bound, 0 already present, 0 rejected' % (MANY + 3, MANY), r.stdout)
        self.assertEqual(self.export(), rows)

    def test_a_line_longer_than_a_block_is_read_whole(self):
        long_line = json.dumps({'token': 'long', 'account': 'a', 'note': 'n' * (5 << 20)}) + '\n'
        text = ndjson([('before', 'a', 0)]) + long_line + 'not json\n' + ndjson([('after', 'a', 0)])
        r = self.import_text(text)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(re.findall(r'line (\d+): ', r.stderr), ['3'])
        self.assertIn('4 lines: 3 bound, 0 already present, 1 rejected', r.stdout)
        self.assertEqual(self.export(), [('before', 'a', 0), ('long', 'a', 0), ('after', 'a', 0)])

    def test_lines_from_a_slow_pipe_are_judged_as_they_come(self):
        proc = subprocess.Popen([BIN, 'import', *pbtest.store_args(self.data), '--access-id', APP_ID, '-'],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(proc.kill)
        proc.stdin.write(b'{"token":"t1","account":"a"}\nnot json\n')
        proc.stdin.flush()
        seen = b''
        while b'line 2: ' not in seen:  # with the input still open
            ready, _, _ = select.select([proc.stderr], [], [], 30)
            self.assertTrue(ready, 'no report of line 2 while the pipe stays open: %r' % seen)
            chunk = os.read(proc.stderr.fileno(), 4096)
            self.assertTrue(chunk, seen)
            seen += chunk
        proc.stdin.close()
        self.assertEqual(proc.wait(timeout=60), 1)
        self.assertIn(b'2 lines: 1 bound', proc.stdout.read())
        proc.stdout.close()
        proc.stderr.close()


class ExportTest(StoreToolTestCase):
    def test_export_follows_creation_order_of_api_writes(self):
        srv = pbtest.Server.for_test(self, apps=[], data_dir=self.data)
        srv.default_app = APP
        srv.bind('tz', 'm')
        srv.bind('ta', 'm', ('k', 5))
        srv.bind('tz', 'a')
        srv.ok_batch({'operator_type': 3, 'token_accounts': [{'token': 'ta', 'account_list': [{'account': 'm'}]}]})
        self.assertEqual(self.export(), [('tz', 'm', 0), ('ta', 'k', 5), ('tz', 'a', 0)])

    def test_round_trip_rebuilds_the_same_lists(self):
        rows = [('t%d' % (i * 7919 % 23), 'user%d' % (i * 104729 % 31), i % 4) for i in range(300)]
        rows += [('tok-é', 'ünïcode "quoted" \\ back', 2001), ('t/slash', 'a\tb', 0)]
        r = self.import_text(ndjson(rows))
        self.assertEqual(r.returncode, 1, r)  # 'a\tb' is a control character: refused
        first = run('export', *pbtest.store_args(self.data), '--access-id', APP_ID)
        copy = pbtest.new_temp_dir(self.addCleanup)
        pbtest.app_add(copy, APP_ID, APP[1])
        r = self.import_text(first.stdout, data=copy)
        self.assertEqual(r.returncode, 0, r)
        second = run('export', *pbtest.store_args(copy), '--access-id', APP_ID)
        self.assertEqual(second.stdout, first.stdout)
        self.assertTrue(first.stdout)
        self.assertIn(('t/slash', 'a\tb', 0), rows)
        self.assertNotIn(('t/slash', 'a\tb', 0), parse_export(first.stdout))

    def test_export_of_an_unknown_app_fails(self):
        r = run('export', *pbtest.store_args(self.data), '--access-id', '42')
        self.assertEqual(r.returncode, 1, r)


class StatsTest(StoreToolTestCase):
    def test_stats_counts_bindings_per_app_and_sizes(self):
        pbtest.app_add(self.data, '1500001049', pbtest.APP2[1])
        self.import_text(ndjson([('t1', 'a', 0), ('t2', 'a', 0)]))
        r = run('stats', *pbtest.store_args(self.data))
        self.assertEqual(r.returncode, 0, r)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ['ACCESS_ID', 'BINDINGS'])
        self.assertIn([APP_ID, '2'], [l.split() for l in lines])
        self.assertIn(['1500001049', '0'], [l.split() for l in lines])
        self.assertIn('apps: 2', lines)
        self.assertIn('bindings: 2', lines)
        if pbtest.STORE_KIND == 'postgres':
            self.assertRegex(r.stdout, r'table: [0-9.]+ MiB \(\d+ bytes\)\nindexes: [0-9.]+ MiB \(\d+ bytes\)')
        else:
            self.assertRegex(r.stdout, r'file: [0-9.]+ MiB \(\d+ bytes\)')


if __name__ == '__main__':
    unittest.main()
