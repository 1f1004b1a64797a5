"""POST /pushbind/v1/account/find: a name found under every account type the
app uses, in one request, with its tokens' times and platforms; the limit on
names × types; a read key may call it. Runs on every store; on Redis also a
store whose bindings were written before the app's types were recorded."""

import subprocess
import time
import unittest

import pbtest
from pbtest import APP, APP2, E_AUTH, E_MISSING, E_NO_BINDING, E_PARAM, E_PARSE, E_PARTIAL, E_TOTAL, run_cli, uniq
from test_keys import key_add

FIND = '/pushbind/v1/account/find'


def names(*items):
    return {'account_list': [{'account': n} for n in items]}


def tokens_by_type(entry):
    """{type: [token, …]} of one `found` entry."""
    return {a.get('account_type', 0): a['token_list'] for a in entry['account_tokens']}


class AccountFindTest(unittest.TestCase):
    def setUp(self):
        self.srv = pbtest.Server.for_test(self, apps=[APP, APP2], args=['--max-query-items', '12'])

    def find(self, body, **kw):
        status, answer = self.srv.post(FIND, body, **kw)
        self.assertEqual(status, 200, answer)
        return answer

    def test_a_name_is_found_under_every_type_it_is_bound_under(self):
        name, other = uniq('bob@example.com'), uniq('alice')
        phone, mail, plain = uniq('tok'), uniq('tok'), uniq('tok')
        self.srv.ok_batch({'operator_type': 1, 'platform': 'ios',
                           'token_accounts': [{'token': phone, 'account_list': [{'account': name,
                                                                                 'account_type': 1002}]}]})
        self.srv.bind(mail, (name, 1005))
        self.srv.bind(plain, name, (other, 7))
        nobody = uniq('nobody')
        answer = self.find(names(name, nobody, other))
        self.assertEqual((answer['ret_code'], answer['err_msg']), (E_PARTIAL, 'batch op, partly error'))
        self.assertEqual(answer['result'], ['0', str(E_NO_BINDING), '0'])
        self.assertEqual(answer['account_types'], [0, 7, 1002, 1005])
        found = answer['found']
        self.assertEqual([f['account'] for f in found], [name, nobody, other])
        self.assertEqual(tokens_by_type(found[0]), {0: [plain], 1002: [phone], 1005: [mail]})
        self.assertEqual([a.get('account_type', 0) for a in found[0]['account_tokens']], [0, 1002, 1005])
        self.assertEqual(found[1], {'account': nobody, 'account_tokens': []})
        self.assertEqual(tokens_by_type(found[2]), {7: [plain]})
        info = found[0]['account_tokens'][1]['token_info'][0]
        self.assertEqual((info['token'], info['platform']), (phone, 'ios'))
        self.assertLessEqual(abs(info['last_bind_time'] - time.time()), 60)
        self.assertEqual(info['bind_time'], info['last_bind_time'])

    def test_the_tokens_of_a_type_come_oldest_first_and_unbound_ones_go(self):
        name, t1, t2 = uniq('carol'), uniq('tok'), uniq('tok')
        self.srv.bind(t1, (name, 1005))
        self.srv.bind(t2, (name, 1005))
        self.assertEqual(tokens_by_type(self.find(names(name))['found'][0]), {1005: [t1, t2]})
        self.srv.ok_batch({'operator_type': 5, 'account_list': [{'account': name, 'account_type': 1005}]})
        answer = self.find(names(name))
        self.assertEqual((answer['ret_code'], answer['result']), (E_TOTAL, [str(E_NO_BINDING)]))
        self.assertEqual(answer['found'], [{'account': name, 'account_tokens': []}])

    def test_apps_do_not_see_each_others_names_or_types(self):
        name = uniq('dave')
        self.srv.bind(uniq('tok'), (name, 991), app=APP2)
        answer = self.find(names(name))
        self.assertEqual(answer['result'], [str(E_NO_BINDING)])
        self.assertNotIn(991, answer['account_types'])
        self.assertEqual(self.find(names(name), app=APP2)['account_types'], [991])

    def test_an_app_without_bindings_finds_nothing(self):
        answer = self.find(names('x'), app=APP2)
        self.assertEqual((answer['ret_code'], answer['account_types'], answer['result']),
                         (E_TOTAL, [], [str(E_NO_BINDING)]))

    def test_names_times_types_over_max_query_items_is_refused_with_the_types(self):
        for t in (0, 1, 2, 3):
            self.srv.bind(uniq('tok'), (uniq('erin'), t))
        ok = self.find(names(*['n%d' % i for i in range(3)]))  # 3 × 4 = 12 lookups
        self.assertEqual((ok['ret_code'], len(ok['result'])), (E_TOTAL, 3))
        refused = self.find(names(*['n%d' % i for i in range(4)]))  # 16
        self.assertEqual(refused, {
            'ret_code': E_PARAM, 'result': [], 'account_types': [0, 1, 2, 3],
            'err_msg': 'account_list: 4 names x 4 account types = 16 lookups: the limit is 12 (max-query-items)'})
        # Invalid items are not looked up, so they do not count.
        mixed = self.find({'account_list': [{'account': 'a'}, {'account': ''}, 7, {'account': 'b'},
                                            {'account': 'c'}]})
        self.assertEqual(mixed['result'], [str(E_NO_BINDING), str(E_PARAM), str(E_PARAM)] + [str(E_NO_BINDING)] * 2)
        self.assertEqual([f['account'] for f in mixed['found']], ['a', '', '', 'b', 'c'])

    def test_an_app_with_more_types_than_one_name_may_be_read_under_is_told_so(self):
        self.srv.bind(uniq('tok'), *[(uniq('many'), t) for t in range(100, 113)])  # 13 types, 12 lookups at most
        answer = self.find(names('x'))
        self.assertEqual(answer, {
            'ret_code': E_PARAM, 'result': [], 'account_types': list(range(100, 113)),
            'err_msg': 'account_list: the app uses more than 12 account types: the limit is 12 lookups '
                       '(max-query-items)'})

    def test_request_level_errors(self):
        for body, code in (({}, E_MISSING), ({'account_list': []}, E_MISSING), ({'account_list': 'x'}, E_PARAM),
                           ({'account_list': [{'account': 'a'}] * 13}, E_PARAM)):
            answer = self.find(body)
            self.assertEqual((answer['ret_code'], answer['result']), (code, []), body)
            self.assertNotIn('found', answer)
        self.assertEqual(self.find(b'{"account_list":')['ret_code'], E_PARSE)
        self.assertEqual(self.find(names('a'), app=(APP[0], APP2[1])),
                         {'ret_code': E_AUTH, 'err_msg': 'auth failure', 'result': []})
        status, _, _ = self.srv.request('GET', FIND)
        self.assertEqual(status, 405)

    def test_a_read_key_may_find_and_signs_either_way(self):
        # The key first: a networked store's server keeps an app's keys it read for a second.
        reader = (APP[0], key_add(self.srv, 'support-1', 'read'))
        name, token = uniq('frank'), uniq('tok')
        self.srv.bind(token, (name, 1002))
        for auth in ('basic', 'sign'):
            answer = self.find(names(name), app=reader, auth=auth)
            self.assertEqual((answer['ret_code'], tokens_by_type(answer['found'][0])), (0, {1002: [token]}), auth)


def redis_cli(*args):
    """redis-cli against the suite's Redis (-c: in a cluster it follows the key to its node)."""
    port = pbtest.STORE_URL.split('://', 1)[1].split(',')[0].split('/')[0].rsplit(':', 1)[1]
    r = subprocess.run(['redis-cli', '-c', '-p', port] + list(args), capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise AssertionError('redis-cli %s: %r' % (args, r))
    return r.stdout.strip()


@unittest.skipUnless(pbtest.STORE_KIND in ('redis', 'cluster'), 'the Redis store\'s account types set')
class RedisTypesBackfillTest(unittest.TestCase):
    """Bindings written before the app's types were recorded: opening the store records them once."""

    def test_a_store_without_the_types_sets_is_walked_once_at_open(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        name, t1, t2 = uniq('gina'), uniq('tok'), uniq('tok')
        srv.bind(t1, (name, 1003))
        srv.bind(t2, (name, 1004))
        srv.stop()
        namespace = srv.data_dir.rstrip('/').split('/')[-1]
        types, mark = '%s:types:{%s}' % (namespace, APP[0]), '%s:types-indexed' % namespace
        self.assertEqual(redis_cli('SMEMBERS', types).split(), ['1003', '1004'])
        # As a store written by the version before: no set, no mark.
        redis_cli('DEL', types)
        redis_cli('DEL', mark)
        r = run_cli('app', 'list', *pbtest.store_args(srv.data_dir))
        self.assertEqual(r.returncode, 0, r)
        self.assertEqual(redis_cli('EXISTS', mark), '1')
        self.assertEqual(sorted(redis_cli('SMEMBERS', types).split()), ['1003', '1004'])
        srv.start()
        status, answer = srv.post(FIND, names(name))
        self.assertEqual((status, answer['account_types']), (200, [1003, 1004]), answer)
        self.assertEqual(tokens_by_type(answer['found'][0]), {1003: [t1], 1004: [t2]})
        # Once walked, the mark stays: a set emptied by hand is not filled again at the next open.
        redis_cli('DEL', types)
        srv.restart()
        self.assertEqual(srv.post(FIND, names(name))[1]['account_types'], [])


if __name__ == '__main__':
    unittest.main()
