"""The command line: app add / list / remove, serve's start-up errors, help and usage errors."""

import datetime
import os
import re
import socket
import stat
import subprocess
import unittest

import pbtest
from pbtest import APP, APP2, E_AUTH, acc, acc_list, basic_header, query_answer, query_error, run_cli, uniq

ISO_UTC = re.compile(r'^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|\+00:00|\+0000)$')


def parse_list(stdout):
    """`app list` output -> {access_id: (created, bindings)}; checks the header line."""
    lines = [l for l in stdout.splitlines() if l.strip()]
    if not lines or lines[0].split() != ['ACCESS_ID', 'CREATED', 'BINDINGS']:
        raise AssertionError('app list header is not "ACCESS_ID  CREATED  BINDINGS": %r' % (stdout,))
    apps = {}
    for line in lines[1:]:
        fields = line.split()
        if len(fields) != 3:
            raise AssertionError('app list line is not ACCESS_ID CREATED BINDINGS: %r' % (line,))
        apps[fields[0]] = (fields[1], fields[2])
    return apps


class CliTestCase(unittest.TestCase):
    def setUp(self):
        self.data = pbtest.new_temp_dir(self.addCleanup)

    def cli(self, *args):
        return run_cli(*args)

    def assertUsageError(self, *args):
        r = self.cli(*args)
        self.assertEqual(r.returncode, 2, r)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, 'want one line on stderr: %r' % (r,))
        self.assertTrue(lines[0].strip(), r)
        return r

    def list_apps(self):
        r = self.cli('app', 'list', '--data', self.data)
        self.assertEqual(r.returncode, 0, r)
        return parse_list(r.stdout), r


class AppAddTest(CliTestCase):
    def test_add_with_secret_key_prints_created_then_updated(self):
        r = self.cli('app', 'add', '--data', self.data, '--access-id', '1500001048', '--secret-key', APP[1])
        self.assertEqual((r.returncode, r.stdout.strip()), (0, 'created app 1500001048'), r)
        self.assertNotIn(APP[1], r.stdout + r.stderr)
        r = self.cli('app', 'add', '--data', self.data, '--access-id', '1500001048', '--secret-key', APP2[1])
        self.assertEqual((r.returncode, r.stdout.strip()), (0, 'updated app 1500001048'), r)
        self.assertNotIn(APP2[1], r.stdout + r.stderr)

    def test_add_without_secret_key_prints_a_generated_32_hex_key_once(self):
        r = self.cli('app', 'add', '--data', self.data, '--access-id', '1500003000')
        self.assertEqual(r.returncode, 0, r)
        lines = [l.strip() for l in r.stdout.splitlines() if l.strip()]
        self.assertIn('created app 1500003000', lines, r)
        keys = [m.group(1) for m in (re.match(r'^secret key: (\S+)$', l) for l in lines) if m]
        self.assertEqual(len(keys), 1, r)
        self.assertRegex(keys[0], r'^[0-9a-f]{32}$')
        self.assertEqual(r.stdout.count(keys[0]), 1, r)
        self.assertEqual(r.stderr.count(keys[0]), 0, r)
        r2 = self.cli('app', 'add', '--data', self.data, '--access-id', '1500003001')
        key2 = re.search(r'secret key: ([0-9a-f]{32})', r2.stdout).group(1)
        self.assertNotEqual(keys[0], key2)

    def test_generated_key_authenticates(self):
        r = self.cli('app', 'add', '--data', self.data, '--access-id', '1500003002')
        key = re.search(r'secret key: ([0-9a-f]{32})', r.stdout).group(1)
        app = ('1500003002', key)
        srv = pbtest.Server.for_test(self, apps=[], data_dir=self.data)
        t = uniq('tok')
        srv.bind(t, 'gen', app=app)
        self.assertEqual(srv.accounts_of(t, app=app), [acc('gen')])
        self.assertEqual(srv.accounts_of(t, app=app, auth='sign'), [acc('gen')])

    def test_updated_secret_replaces_the_old_one_and_keeps_bindings(self):
        srv = pbtest.Server.for_test(self, apps=[APP], data_dir=self.data)
        t = uniq('tok')
        srv.bind(t, 'keep')
        srv.halt()
        new = (APP[0], 'a-brand-new-secret-key-0000000000')
        r = self.cli('app', 'add', '--data', self.data, '--access-id', APP[0], '--secret-key', new[1])
        self.assertEqual((r.returncode, r.stdout.strip()), (0, 'updated app %s' % APP[0]), r)
        srv.start()
        self.assertEqual(srv.query({'operator_type': 2, 'token_list': [t]}, app=APP), (200, query_error(E_AUTH)))
        self.assertEqual(srv.accounts_of(t, app=new), [acc('keep')])

    def test_longest_access_id_and_boundary_secrets_are_accepted_and_work(self):
        punct = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'
        apps = [('999999999999999999', 'k' * 16), ('1', 'K' * 128), ('77', punct), ('78', '~' * 16)]
        for access_id, secret in apps:
            r = self.cli('app', 'add', '--data', self.data, '--access-id', access_id, '--secret-key', secret)
            self.assertEqual((r.returncode, r.stdout.strip()), (0, 'created app %s' % access_id), r)
        srv = pbtest.Server.for_test(self, apps=[], data_dir=self.data)
        for app in apps:
            t = uniq('tok')
            srv.bind(t, 'edge', app=app)
            self.assertEqual(srv.accounts_of(t, app=app, auth='sign'), [acc('edge')], app)

    def test_invalid_access_id_is_a_usage_error(self):
        for access_id in ('0', 'abc', '1234567890123456789', '-5', '', '12 3', '+5', '1.5', '0x10', '١٢٣'):
            self.assertUsageError('app', 'add', '--data', self.data, '--access-id', access_id,
                                  '--secret-key', APP[1])
        apps, _ = self.list_apps()
        self.assertEqual(apps, {})

    def test_invalid_secret_key_is_a_usage_error(self):
        for secret in ('k' * 15, 'k' * 129, 'with space 0123456789', 'with\ttab-0123456789', 'é' * 16,
                       'del\x7f0123456789abcdef', ''):
            self.assertUsageError('app', 'add', '--data', self.data, '--access-id', '1500004000',
                                  '--secret-key', secret)
        apps, _ = self.list_apps()
        self.assertEqual(apps, {})


class AppListRemoveTest(CliTestCase):
    def test_list_shows_each_app_with_creation_time_and_binding_count_but_no_secret(self):
        before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        srv = pbtest.Server.for_test(self, apps=[APP, APP2], data_dir=self.data)
        srv.bind('token1', 'a', 'b', ('b', 1))
        srv.bind('token2', 'a')
        srv.bind('token1', 'a')  # already bound: no new pair
        srv.bind('token9', 'z', app=APP2)
        srv.bind('token9', 'z', op=3, app=APP2)  # and unbound again
        srv.halt()
        after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
        apps, r = self.list_apps()
        self.assertEqual(set(apps), {APP[0], APP2[0]}, r)
        self.assertEqual(apps[APP[0]][1], '4')
        self.assertEqual(apps[APP2[0]][1], '0')
        for access_id, (created, _) in apps.items():
            m = ISO_UTC.match(created)
            self.assertIsNotNone(m, 'CREATED %r is not ISO-8601 UTC' % created)
            when = datetime.datetime(*[int(x) for x in m.groups()[:6]], tzinfo=datetime.timezone.utc)
            self.assertTrue(before - datetime.timedelta(seconds=1) <= when <= after, (created, before, after))
        for secret in (APP[1], APP2[1]):
            self.assertNotIn(secret, r.stdout + r.stderr)

    def test_list_of_an_empty_store_prints_only_the_header(self):
        apps, r = self.list_apps()
        self.assertEqual(apps, {})

    def test_remove_deletes_the_app_and_its_bindings_only(self):
        srv = pbtest.Server.for_test(self, apps=[APP, APP2], data_dir=self.data)
        srv.bind('token1', 'a', 'b')
        srv.bind('token2', 'a')
        srv.bind('token1', 'other', app=APP2)
        srv.halt()
        r = self.cli('app', 'remove', '--data', self.data, '--access-id', APP[0])
        self.assertEqual((r.returncode, r.stdout.strip()), (0, 'removed app %s (3 bindings)' % APP[0]), r)
        apps, _ = self.list_apps()
        self.assertEqual(set(apps), {APP2[0]})
        self.assertEqual(apps[APP2[0]][1], '1')
        srv.start()
        self.assertEqual(srv.query({'operator_type': 2, 'token_list': ['token1']}, app=APP),
                         (200, query_error(E_AUTH)))
        self.assertEqual(srv.accounts_of('token1', app=APP2), [acc('other')])
        srv.halt()
        # Adding the app again starts it empty.
        pbtest.app_add(self.data, APP[0], APP[1])
        srv.start()
        self.assertEqual(srv.query({'operator_type': 2, 'token_list': ['token1', 'token2']}, app=APP),
                         (200, query_answer('token_accounts', [{'token': 'token1', 'account_list': []},
                                                               {'token': 'token2', 'account_list': []}],
                                            [10110008, 10110008])))
        self.assertEqual(srv.tokens_of('a', app=APP), [])

    def test_remove_of_an_unknown_app_fails_with_status_1(self):
        pbtest.app_add(self.data, APP2[0], APP2[1])
        r = self.cli('app', 'remove', '--data', self.data, '--access-id', APP[0])
        self.assertEqual(r.returncode, 1, r)
        self.assertTrue(r.stderr.strip(), r)
        apps, _ = self.list_apps()
        self.assertEqual(set(apps), {APP2[0]})

    def test_app_added_while_the_server_runs_can_authenticate(self):
        srv = pbtest.Server.for_test(self, apps=[APP], data_dir=self.data)
        pbtest.app_add(self.data, APP2[0], APP2[1])
        t = uniq('tok')
        srv.bind(t, 'late', app=APP2)
        self.assertEqual(srv.accounts_of(t, app=APP2), [acc('late')])


class HelpAndUsageTest(CliTestCase):
    def test_help_prints_usage_on_stdout_and_exits_0(self):
        cases = [(['--help'], 'app'), (['app', '--help'], 'add'), (['app', 'add', '--help'], '--access-id'),
                 (['app', 'list', '--help'], '--data'), (['app', 'remove', '--help'], '--access-id'),
                 (['serve', '--help'], '--listen')]
        for args, must_mention in cases:
            r = self.cli(*args)
            self.assertEqual(r.returncode, 0, r)
            self.assertIn(must_mention, r.stdout, r)
        r = self.cli('app', 'add', '--help')
        self.assertIn('--secret-key', r.stdout, r)
        r = self.cli('serve', '--help')
        self.assertIn('--data', r.stdout, r)

    def test_unknown_command_is_a_usage_error(self):
        self.assertUsageError('frobnicate')
        self.assertUsageError('app', 'frobnicate', '--data', self.data)

    def test_unknown_flag_is_a_usage_error(self):
        self.assertUsageError('app', 'add', '--data', self.data, '--access-id', '5', '--secret-key', APP[1], '--bogus')
        self.assertUsageError('app', 'list', '--data', self.data, '--verbose-nonsense')
        self.assertUsageError('app', 'remove', '--data', self.data, '--access-id', '5', '--bogus')
        self.assertUsageError('serve', '--data', self.data, '--listen', '127.0.0.1:0', '--bogus')
        apps, _ = self.list_apps()
        self.assertEqual(apps, {})

    def test_missing_required_flag_is_a_usage_error(self):
        self.assertUsageError('app', 'add', '--data', self.data)
        self.assertUsageError('app', 'add', '--access-id', '5', '--secret-key', APP[1])
        self.assertUsageError('app', 'add', '--data', self.data, '--access-id')
        self.assertUsageError('app', 'list')
        self.assertUsageError('app', 'remove', '--data', self.data)
        self.assertUsageError('serve', '--listen', '127.0.0.1:0')

    def test_flag_value_that_is_not_a_number_is_a_usage_error(self):
        self.assertUsageError('serve', '--data', self.data, '--listen', '127.0.0.1:0', '--threads', 'many')
        self.assertUsageError('serve', '--data', self.data, '--listen', '127.0.0.1:0', '--max-batch-items', 'x')


# Each subcommand's flags, as its --help must list them (serve's: some of them), and whether it takes --config.
SUBCOMMAND_FLAGS = [
    (['serve'], ['--data', '--store', '--listen', '--threads', '--max-batch-items', '--binding-ttl', '--console',
                 '--max-accounts-per-token', '--map-size-mib', '--log-format'], True),
    (['app', 'add'], ['--data', '--store', '--access-id', '--secret-key'], True),
    (['app', 'list'], ['--data', '--store'], True),
    (['app', 'remove'], ['--data', '--store', '--access-id'], True),
    (['import'], ['--data', '--store', '--access-id', '--format', '--batch-size', '--max-accounts-per-token',
                  '--max-tokens-per-account', '--max-account-bytes', '--max-token-bytes', '--max-tags-per-token',
                  '--max-tags-per-app', '--max-tag-chars', '--map-size-mib'], True),
    (['pull'], ['--from', '--access-id', '--secret-key', '--auth', '--cacert', '--accounts', '--tokens', '--data',
                '--store', '--rate', '--batch', '--resume', '--report', '--max-accounts-per-token',
                '--max-tokens-per-account', '--max-tags-per-token', '--max-tags-per-app', '--max-tag-chars'], True),
    (['export'], ['--data', '--store', '--access-id'], False),
    (['backup'], ['--data'], False),
    (['stats'], ['--data', '--store'], False),
]


class SubcommandSettingsTest(CliTestCase):
    """Every subcommand's flags come from one table: its --help, its range checks and its --config keys."""

    def cli(self, *args):
        """The embedded store's tools take --data DIR on every suite: run them as given."""
        if args[0] not in ('import', 'export', 'backup', 'stats'):
            return run_cli(*args)
        proc = subprocess.run([pbtest.BIN] + [str(a) for a in args], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=10)
        return pbtest.Result(proc.args, proc.returncode, proc.stdout, proc.stderr)

    def flags_listed(self, stdout):
        return set(re.findall(r'^  (--[a-z-]+)', stdout, re.M))

    def write_config(self, text):
        path = os.path.join(pbtest.new_temp_dir(self.addCleanup), 'pushbind.conf')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def store_line(self, data_dir):
        """The config line naming the store behind data_dir: what --data DIR is on this suite's store."""
        flag, value = pbtest.store_args(data_dir)
        return '%s = %s\n' % (flag[2:], value)

    def test_help_of_every_subcommand_lists_its_flags_and_whether_it_takes_config(self):
        for command, flags, takes_config in SUBCOMMAND_FLAGS:
            r = self.cli(*(command + ['--help']))
            self.assertEqual((r.returncode, r.stderr), (0, ''), r)
            self.assertTrue(r.stdout.startswith('usage: pushbind %s' % ' '.join(command)), r)
            listed = self.flags_listed(r.stdout)
            want = set(flags) | {'--help'} | ({'--config'} if takes_config else set())
            if command == ['serve']:
                self.assertLessEqual(want, listed)
            else:
                self.assertEqual(listed, want, command)

    def test_help_shows_the_defaults_the_command_runs_with(self):
        r = self.cli('import', '--help')
        self.assertRegex(r.stdout, r'--batch-size N .*\(default 10000000\)')
        self.assertRegex(r.stdout, r'--max-accounts-per-token N .*\(default 32\)')
        r = self.cli('pull', '--help')
        self.assertRegex(r.stdout, r'--rate N .*\(default 10\)')
        self.assertRegex(r.stdout, r'--batch N .*\(default 100\)')
        self.assertRegex(r.stdout, r'--auth signature\|basic .*\(default signature\)')

    def test_a_value_out_of_range_is_a_usage_error_naming_the_flag_and_the_range(self):
        source = ['--from', 'http://127.0.0.1:1', '--access-id', APP[0], '--secret-key', APP[1],
                  '--accounts', '-', '--data', self.data]
        tool = ['--data', self.data, '--access-id', APP[0]]
        cases = [
            (['import'] + tool + ['--batch-size', '0', '-'], "--batch-size: '0' is not a number in 1..10000000"),
            (['import'] + tool + ['--max-token-bytes', '401', '-'],
             "--max-token-bytes: '401' is not a number in 1..400"),
            (['import'] + tool + ['--max-accounts-per-token', '100001', '-'],
             "--max-accounts-per-token: '100001' is not a number in 1..100000"),
            (['import'] + tool + ['--map-size-mib', 'big', '-'],
             "--map-size-mib: 'big' is not a number in 1..16777216"),
            (['import'] + tool + ['--format', 'xml', '-'], "--format: 'xml' is not one of ndjson|csv"),
            (['pull'] + source + ['--batch', '1001'], "--batch: '1001' is not a number in 1..1000"),
            (['pull'] + source + ['--rate', '0'], "--rate: '0' is not a number in 1..100000"),
            (['pull'] + source + ['--max-tokens-per-account', '-1'],
             "--max-tokens-per-account: '-1' is not a number in 1..100000"),
            (['pull'] + source + ['--auth', 'token'], "--auth: 'token' is not one of signature|basic"),
            (['export', '--data', self.data, '--access-id', '0'], '--access-id: not 1 to 18 decimal digits'),
            (['app', 'remove', '--data', self.data, '--access-id', '1234567890123456789'],
             '--access-id: not 1 to 18 decimal digits'),
        ]
        for args, message in cases:
            command = ' '.join(args[:2] if args[0] == 'app' else args[:1])
            r = self.assertUsageError(*args)
            self.assertIn('pushbind %s: %s' % (command, message), r.stderr, args)
            self.assertIn("(see 'pushbind %s --help')" % command, r.stderr, args)

    def test_a_missing_required_flag_or_operand_is_named(self):
        cases = [
            (['import', '--data', self.data, '-'], '--access-id ID is required'),
            (['import', '--data', self.data, '--access-id', APP[0]], 'one FILE is required'),
            (['export', '--access-id', APP[0]], '--data DIR or --store URL is required'),
            (['stats'], '--data DIR or --store URL is required'),
            (['import', '--store', 'redis://127.0.0.1:1', '--access-id', APP[0], '-'],
             '--store takes a postgresql:// URL here'),
            (['export', '--store', 'redis://127.0.0.1:1', '--access-id', APP[0]],
             '--store takes a postgresql:// URL here'),
            (['backup', '--data', self.data], 'one DEST is required'),
            (['backup', '--data', self.data, 'a', 'b'], "unexpected argument 'b'"),
            (['pull', '--access-id', APP[0], '--secret-key', APP[1], '--accounts', '-', '--data', self.data],
             '--from URL is required'),
            (['app', 'remove', '--data', self.data], '--access-id ID is required'),
        ]
        for args, message in cases:
            r = self.assertUsageError(*args)
            self.assertIn(message, r.stderr, args)

    def test_app_commands_take_their_settings_from_config_and_flags_win(self):
        conf = self.write_config('# apps\n%saccess-id = 1500005000\nsecret-key = %s\n'
                                 % (self.store_line(self.data), APP[1]))
        r = self.cli('app', 'add', '--config', conf)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, 'created app 1500005000'), r)
        r = self.cli('app', 'add', '--config', conf, '--access-id', '1500005001')
        self.assertEqual((r.returncode, r.stdout.strip()), (0, 'created app 1500005001'), r)
        r = self.cli('app', 'list', '--config', self.write_config(self.store_line(self.data)))
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(set(parse_list(r.stdout)), {'1500005000', '1500005001'})
        srv = pbtest.Server.for_test(self, apps=[], data_dir=self.data)
        t = uniq('tok')
        srv.bind(t, 'conf', app=('1500005001', APP[1]))
        self.assertEqual(srv.accounts_of(t, app=('1500005001', APP[1])), [acc('conf')])

    def test_config_keys_are_the_commands_own_and_its_values_are_range_checked(self):
        conf = self.write_config('%saccess-id = 1500005002\nsecret-key = %s\n' % (self.store_line(self.data), APP[1]))
        r = self.assertUsageError('app', 'list', '--config', conf)
        self.assertIn('%s:2: unknown key' % conf, r.stderr)
        self.assertNotIn(APP[1], r.stdout + r.stderr)
        conf = self.write_config('access-id = 1500005002\nsecret-key = too-short\n')
        r = self.assertUsageError('app', 'add', '--data', self.data, '--config', conf)
        self.assertIn('--secret-key: must be 16 to 128 printable ASCII characters', r.stderr)
        self.assertNotIn('too-short', r.stdout + r.stderr)
        conf = self.write_config('batch = 0\n')
        r = self.assertUsageError('pull', '--config', conf)
        self.assertIn("--batch: '0' is not a number in 1..1000", r.stderr)
        apps, _ = self.list_apps()
        self.assertEqual(apps, {})

    def test_commands_without_settings_worth_a_file_refuse_config(self):
        conf = self.write_config('access-id = %s\n' % APP[0])
        for command in (['export'], ['backup'], ['stats']):
            r = self.assertUsageError(*(command + ['--data', self.data, '--config', conf]))
            self.assertIn("unknown or incomplete option '--config'", r.stderr)


class ServeStartupTest(CliTestCase):
    def test_serve_on_a_port_in_use_exits_1(self):
        pbtest.app_add(self.data, APP[0], APP[1])
        s = socket.socket()
        self.addCleanup(s.close)
        s.bind(('127.0.0.1', 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            r = run_cli('serve', '--data', self.data, '--listen', '127.0.0.1:%d' % port, timeout=10)
        except subprocess.TimeoutExpired:
            self.fail('serve on a busy port kept running')
        self.assertEqual(r.returncode, 1, r)
        self.assertTrue(r.stderr.strip(), r)

    def test_serve_prints_the_port_it_listens_on_and_answers_there(self):
        srv = pbtest.Server.for_test(self, apps=[APP], data_dir=self.data)
        self.assertIn('pushbind: listening on http://127.0.0.1:%d' % srv.port, srv.stderr_text)
        status, _, _ = srv.request('GET', '/healthz')
        self.assertEqual(status, 200)


@pbtest.lmdb_only('file modes of the LMDB data directory')
class DataDirModeTest(CliTestCase):
    def test_data_directory_is_created_0700_and_its_files_0600_whatever_the_umask(self):
        old = os.umask(0)
        try:
            for command in (['app', 'add', '--access-id', APP[0], '--secret-key', APP[1]], ['app', 'list']):
                fresh = os.path.join(self.data, 'fresh-%s' % command[1])
                r = self.cli(*(command[:2] + ['--data', fresh] + command[2:]))
                self.assertEqual(r.returncode, 0, r)
                self.assertEqual(stat.S_IMODE(os.stat(fresh).st_mode), 0o700, command)
                for name in ('data.mdb', 'lock.mdb'):
                    self.assertEqual(stat.S_IMODE(os.stat(os.path.join(fresh, name)).st_mode), 0o600, name)
        finally:
            os.umask(old)


if __name__ == '__main__':
    unittest.main()
