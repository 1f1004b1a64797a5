"""Tags: POST /v3/device/tag (ops 1-10), /v3/device/tag/delete_all_device and
/pushbind/v1/tag/query (ops 1-4). Every op, op 6's category rule, both pair
spellings, the limits at and past their edges, whole-or-nothing, a page read
while the tag changes, durability, and the published clients' byte shapes.

Tags live in every store (embedded, Redis, Redis Cluster, PostgreSQL): the
suite runs on each."""

import json
import subprocess
import threading
import unittest

import pbtest
from pbtest import APP, E_MISSING, E_PARAM, E_PARSE, E_TOKEN, uniq

TAG = '/v3/device/tag'
DELETE_ALL = '/v3/device/tag/delete_all_device'
TAG_QUERY = '/pushbind/v1/tag/query'


OK_ANSWER = {'seq': 0, 'ret_code': 0, 'err_msg': 'ok'}


def tag(srv, body, **kw):
    status, answer = srv.post(TAG, body, **kw)
    assert status == 200, (status, answer)
    return answer


def ok(srv, body, **kw):
    answer = tag(srv, body, **kw)
    if answer != dict(OK_ANSWER, seq=body.get('seq', 0) if isinstance(body, dict) else 0):
        raise AssertionError('%r\n answered %r' % (body, answer))


def tags_of(srv, *tokens):
    status, answer = srv.post(TAG_QUERY, {'operator_type': 1, 'token_list': list(tokens)})
    assert status == 200 and answer['ret_code'] == 0, answer
    lists = [e['tag_list'] for e in answer['token_tags']]
    assert [e['token'] for e in answer['token_tags']] == list(tokens)
    return lists[0] if len(tokens) == 1 else lists


def tokens_of(srv, name, limit=None):
    """Every token of tag `name`, page by page."""
    out, cursor = [], None
    while True:
        body = {'operator_type': 2, 'tag': name}
        if limit is not None:
            body['limit'] = limit
        if cursor is not None:
            body['cursor'] = cursor
        status, answer = srv.post(TAG_QUERY, body)
        assert status == 200 and answer['ret_code'] == 0, answer
        out += answer['token_list']
        cursor = answer.get('next_cursor')
        if cursor is None:
            return out


def counts(srv, *names):
    status, answer = srv.post(TAG_QUERY, {'operator_type': 3, 'tag_list': list(names)})
    assert status == 200 and answer['ret_code'] == 0, answer
    return [c['count'] for c in answer['tag_counts']]


class TagOpsTest(pbtest.ServerTestCase):
    def test_ops_1_to_5_on_one_token(self):
        t = uniq('tok')
        ok(self.srv, {'operator_type': 1, 'tag_list': ['vip', 'ignored'], 'token_list': [t, 'ignored-too']})
        self.assertEqual(tags_of(self.srv, t), ['vip'])
        ok(self.srv, {'operator_type': 3, 'tag_list': ['level:1', 'city:shenzhen', 'vip'], 'token_list': [t]})
        self.assertEqual(tags_of(self.srv, t), ['vip', 'level:1', 'city:shenzhen'])  # the order they were added
        ok(self.srv, {'operator_type': 2, 'tag_list': ['level:1', 'city:shenzhen'], 'token_list': [t]})
        self.assertEqual(tags_of(self.srv, t), ['vip', 'city:shenzhen'])
        ok(self.srv, {'operator_type': 4, 'tag_list': ['vip', 'never-had'], 'token_list': [t]})
        self.assertEqual(tags_of(self.srv, t), ['city:shenzhen'])
        ok(self.srv, {'operator_type': 3, 'tag_list': ['a', 'b'], 'token_list': [t]})
        ok(self.srv, {'operator_type': 5, 'token_list': [t]})
        self.assertEqual(tags_of(self.srv, t), [])

    def test_re_adding_a_tag_does_not_move_it(self):
        t = uniq('tok')
        ok(self.srv, {'operator_type': 3, 'tag_list': ['a', 'b', 'c'], 'token_list': [t]})
        ok(self.srv, {'operator_type': 1, 'tag_list': ['a'], 'token_list': [t]})
        self.assertEqual(tags_of(self.srv, t), ['a', 'b', 'c'])

    def test_op_6_category_rule(self):
        t = uniq('tok')
        ok(self.srv, {'operator_type': 3, 'tag_list': ['vip', 'level:1', 'level:2', 'city:sz'], 'token_list': [t]})
        # Every tag has a ':': only the categories named are replaced.
        ok(self.srv, {'operator_type': 6, 'tag_list': ['level:3'], 'token_list': [t]})
        self.assertEqual(tags_of(self.srv, t), ['vip', 'city:sz', 'level:3'])
        ok(self.srv, {'operator_type': 6, 'tag_list': ['level:3', 'city:gz'], 'token_list': [t]})
        self.assertEqual(tags_of(self.srv, t), ['vip', 'level:3', 'city:gz'])
        # One tag without ':': all of the token's tags are replaced.
        ok(self.srv, {'operator_type': 6, 'tag_list': ['level:4', 'gold'], 'token_list': [t]})
        self.assertEqual(tags_of(self.srv, t), ['level:4', 'gold'])

    def test_ops_7_and_8_one_tag_several_tokens(self):
        name, toks = uniq('tag'), [uniq('tok') for _ in range(3)]
        ok(self.srv, {'operator_type': 7, 'tag_list': [name, 'ignored'], 'token_list': toks})
        self.assertEqual(tokens_of(self.srv, name), toks)
        ok(self.srv, {'operator_type': 8, 'tag_list': [name], 'token_list': toks[:2]})
        self.assertEqual(tokens_of(self.srv, name), toks[2:])
        self.assertEqual(tags_of(self.srv, toks[0]), [])

    def test_ops_9_and_10_pairs_in_both_spellings(self):
        a, b = uniq('tok'), uniq('tok')
        ok(self.srv, {'operator_type': 9, 'tag_token_list': [{'tag': 'vip', 'token': a}, ['vip', b], ['new', a]]})
        self.assertEqual(tags_of(self.srv, a, b), [['vip', 'new'], ['vip']])
        ok(self.srv, {'operator_type': 10, 'tag_token_list': [['vip', a], {'token': b, 'tag': 'vip'}]})
        self.assertEqual(tags_of(self.srv, a, b), [['new'], []])

    def test_platform_is_the_tokens_as_on_account_binds(self):
        t = uniq('tok')
        self.srv.ok_batch({'operator_type': 1, 'platform': 'android',
                           'token_accounts': [{'token': t, 'account_list': [{'account': 'pat'}]}]})
        ok(self.srv, {'operator_type': 7, 'tag_list': ['p'], 'token_list': [t, uniq('untagged')], 'platform': 'IOS'})
        status, got = self.srv.query({'operator_type': 2, 'token_list': [t], 'with_info': True})
        self.assertEqual(got['token_accounts'][0]['platform'], 'ios')
        ok(self.srv, {'operator_type': 2, 'tag_list': ['p'], 'token_list': [t]})  # no platform: left as it was
        status, got = self.srv.query({'operator_type': 2, 'token_list': [t], 'with_info': True})
        self.assertEqual(got['token_accounts'][0]['platform'], 'ios')

    def test_seq_is_echoed_and_zero_when_absent(self):
        t = uniq('tok')
        self.assertEqual(tag(self.srv, {'operator_type': 1, 'tag_list': ['x'], 'token_list': [t], 'seq': 42}),
                         {'seq': 42, 'ret_code': 0, 'err_msg': 'ok'})
        self.assertEqual(tag(self.srv, {'operator_type': 1, 'tag_list': ['x'], 'token_list': [t]}), OK_ANSWER)
        # Echoed on a refusal too.
        self.assertEqual(tag(self.srv, {'operator_type': 1, 'token_list': [t], 'seq': 9})['seq'], 9)

    def test_request_level_refusals_name_the_rule(self):
        t = uniq('tok')
        cases = [
            ({'tag_list': ['x'], 'token_list': [t]}, E_MISSING, 'operator_type is missing'),
            ({'operator_type': 11, 'tag_list': ['x'], 'token_list': [t]}, E_PARAM, 'operator_type is not 1-10'),
            ({'operator_type': 1, 'tag_list': [], 'token_list': [t]}, E_MISSING, 'tag_list is missing or empty'),
            ({'operator_type': 7, 'tag_list': ['x']}, E_MISSING, 'token_list is missing or empty'),
            ({'operator_type': 9, 'tag_token_list': [['x', t], ['x']]}, E_PARAM, 'tag_token_list[1]'),
            ({'operator_type': 9, 'tag_token_list': [['x', t], {'tag': 'x'}]}, E_PARAM, 'tag_token_list[1]'),
            ({'operator_type': 9, 'tag_token_list': [['x', 'bad token']]}, E_TOKEN, 'tag_token_list[0]'),
            ({'operator_type': 7, 'tag_list': ['x'], 'token_list': [t, 'bad token']}, E_TOKEN, 'token_list[1]'),
            ({'operator_type': 3, 'tag_list': ['ok', ' lead'], 'token_list': [t]}, E_PARAM, 'tag_list[1]'),
            # Only [0] is used, but the rest must still be strings.
            ({'operator_type': 1, 'tag_list': ['x', 5], 'token_list': [t]}, E_PARAM, 'tag_list[1]'),
            ({'operator_type': 1, 'tag_list': ['x'], 'token_list': [t], 'platform': 'windows'}, E_PARAM, 'platform'),
        ]
        for body, code, words in cases:
            answer = tag(self.srv, body)
            self.assertEqual(answer['ret_code'], code, (body, answer))
            self.assertIn(words, answer['err_msg'], (body, answer))
        self.assertEqual(tags_of(self.srv, t), [])

    def test_tag_text_rules_at_and_past_their_edges(self):
        t = uniq('tok')
        good = ['x', 'é' * 50, '城市:深圳', 'a b', 'level:3']
        bad = ['', 'é' * 51, 'x' * 51, ' x', 'x ', 'a\tb', 'a\x7fb', 'a\u0085b']
        for name in good:
            ok(self.srv, {'operator_type': 1, 'tag_list': [name], 'token_list': [t]})
        for name in bad:
            answer = tag(self.srv, {'operator_type': 1, 'tag_list': [name], 'token_list': [t]})
            self.assertEqual(answer['ret_code'], E_PARAM, (name, answer))
        self.assertEqual(tags_of(self.srv, t), good)

    def test_500_items_at_most(self):
        name = uniq('tag')
        toks = [uniq('t') for _ in range(501)]
        answer = tag(self.srv, {'operator_type': 7, 'tag_list': [name], 'token_list': toks})
        self.assertEqual(answer['ret_code'], E_PARAM)
        self.assertIn('the limit is 500', answer['err_msg'])
        ok(self.srv, {'operator_type': 7, 'tag_list': [name], 'token_list': toks[:500]})
        self.assertEqual(counts(self.srv, name), [500])
        pairs = [[uniq('tg'), toks[0]] for _ in range(501)]
        self.assertEqual(tag(self.srv, {'operator_type': 9, 'tag_token_list': pairs})['ret_code'], E_PARAM)

    def test_100_tags_per_token_and_whole_or_nothing(self):
        t, other = uniq('tok'), uniq('tok')
        ok(self.srv, {'operator_type': 3, 'tag_list': ['n%d' % i for i in range(99)], 'token_list': [t]})
        ok(self.srv, {'operator_type': 1, 'tag_list': ['n99'], 'token_list': [t]})  # the 100th
        ok(self.srv, {'operator_type': 1, 'tag_list': ['n0'], 'token_list': [t]})   # already there: no new one
        answer = tag(self.srv, {'operator_type': 9, 'tag_token_list': [['p', other], ['p', t], ['q', other]]})
        self.assertEqual(answer['ret_code'], E_PARAM)
        self.assertIn('tag_token_list[1]', answer['err_msg'])
        self.assertIn('100 tags (max-tags-per-token)', answer['err_msg'])
        # Nothing of it is there: not the pair before the one over the limit either.
        self.assertEqual(tags_of(self.srv, other), [])
        self.assertEqual(counts(self.srv, 'p'), [0])
        self.assertEqual(len(tags_of(self.srv, t)), 100)
        answer = tag(self.srv, {'operator_type': 7, 'tag_list': ['r'], 'token_list': [other, t]})
        self.assertIn('token_list[1]', answer['err_msg'])
        self.assertEqual(tags_of(self.srv, other), [])
        # op 6 counts the end state: replacing all 100 with 100 others fits.
        ok(self.srv, {'operator_type': 6, 'tag_list': ['m%d' % i for i in range(100)], 'token_list': [t]})
        self.assertEqual(tags_of(self.srv, t), ['m%d' % i for i in range(100)])

    def test_a_page_read_while_the_tag_changes(self):
        name = uniq('tag')
        stable = [uniq('stable') for _ in range(400)]
        churn = [uniq('churn') for _ in range(200)]
        for i in range(0, 400, 100):
            ok(self.srv, {'operator_type': 7, 'tag_list': [name], 'token_list': stable[i:i + 100]})
        stop = threading.Event()

        def change():
            conn = self.srv.new_connection()
            i = 0
            while not stop.is_set():
                batch = churn[(i * 20) % 200:(i * 20) % 200 + 20]
                data = json.dumps({'operator_type': 7 + i % 2, 'tag_list': [name], 'token_list': batch}).encode()
                conn.request('POST', TAG, data, pbtest.auth_headers('basic', APP, data))
                answer = json.loads(conn.getresponse().read())
                assert answer['ret_code'] == 0, answer
                i += 1
            conn.close()

        thread = threading.Thread(target=change)
        thread.start()
        try:
            seen = tokens_of(self.srv, name, limit=7)
        finally:
            stop.set()
            thread.join()
        got = [t for t in seen if t.startswith('stable')]
        self.assertEqual(got, stable)  # each exactly once, in the order they got the tag
        self.assertEqual(len(seen), len(set(seen)))

    def test_counts_and_the_apps_tags_by_page(self):
        srv = pbtest.Server.for_test(self, apps=[pbtest.APP2])
        toks = [uniq('tok') for _ in range(3)]
        ok(srv, {'operator_type': 7, 'tag_list': ['b'], 'token_list': toks})
        ok(srv, {'operator_type': 7, 'tag_list': ['a'], 'token_list': toks[:1]})
        ok(srv, {'operator_type': 7, 'tag_list': ['c:1'], 'token_list': toks[:2]})
        self.assertEqual(counts(srv, 'a', 'b', 'c:1', 'none'), [1, 3, 2, 0])
        pages, cursor = [], None
        while True:
            body = {'operator_type': 4, 'limit': 2}
            if cursor:
                body['cursor'] = cursor
            status, answer = srv.post(TAG_QUERY, body)
            pages.append(answer['tags'])
            cursor = answer.get('next_cursor')
            if cursor is None:
                break
        self.assertEqual(pages, [[{'tag': 'a', 'count': 1}, {'tag': 'b', 'count': 3}], [{'tag': 'c:1', 'count': 2}]])

    def test_query_refusals(self):
        for body, code in [({'operator_type': 5}, E_PARAM), ({'operator_type': 2}, E_MISSING),
                           ({'operator_type': 2, 'tag': 'x', 'limit': 10001}, E_PARAM),
                           ({'operator_type': 2, 'tag': 'x', 'limit': 0}, E_PARAM),
                           ({'operator_type': 2, 'tag': 'x', 'cursor': 'abc'}, E_PARAM),
                           # Op 4's cursor is a tag: no control character, valid UTF-8, on every store.
                           ({'operator_type': 4, 'cursor': 'a\x00b'}, E_PARAM),
                           ({'operator_type': 4, 'cursor': 'a\x01'}, E_PARAM),
                           ({'operator_type': 4, 'cursor': '\x85'}, E_PARAM),
                           (b'{"operator_type": 4, "cursor": "a\xff"}', E_PARSE),  # the JSON itself is bad
                           ('{"operator_type": 4, "cursor": "\\ud800"}', E_PARSE),
                           ({'operator_type': 4, 'cursor': 7}, E_PARAM),
                           ({'operator_type': 1, 'token_list': ['t'] * 1001}, E_PARAM),
                           ({'operator_type': 3, 'tag_list': []}, E_MISSING)]:
            status, answer = self.srv.post(TAG_QUERY, body)
            self.assertEqual(answer['ret_code'], code, (body, answer))
        status, answer = self.srv.post(TAG_QUERY, {'operator_type': 2, 'tag': 'x', 'limit': 10000})
        self.assertEqual(answer, {'ret_code': 0, 'err_msg': 'ok', 'token_list': []})
        # A tag longer than today's --max-tag-chars may have been made before it was lowered.
        status, answer = self.srv.post(TAG_QUERY, {'operator_type': 4, 'cursor': '\uffff' * 60})
        self.assertEqual((answer['ret_code'], answer['tags']), (0, []))


class DeleteAllTest(unittest.TestCase):
    def test_gone_at_once_and_made_again_from_nothing(self):
        srv = pbtest.Server.for_test(self, args=['--max-tags-per-token', '2'])
        name, toks = uniq('tag'), [uniq('tok') for _ in range(1200)]
        for i in range(0, 1200, 500):
            ok(srv, {'operator_type': 7, 'tag_list': [name], 'token_list': toks[i:i + 500]})
        ok(srv, {'operator_type': 1, 'tag_list': ['keep'], 'token_list': [toks[0]]})
        self.assertEqual(srv.post(DELETE_ALL, {'tag_list': [name, 'never-was'], 'seq': 3}),
                         (200, {'seq': 3, 'ret_code': 0, 'err_msg': 'ok'}))
        self.assertEqual(tokens_of(srv, name), [])
        self.assertEqual(counts(srv, name), [0])
        self.assertEqual(tags_of(srv, toks[0]), ['keep'])
        # The dead pair does not count against the token's limit of 2.
        ok(srv, {'operator_type': 1, 'tag_list': ['other'], 'token_list': [toks[0]]})
        # Made again: only the tokens that get it now.
        ok(srv, {'operator_type': 7, 'tag_list': [name], 'token_list': toks[5:7]})
        self.assertEqual(tokens_of(srv, name), toks[5:7])
        self.assertEqual(tags_of(srv, toks[5]), [name])
        srv.restart()
        self.assertEqual(tokens_of(srv, name), toks[5:7])
        self.assertEqual(tags_of(srv, toks[0]), ['keep', 'other'])

    def test_refusals(self):
        srv = pbtest.Server.for_test(self)
        self.assertEqual(srv.post(DELETE_ALL, {'tag_list': []})[1]['ret_code'], E_MISSING)
        self.assertEqual(srv.post(DELETE_ALL, {'tag_list': ['ok', 'x' * 51]})[1]['ret_code'], E_PARAM)
        self.assertEqual(srv.post(DELETE_ALL, {'tag_list': ['t%d' % i for i in range(501)]})[1]['ret_code'],
                         E_PARAM)


class TagLimitsTest(unittest.TestCase):
    def test_distinct_tags_per_app_and_the_flags(self):
        srv = pbtest.Server.for_test(self, args=['--max-tags-per-app', '3', '--max-tag-items', '4',
                                                 '--max-tag-chars', '5'])
        t = uniq('tok')
        ok(srv, {'operator_type': 3, 'tag_list': ['a', 'b', 'c'], 'token_list': [t]})
        answer = tag(srv, {'operator_type': 9, 'tag_token_list': [['a', 'x1'], ['d', 'x1']]})
        self.assertEqual(answer['ret_code'], E_PARAM)
        self.assertIn('tag_token_list[1]', answer['err_msg'])
        self.assertIn('at most 3 distinct tags (max-tags-per-app)', answer['err_msg'])
        self.assertEqual(tags_of(srv, 'x1'), [])  # whole or nothing
        # A tag whose last token leaves is no longer counted.
        ok(srv, {'operator_type': 2, 'tag_list': ['c'], 'token_list': [t]})
        ok(srv, {'operator_type': 1, 'tag_list': ['d'], 'token_list': [t]})
        self.assertIn('the limit is 4', tag(srv, {'operator_type': 7, 'tag_list': ['a'],
                                                  'token_list': ['1', '2', '3', '4', '5']})['err_msg'])
        ok(srv, {'operator_type': 2, 'tag_list': ['abcde'], 'token_list': [t]})  # 5 characters: a valid tag
        self.assertEqual(tag(srv, {'operator_type': 1, 'tag_list': ['abcdef'], 'token_list': [t]})['ret_code'],
                         E_PARAM)


class DurableTagsTest(unittest.TestCase):
    def test_every_acknowledged_tag_change_survives_kill_9(self):
        srv = pbtest.Server.for_test(self)
        t = uniq('tok')
        ok(srv, {'operator_type': 3, 'tag_list': ['a', 'b', 'c'], 'token_list': [t]})
        ok(srv, {'operator_type': 2, 'tag_list': ['b'], 'token_list': [t]})
        srv.kill()
        srv.start()
        self.assertEqual(tags_of(srv, t), ['a', 'c'])


@unittest.skipIf(pbtest.STORE_KIND in ('redis', 'cluster'), 'import and export: the embedded store and PostgreSQL')
class ExportImportTest(unittest.TestCase):
    def run_cli(self, *args, stdin=None):
        return subprocess.run([pbtest.BIN] + list(args), input=stdin, capture_output=True, text=True, timeout=60)

    def test_export_writes_tag_lines_and_import_reads_them_back(self):
        srv = pbtest.Server.for_test(self)
        a, b = uniq('tok'), uniq('tok')
        srv.bind(a, 'alice')
        ok(srv, {'operator_type': 3, 'tag_list': ['vip', 'level:3'], 'token_list': [a]})
        ok(srv, {'operator_type': 9, 'tag_token_list': [['vip', b], ['gone', b]]})
        self.assertEqual(srv.post(DELETE_ALL, {'tag_list': ['gone']})[1]['ret_code'], 0)
        r = self.run_cli('export', *pbtest.store_args(srv.data_dir), '--access-id', APP[0])
        self.assertEqual(r.returncode, 0, r)
        lines = [json.loads(x) for x in r.stdout.splitlines()]
        self.assertEqual([x for x in lines if 'tag' in x],
                         sorted([{'token': a, 'tag': 'vip'}, {'token': a, 'tag': 'level:3'}, {'token': b, 'tag': 'vip'}],
                                key=lambda x: x['token']))
        self.assertIn('1 bindings, 3 tags', r.stderr)
        data = pbtest.new_temp_dir(self.addCleanup)
        pbtest.app_add(data, APP[0], APP[1])
        extra = '{"token":"%s","tag":" bad"}\n{"token":"%s","tag":"x","account":"y"}\n' % (b, b)
        r = self.run_cli('import', *pbtest.store_args(data), '--access-id', APP[0], '-', stdin=r.stdout + extra)
        self.assertEqual(r.returncode, 1, r)  # lines were rejected
        self.assertIn('4 bound, 0 already present, 2 rejected', r.stdout)
        self.assertIn('invalid tag', r.stderr)
        self.assertIn('an account and a tag', r.stderr)
        copy = pbtest.Server.for_test(self, apps=[], data_dir=data)
        copy.default_app = APP
        self.assertEqual(tags_of(copy, a, b), [['vip', 'level:3'], ['vip']])
        self.assertEqual(copy.accounts_of(a), [{'account': 'alice'}])

    def test_a_tag_line_over_the_token_limit_is_refused_alone(self):
        data = pbtest.new_temp_dir(self.addCleanup)
        pbtest.app_add(data, APP[0], APP[1])
        text = ''.join('{"token":"t","tag":"g%d"}\n' % i for i in range(101)) + '{"token":"u","tag":"g0"}\n'
        r = self.run_cli('import', *pbtest.store_args(data), '--access-id', APP[0], '-', stdin=text)
        self.assertEqual(r.returncode, 1, r)  # a line was rejected
        self.assertIn('101 bound, 0 already present, 1 rejected', r.stdout)
        self.assertIn('line 101: the token already has --max-tags-per-token tags', r.stderr)

    def test_import_takes_serves_tag_limit_flags(self):
        data = pbtest.new_temp_dir(self.addCleanup)
        pbtest.app_add(data, APP[0], APP[1])
        text = ('{"token":"t","tag":"a"}\n{"token":"t","tag":"b"}\n{"token":"t","tag":"c"}\n'
                '{"token":"u","tag":"d"}\n{"token":"u","tag":"e"}\n{"token":"u","tag":"abcdef"}\n')
        r = self.run_cli('import', *pbtest.store_args(data), '--access-id', APP[0], '--max-tags-per-token', '2',
                         '--max-tags-per-app', '3', '--max-tag-chars', '5', '-', stdin=text)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn('3 bound, 0 already present, 3 rejected', r.stdout)
        self.assertIn('line 3: the token already has --max-tags-per-token tags', r.stderr)
        self.assertIn('line 5: the app already has --max-tags-per-app tags', r.stderr)
        self.assertIn('line 6: invalid tag', r.stderr)
        copy = pbtest.Server.for_test(self, apps=[], data_dir=data)
        copy.default_app = APP
        self.assertEqual(tags_of(copy, 't', 'u'), [['a', 'b'], ['d']])
        r = self.run_cli('import', '--help')
        for flag in ('--max-tags-per-token', '--max-tags-per-app', '--max-tag-chars'):
            self.assertIn(flag, r.stdout)


class ReadKeyTest(unittest.TestCase):
    def test_a_read_key_reads_tags_but_cannot_change_them(self):
        srv = pbtest.Server.for_test(self)
        t = uniq('tok')
        ok(srv, {'operator_type': 1, 'tag_list': ['vip'], 'token_list': [t]})
        r = pbtest.run_cli('key', 'add', '--data', srv.data_dir, '--access-id', APP[0], '--name', 'support',
                           '--role', 'read')
        self.assertEqual(r.returncode, 0, r)
        reader = (APP[0], r.stdout.rstrip('\n').split('\n')[-1])
        for auth in ('basic', 'sign'):
            status, answer = srv.post(TAG_QUERY, {'operator_type': 1, 'token_list': [t]}, app=reader, auth=auth)
            self.assertEqual((status, answer['token_tags']), (200, [{'token': t, 'tag_list': ['vip']}]))
            self.assertEqual(srv.post(TAG_QUERY, {'operator_type': 2, 'tag': 'vip'}, app=reader, auth=auth)[1]['token_list'],
                             [t])
            refused = tag(srv, {'operator_type': 5, 'token_list': [t]}, app=reader, auth=auth)
            self.assertEqual(refused['ret_code'], pbtest.E_AUTH, refused)
            self.assertEqual(srv.post(DELETE_ALL, {'tag_list': ['vip']}, app=reader, auth=auth)[1]['ret_code'],
                             pbtest.E_AUTH)
        self.assertEqual(tags_of(srv, t), ['vip'])


class PublishedClientsTest(pbtest.ServerTestCase):
    def test_php_client_set_tag_with_its_content_type_and_documented_signature(self):
        t = uniq('tok')
        body = ('{"operator_type":1,"tag_list":["vip"],"token_list":["%s"]}' % t).encode()
        status, answer = self.srv.post(TAG, body, auth='sign', content_type="application/json;charset='utf-8'")
        self.assertEqual((status, answer), (200, OK_ANSWER))
        body = ('{"operator_type":2,"tag_list":["vip"],"token_list":["%s"]}' % t).encode()
        self.assertEqual(self.srv.post(TAG, body, auth='sign', content_type="application/json;charset='utf-8'"),
                         (200, OK_ANSWER))
        self.assertEqual(tags_of(self.srv, t), [])

    def test_php_client_delete_tag_calls_delete_all_device(self):
        t = uniq('tok')
        ok(self.srv, {'operator_type': 3, 'tag_list': ['php-gone', 'kept'], 'token_list': [t]})
        status, answer = self.srv.post(DELETE_ALL, b'{"tag_list":["php-gone"]}', auth='sign',
                                       content_type="application/json;charset='utf-8'")
        self.assertEqual((status, answer), (200, OK_ANSWER))
        self.assertEqual(tags_of(self.srv, t), ['kept'])

    def test_jackson_era_java_sdk_pairs_as_objects_with_operator_fields(self):
        t = uniq('tok')
        body = ('{"operator_type":9,"platform":"android","tag_token_list":[{"tag":"vip","token":"%s"}],"seq":0,'
                '"op_type":"qq","op_id":"ops-1"}' % t).encode()
        self.assertEqual(self.srv.post(TAG, body, auth='basic', content_type=None), (200, OK_ANSWER))
        self.assertEqual(tags_of(self.srv, t), ['vip'])

    def test_java_sdk_device_tag_with_basic_auth(self):
        t = uniq('tok')
        body = ('{"operator_type":1,"platform":"android","seq":0,"tag_list":["level:3"],"token_list":["%s"],'
                '"tag_token_list":null}' % t).encode()
        status, answer = self.srv.post(TAG, body, auth='basic')
        self.assertEqual((status, answer), (200, {'seq': 0, 'ret_code': 0, 'err_msg': 'ok'}))
        self.assertEqual(tags_of(self.srv, t), ['level:3'])

    def test_xg_era_pairs(self):
        t = uniq('tok')
        body = ('{"operator_type":9,"tag_token_list":[["city:shenzhen","%s"]]}' % t).encode()
        self.assertEqual(self.srv.post(TAG, body, auth='sign-reversed'), (200, OK_ANSWER))
        self.assertEqual(tags_of(self.srv, t), ['city:shenzhen'])
        body = ('{"operator_type":"10","tag_token_list":[["city:shenzhen","%s"]]}' % t).encode()
        self.assertEqual(self.srv.post(TAG, body), (200, OK_ANSWER))
        self.assertEqual(tags_of(self.srv, t), [])


if __name__ == '__main__':
    unittest.main()
