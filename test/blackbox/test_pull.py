"""pushbind pull: a second pushbind is the source, the local store the target."""

import collections
import datetime
import http.server
import json
import os
import signal
import subprocess
import threading
import time
import unittest

import pbtest
from pbtest import APP, E_PARAM

# Bound on the source in this order, so that the lists have an order to keep.
# tokens of a: t1 t3 t0; of b (type 1): t1 t2; of c: t0. accounts of t0: c a.
SOURCE_OPS = [
    ('t1', ['a', ('b', 1)]),
    ('t2', [('b', 1)]),
    ('t3', ['a']),
    ('t0', ['c', 'a']),
]
ACCOUNTS = [('c', 0), ('a', 0), ('b', 1)]
TOKENS = ['t0', 't1', 't2', 't3']


def account_line(name, account_type):
    return json.dumps({'account': name, 'account_type': account_type}) if account_type else name


class PullTestCase(unittest.TestCase):

    def setUp(self):
        self.dir = pbtest.new_temp_dir(self.addCleanup)
        self.log = os.path.join(self.dir, 'source.log')
        self.dst = os.path.join(self.dir, 'dst-%s' % pbtest.uniq('d'))
        os.mkdir(self.dst)
        pbtest.app_add(self.dst, APP[0], APP[1])

    def source(self, *args):
        return pbtest.Server.for_test(self, args=['--log-format', 'json', '--log-file', self.log] + list(args))

    def names(self, suffix):
        """Per-test names, so that the Redis namespaces of parallel runs never meet."""
        return lambda name: '%s-%s' % (name, suffix)

    def fill_source(self, src, n):
        for token, accounts in SOURCE_OPS:
            src.bind(n(token), *[(n(a), 0) if isinstance(a, str) else (n(a[0]), a[1]) for a in accounts])

    def write(self, name, lines):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(''.join(line + '\n' for line in lines))
        return path

    def pull(self, src, *args, timeout=60):
        return pbtest.run_cli('pull', '--from', 'http://127.0.0.1:%d' % src.port, '--access-id', APP[0],
                              '--secret-key', APP[1], '--data', self.dst, *args, timeout=timeout)

    def local(self):
        """A server on the local store, to read what the pull wrote."""
        srv = pbtest.Server.for_test(self, apps=(), data_dir=self.dst)
        srv.default_app = APP  # added by setUp already
        return srv

    def query_records(self):
        """The source's query lines. Its log is buffered (up to 100 ms): stop the source first."""
        with open(self.log) as f:
            return [r for r in map(json.loads, f) if r['endpoint'] == 'query']

    def report(self, path):
        with open(path) as f:
            return [line.rstrip('\n').split('\t') for line in f]


class PullOrderTest(PullTestCase):

    def check_by_account(self, auth, batch):
        src = self.source()
        n = self.names(pbtest.uniq('o'))
        self.fill_source(src, n)
        accounts = self.write('accounts', [account_line(n(a), t) for a, t in ACCOUNTS] + [n('nobody')])
        r = self.pull(src, '--accounts', accounts, '--auth', auth, '--batch', batch)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('3 pulled (6 bindings), 1 empty on the source', r.stdout)
        local = self.local()
        for name, account_type in ACCOUNTS:
            self.assertEqual(local.tokens_of(n(name), account_type), src.tokens_of(n(name), account_type), name)
        self.assertEqual(local.accounts_of(n('t0')), src.accounts_of(n('t0')))

    def test_by_account_with_signature_keeps_each_accounts_order(self):
        self.check_by_account('signature', 100)

    def test_by_account_with_basic_one_per_request_keeps_each_accounts_order(self):
        self.check_by_account('basic', 1)

    def check_by_token(self, auth):
        src = self.source()
        n = self.names(pbtest.uniq('o'))
        self.fill_source(src, n)
        src.bind(n('t1'), n('z'), n('y'))  # appended after a and b
        tokens = self.write('tokens', [n(t) for t in TOKENS] + [n('unbound')])
        r = self.pull(src, '--tokens', tokens, '--auth', auth, '--batch', 2)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('4 pulled (8 bindings), 1 empty on the source', r.stdout)
        local = self.local()
        for token in TOKENS:
            self.assertEqual(local.accounts_of(n(token)), src.accounts_of(n(token)), token)

    def test_by_token_with_signature_keeps_each_tokens_order(self):
        self.check_by_token('signature')

    def test_by_token_with_basic_keeps_each_tokens_order(self):
        self.check_by_token('basic')

    def test_a_second_run_changes_nothing(self):
        src = self.source()
        n = self.names(pbtest.uniq('o'))
        self.fill_source(src, n)
        accounts = self.write('accounts', [account_line(n(a), t) for a, t in ACCOUNTS])
        for _ in range(2):
            r = self.pull(src, '--accounts', accounts)
            self.assertEqual(r.returncode, 0, r)
        local = self.local()
        self.assertEqual(local.tokens_of(n('a')), [n('t1'), n('t3'), n('t0')])

    def test_settings_from_a_config_file_keep_the_secret_off_the_command_line(self):
        src = self.source()
        n = self.names(pbtest.uniq('c'))
        self.fill_source(src, n)
        store_flag, store = pbtest.store_args(self.dst)
        conf = self.write('pull.conf', ['from = http://127.0.0.1:%d' % src.port, 'access-id = %s' % APP[0],
                                        'secret-key = %s' % APP[1], '%s = %s' % (store_flag[2:], store),
                                        'auth = basic', 'batch = 1'])
        tokens = self.write('tokens', [n('t1'), n('t0')])
        r = pbtest.run_cli('pull', '--config', conf, '--tokens', tokens, '--batch', 2, timeout=60)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('2 pulled (4 bindings)', r.stdout)
        self.assertNotIn(APP[1], ' '.join(r.argv))
        want = {t: src.accounts_of(n(t)) for t in ('t1', 't0')}
        src.halt()
        # --batch 2 on the command line won over the file's 1: the pull asked one query of 2 items
        # (the two others are this test's own); threads flush their log lines in no set order.
        self.assertEqual(sorted(r['items'] for r in self.query_records()), [1, 1, 2])
        local = self.local()
        self.assertEqual({t: local.accounts_of(n(t)) for t in ('t1', 't0')}, want)


# Bindings with known times and platforms, oldest first, as `pushbind import` takes them:
# (token, account, account_type, bind_time, last_bind_time, platform or None).
TIMED = [
    ('ta', 'a', 0, 1000100, 1000500, 'android'),
    ('ta', 'b', 1, 1000200, 1000200, 'android'),
    ('tb', 'a', 0, 1000300, 1000900, 'ios'),
    ('tc', 'c', 0, 1000400, 1000400, None),
    ('tc', 'a', 0, 1000450, 1000700, None),
]


class PullTimesTest(PullTestCase):
    """A pushbind source's bind times and platforms carry over (docs/operations.md, migration)."""

    def timed_source(self, n):
        """A pushbind on an embedded store filled by import with TIMED: import is what keeps given times."""
        src_dir = os.path.join(self.dir, 'src-%s' % pbtest.uniq('s'))
        os.mkdir(src_dir)
        lines = []
        for token, account, account_type, bind_time, last_bind_time, platform in TIMED:
            line = {'token': n(token), 'account': n(account), 'account_type': account_type,
                    'bind_time': bind_time, 'last_bind_time': last_bind_time}
            if platform:
                line['platform'] = platform
            lines.append(json.dumps(line))
        path = self.write('timed.ndjson', lines)
        for args in (['app', 'add', '--access-id', APP[0], '--secret-key', APP[1]],
                     ['import', '--access-id', APP[0], path]):
            r = subprocess.run([pbtest.BIN] + args + ['--data', src_dir], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r)
        src = pbtest.Server.for_test(self, apps=(), data_dir=src_dir, embedded=True,
                                     args=['--log-format', 'json', '--log-file', self.log])
        src.default_app = APP
        return src

    def info(self, srv, operator_type, items):
        key, answer = (('account_list', 'account_tokens') if operator_type == 1 else ('token_list', 'token_accounts'))
        status, resp = srv.query({'operator_type': operator_type, key: items, 'with_info': True})
        self.assertEqual(status, 200, resp)
        return resp[answer]

    def skip_without_local_times(self, entries):
        """On Redis, until its backend keeps times: what the local store answers says whether it does."""
        if pbtest.STORE_KIND == 'lmdb':
            return
        timed = any('token_info' in e or any('bind_time' in a for a in e.get('account_list', [])) for e in entries)
        if not timed:
            self.skipTest('the %s store answers with_info without bind times yet: nothing to compare' %
                          pbtest.STORE_KIND)

    def expected_by_token(self, n, token):
        rows = [row for row in TIMED if row[0] == token]
        entry = {'token': n(token)}
        if rows[0][5]:
            entry['platform'] = rows[0][5]
        entry['account_list'] = [dict([('account', n(a))] + ([('account_type', t)] if t else []) +
                                      [('bind_time', b), ('last_bind_time', last)])
                                 for _, a, t, b, last, _ in rows]
        return entry

    def test_by_token_keeps_each_bindings_times_and_the_tokens_platform(self):
        n = self.names(pbtest.uniq('bt'))
        src = self.timed_source(n)
        tokens = [n(t) for t in ('ta', 'tb', 'tc')]
        want = [self.expected_by_token(n, t) for t in ('ta', 'tb', 'tc')]
        self.assertEqual(self.info(src, 2, tokens), want)  # the source itself, as imported
        r = self.pull(src, '--tokens', self.write('tokens', tokens))
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('3 pulled (5 bindings)', r.stdout)
        local = self.local()
        got = self.info(local, 2, tokens)
        self.assertEqual([[a['account'] for a in e['account_list']] for e in got],
                         [[a['account'] for a in e['account_list']] for e in want])
        self.skip_without_local_times(got)
        self.assertEqual(got, want)
        accounts = [acc for acc in ({'account': n('a')}, {'account': n('b'), 'account_type': 1}, {'account': n('c')})]
        self.assertEqual(self.info(local, 1, accounts), self.info(src, 1, accounts))

    def test_by_account_keeps_each_bindings_times_and_platform(self):
        n = self.names(pbtest.uniq('ba'))
        src = self.timed_source(n)
        accounts = [{'account': n('a')}, {'account': n('b'), 'account_type': 1}, {'account': n('c')}]
        want = self.info(src, 1, accounts)
        self.assertEqual([[(i['token'], i['bind_time'], i['last_bind_time'], i.get('platform'))
                           for i in e['token_info']] for e in want],
                         [[(n(t), b, last, p) for t, name, ty, b, last, p in TIMED if (name, ty) == key]
                          for key in (('a', 0), ('b', 1), ('c', 0))])
        lines = [n('a'), json.dumps({'account': n('b'), 'account_type': 1}), n('c')]
        r = self.pull(src, '--accounts', self.write('accounts', lines))
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('3 pulled (5 bindings)', r.stdout)
        local = self.local()
        got = self.info(local, 1, accounts)
        self.assertEqual([e['token_list'] for e in got], [e['token_list'] for e in want])
        self.skip_without_local_times(got)
        self.assertEqual(got, want)
        tokens = [n(t) for t in ('ta', 'tb', 'tc')]
        self.assertEqual(self.info(local, 2, tokens), self.info(src, 2, tokens))

    def test_a_pair_bound_on_both_keeps_the_earliest_bind_and_the_latest_confirmation(self):
        n = self.names(pbtest.uniq('rb'))
        src = self.timed_source(n)
        local = self.local()
        before = int(time.time() - 0.05)  # the server stamps with time(2), a coarse clock a tick behind
        local.bind(n('ta'), n('a'))  # now: later than the source's 1000100 and 1000500
        local.close()
        r = self.pull(src, '--tokens', self.write('tokens', [n('ta')]))
        self.assertEqual(r.returncode, 0, r)
        local = self.local()
        got = self.info(local, 2, [n('ta')])
        self.skip_without_local_times(got)
        accounts = got[0]['account_list']
        self.assertEqual([a['account'] for a in accounts], [n('a'), n('b')])
        self.assertEqual(accounts[0]['bind_time'], 1000100)
        self.assertTrue(before <= accounts[0]['last_bind_time'] <= int(time.time()), accounts[0])
        self.assertEqual(accounts[1], {'account': n('b'), 'account_type': 1, 'bind_time': 1000200,
                                       'last_bind_time': 1000200})
        self.assertEqual(got[0]['platform'], 'android')


class PullFailureTest(PullTestCase):

    def test_wrong_key_stops_with_one_line_and_writes_nothing(self):
        src = self.source()
        n = self.names(pbtest.uniq('k'))
        self.fill_source(src, n)
        accounts = self.write('accounts', [n('a'), n('c')])
        r = pbtest.run_cli('pull', '--from', 'http://127.0.0.1:%d' % src.port, '--access-id', APP[0],
                           '--secret-key', 'not-the-key-not-the-key', '--data', self.dst, '--accounts', accounts)
        self.assertEqual(r.returncode, 1, r)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn('1008003', lines[0])
        self.assertIn('SecretKey is wrong', lines[0])
        self.assertIn('clock', lines[0])
        src.stop()
        self.assertEqual(len(self.query_records()), 1)
        local = self.local()
        self.assertEqual(local.tokens_of(n('a')), [])

    def test_no_local_app_says_how_to_create_it(self):
        src = self.source()
        other = os.path.join(self.dir, 'other-%s' % pbtest.uniq('d'))
        os.mkdir(other)
        pbtest.app_add(other, pbtest.APP2[0], pbtest.APP2[1])
        accounts = self.write('accounts', ['a'])
        r = pbtest.run_cli('pull', '--from', 'http://127.0.0.1:%d' % src.port, '--access-id', APP[0],
                           '--secret-key', APP[1], '--data', other, '--accounts', accounts)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn('no app %s in the local store' % APP[0], r.stderr)
        self.assertIn('pushbind app add', r.stderr)
        self.assertEqual(self.query_records() if os.path.exists(self.log) else [], [])

    def test_bad_lines_are_reported_with_their_numbers(self):
        src = self.source('--max-account-bytes', 16)
        n = self.names(pbtest.uniq('b'))
        self.fill_source(src, n)
        long_one = 'l' * 20  # taken here, refused by the source
        accounts = self.write('accounts', [n('a'), '{"account": 5}', '', '{broken', long_one, 'x' * 129,
                                           '{"account":"q","account_type":-1}', n('c')])
        report = os.path.join(self.dir, 'report.tsv')
        r = self.pull(src, '--accounts', accounts, '--report', report)
        self.assertEqual(r.returncode, 1, r)
        rows = self.report(report)
        self.assertEqual([row[2] for row in sorted(rows, key=lambda row: int(row[0]))],
                         ['{"account": 5}', '{broken', long_one, 'x' * 129, '{"account":"q","account_type":-1}'])
        by_line = {row[0]: row[1] for row in rows}
        self.assertEqual(sorted(by_line, key=int), ['2', '4', '5', '6', '7'])
        self.assertEqual(by_line['2'], 'account is not a string')
        self.assertEqual(by_line['4'], 'not valid JSON')
        self.assertIn('item code %d' % E_PARAM, by_line['5'])
        self.assertIn('invalid account', by_line['6'])
        self.assertIn('account_type', by_line['7'])
        for number in ('2', '4', '5', '6', '7'):
            self.assertIn('line %s: ' % number, r.stderr)
        self.assertIn('2 pulled', r.stdout)
        local = self.local()
        self.assertEqual(local.tokens_of(n('c')), [n('t0')])


class PullRateTest(PullTestCase):

    def test_rate_holds_in_every_second_of_the_sources_log(self):
        src = self.source()
        accounts = self.write('accounts', ['r-%d' % i for i in range(14)])
        r = self.pull(src, '--accounts', accounts, '--batch', 1, '--rate', 4)
        self.assertEqual(r.returncode, 0, r)
        src.stop()
        records = self.query_records()
        self.assertEqual(len(records), 14)
        # Counted by arrival (the log's time is the answer's, `us` later), as a source's limit counts them.
        arrivals = [datetime.datetime.strptime(rec['time'], '%Y-%m-%dT%H:%M:%S.%fZ').timestamp() - rec['us'] / 1e6
                    for rec in records]
        per_second = collections.Counter(int(t) for t in arrivals)
        self.assertLessEqual(max(per_second.values()), 4, per_second)
        # And it went at that rate, not slower: 14 requests over more than 3 seconds, fewer than 5.
        self.assertIn(len(per_second), (4, 5), per_second)


class PullResumeTest(PullTestCase):

    def test_a_source_killed_midway_then_resume_pulls_every_line_once(self):
        src = self.source()
        n = self.names(pbtest.uniq('r'))
        names = [n('k%02d' % i) for i in range(24)]
        for i, name in enumerate(names):
            src.bind(n('tok%d' % (i % 5)), name)
        accounts = self.write('accounts', names)
        resume = os.path.join(self.dir, 'resume')
        report = os.path.join(self.dir, 'report.tsv')
        argv = [pbtest.BIN, 'pull', '--from', 'http://127.0.0.1:%d' % src.port, '--access-id', APP[0],
                '--secret-key', APP[1], '--accounts', accounts, '--batch', 2, '--rate', 5, '--resume', resume,
                '--report', report] + pbtest.store_args(self.dst)
        proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        deadline = time.time() + 20
        while time.time() < deadline and (not os.path.exists(self.log) or len(self.query_records()) < 4):
            time.sleep(0.02)
        src.stop()  # in the middle of the run; a stop writes out the log's last lines, a kill -9 would not
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1, err)
        self.assertIn(b'in a row failed', err)
        first_run = sum(rec['items'] for rec in self.query_records())
        self.assertTrue(4 <= first_run < len(names), first_run)
        self.assertTrue(self.report(report))

        os.remove(self.log)
        src.start()
        r = self.pull(src, '--accounts', accounts, '--batch', 2, '--resume', resume)
        self.assertEqual(r.returncode, 0, r)
        src.stop()
        second_run = sum(rec['items'] for rec in self.query_records())
        # None twice: the second run asks only about what the first did not finish.
        finished = set()
        with open(resume) as f:
            for line in f:
                if line[0].isdigit():
                    first, _, last = line.strip().partition('-')
                    span = set(range(int(first), int(last or first) + 1))
                    self.assertFalse(span & finished, line)
                    finished |= span
        self.assertEqual(finished, set(range(1, len(names) + 1)))
        self.assertIn('skipped (finished before)', r.stdout)
        skipped = int(r.stdout.split(' skipped')[0].rsplit(', ', 1)[1])
        self.assertEqual(skipped + second_run, len(names))
        src.start()
        local = self.local()
        for i in range(5):
            self.assertEqual(local.accounts_of(n('tok%d' % i)), src.accounts_of(n('tok%d' % i)))


TAG = '/v3/device/tag'
TAG_QUERY = '/pushbind/v1/tag/query'
NO_TAG_READS = 'the source keeps no tags it can read'


def tags_answer(srv, tokens):
    """The tag query op 1's answer on srv: (ret_code, {token: tags})."""
    status, answer = srv.post(TAG_QUERY, {'operator_type': 1, 'token_list': list(tokens)})
    assert status == 200, answer
    return answer['ret_code'], {e['token']: e['tag_list'] for e in answer.get('token_tags', [])}


class PullTagsTest(PullTestCase):
    """A pushbind source's tags come with the bindings; a source without tag reads gives bindings alone."""

    def tagged_source(self, n):
        """A pushbind on an embedded store (whatever store this run tests here) with SOURCE_OPS
        and tags: t1 two, in an order that is not byte order; t0 one; a token with tags and no account."""
        src_dir = os.path.join(self.dir, 'src-%s' % pbtest.uniq('s'))
        os.mkdir(src_dir)
        r = subprocess.run([pbtest.BIN, 'app', 'add', '--access-id', APP[0], '--secret-key', APP[1], '--data', src_dir],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r)
        src = pbtest.Server.for_test(self, apps=(), data_dir=src_dir, embedded=True,
                                     args=['--log-format', 'json', '--log-file', self.log])
        src.default_app = APP
        self.fill_source(src, n)
        for body in ({'operator_type': 3, 'tag_list': ['vip', 'level:3'], 'token_list': [n('t1')]},
                     {'operator_type': 1, 'tag_list': ['city:shenzhen'], 'token_list': [n('t0')]},
                     {'operator_type': 9, 'tag_token_list': [['vip', n('tagged')], ['beta', n('tagged')]]}):
            self.assertEqual(src.post(TAG, body), (200, {'seq': 0, 'ret_code': 0, 'err_msg': 'ok'}))
        return src

    def check_tags_arrived(self, r, local, want):
        """`want` {token: tags} is here, every store keeping tags, and the pull `r` counted them."""
        self.assertEqual(tags_answer(local, want), (0, want))
        self.assertIn('; %d tags;' % sum(len(t) for t in want.values()), r.stdout)
        self.assertNotIn('without tags', r.stderr)

    def test_by_token_tags_arrive_in_their_order_and_a_token_without_accounts_brings_its_own(self):
        n = self.names(pbtest.uniq('g'))
        src = self.tagged_source(n)
        tokens = self.write('tokens', [n(t) for t in TOKENS] + [n('tagged')])
        r = self.pull(src, '--tokens', tokens, '--batch', 2)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('4 pulled (6 bindings), 1 empty on the source', r.stdout)
        self.assertNotIn(NO_TAG_READS, r.stderr)
        want = {n('t0'): ['city:shenzhen'], n('t1'): ['vip', 'level:3'], n('t2'): [], n('t3'): [],
                n('tagged'): ['vip', 'beta']}
        local = self.local()
        self.check_tags_arrived(r, local, want)
        self.assertEqual(local.accounts_of(n('t1')), src.accounts_of(n('t1')))
        src.stop()
        with open(self.log) as f:
            asked = [rec['items'] for rec in map(json.loads, f) if rec['endpoint'] == 'tag_query']
        # Batches of 2 lines: 2, 2 and 1 tokens.
        self.assertEqual(sorted(asked), [1, 2, 2])

    def test_by_account_the_tags_of_the_tokens_pulled_arrive_and_a_rerun_changes_nothing(self):
        n = self.names(pbtest.uniq('g'))
        src = self.tagged_source(n)
        accounts = self.write('accounts', [account_line(n(a), t) for a, t in ACCOUNTS])
        for _ in range(2):
            r = self.pull(src, '--accounts', accounts)
            self.assertEqual(r.returncode, 0, r)
        self.check_tags_arrived(r, self.local(), {n('t0'): ['city:shenzhen'], n('t1'): ['vip', 'level:3'],
                                                  n('t2'): [], n('t3'): []})

    def test_a_token_over_the_local_tag_limit_fails_its_line_alone(self):
        n = self.names(pbtest.uniq('g'))
        src = self.tagged_source(n)
        local = self.local()
        local.stop()
        tokens = self.write('tokens', [n('t1'), n('t0')])
        report = os.path.join(self.dir, 'report.tsv')
        r = self.pull(src, '--tokens', tokens, '--max-tags-per-token', '1', '--report', report)
        self.assertEqual(r.returncode, 1, r)
        self.assertEqual(self.report(report), [['1', 'its tags are over a local limit (--max-tags-per-token)',
                                                n('t1')]])
        local.start()
        self.assertEqual(tags_answer(local, [n('t1'), n('t0')])[1], {n('t1'): [], n('t0'): ['city:shenzhen']})
        self.assertEqual(local.accounts_of(n('t1')), src.accounts_of(n('t1')))  # its bindings stay


class TpnsLikeSource(http.server.ThreadingHTTPServer):
    """A source with the account query only, as TPNS: every token of `bindings` {token: [account]} answered by
    token; any other path gets `other` (status, body)."""

    def __init__(self, bindings, other):
        self.bindings, self.other, self.paths = bindings, other, []
        super().__init__(('127.0.0.1', 0), TpnsLikeHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class TpnsLikeHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers['Content-Length'])))
        self.server.paths.append(self.path)
        if self.path == '/v3/device/account/query':
            tokens = body['token_list']
            answer = {'retCode': 0, 'errMsg': 'ok', 'result': ['0' if self.server.bindings.get(t) else '10110008'
                                                                for t in tokens],
                      'token_accounts': [{'token': t, 'account_list': [{'account': a}
                                                                       for a in self.server.bindings.get(t, [])]}
                                         for t in tokens]}
            status, raw = 200, json.dumps(answer).encode()
        else:
            status, raw = self.server.other
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


class PullWithoutTagReadsTest(PullTestCase):

    def check(self, other):
        source = TpnsLikeSource({'tp-1': ['a', 'b'], 'tp-2': ['c'], 'tp-3': ['a']}, other)
        self.addCleanup(source.server_close)
        self.addCleanup(source.shutdown)
        tokens = self.write('tokens', ['tp-1', 'tp-2', 'tp-3', 'tp-none'])
        r = pbtest.run_cli('pull', '--from', 'http://127.0.0.1:%d' % source.server_address[1], '--access-id', APP[0],
                           '--secret-key', APP[1], '--data', self.dst, '--tokens', tokens, '--batch', 1,
                           '--rate', 1000, timeout=60)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('3 pulled (4 bindings), 1 empty on the source', r.stdout)
        self.assertEqual(source.paths.count('/v3/device/account/query'), 4)
        local = self.local()
        self.assertEqual(r.stderr.count(NO_TAG_READS), 1, r.stderr)  # said once, asked once
        self.assertEqual(source.paths.count(TAG_QUERY), 1, source.paths)
        self.assertEqual(local.accounts_of('tp-1'), [{'account': 'a'}, {'account': 'b'}])
        self.assertEqual(local.accounts_of('tp-3'), [{'account': 'a'}])
        return r.stderr

    def test_a_404_for_the_tag_path_leaves_the_accounts_coming(self):
        self.assertIn('HTTP 404', self.check((404, b'{"message":"not found"}')))

    def test_a_tpns_error_for_the_tag_path_leaves_the_accounts_coming(self):
        self.assertIn('1008001', self.check((200, b'{"retCode":1008001,"errMsg":"unknown path"}')))

    def test_an_older_pushbind_refusing_tags_leaves_the_accounts_coming(self):
        refused = b'{"ret_code":1008004,"err_msg":"tags are not supported on this store"}'
        self.assertIn('tags are not supported', self.check((200, refused)))


class PullTlsTest(PullTestCase):

    def test_an_https_source_with_its_ca(self):
        from test_tls import make_self_signed
        cert, key = make_self_signed(self.dir)
        src = self.source()
        n = self.names(pbtest.uniq('s'))
        self.fill_source(src, n)
        src.restart(args=['--tls-cert', cert, '--tls-key', key])
        accounts = self.write('accounts', [n('a')])
        r = pbtest.run_cli('pull', '--from', 'https://127.0.0.1:%d' % src.port, '--access-id', APP[0],
                           '--secret-key', APP[1], '--data', self.dst, '--accounts', accounts, '--cacert', cert)
        self.assertEqual(r.returncode, 0, r)
        self.assertIn('1 pulled (3 bindings)', r.stdout)


if __name__ == '__main__':
    unittest.main()
