"""Tags on Redis (docs/design.md, "Tags (Redis)"): what a writer that dies
between its steps leaves is never half visible and never miscounted, the
limits hold under concurrent writers on two processes, and a deleted tag's
pairs are freed in the background. Starts its own Redis server (pbredis.py)
on PB_TEST_PORT_BASE + 23."""

import json
import random
import threading
import time
import unittest

import pbredis
from pbredis import poll
import pbtest
from pbtest import APP, uniq

PORT = pbredis.PORT_BASE + 23
TAG = '/v3/device/tag'
TAG_QUERY = '/pushbind/v1/tag/query'


def query(srv, body):
    status, answer = srv.post(TAG_QUERY, body)
    assert status == 200 and answer['ret_code'] == 0, answer
    return answer


def tokens_of(srv, name, limit=1000):
    out, cursor = [], None
    while True:
        body = {'operator_type': 2, 'tag': name, 'limit': limit}
        if cursor is not None:
            body['cursor'] = cursor
        answer = query(srv, body)
        out += answer['token_list']
        cursor = answer.get('next_cursor')
        if cursor is None:
            return out


def tags_of(srv, *tokens):
    return [e['tag_list'] for e in query(srv, {'operator_type': 1, 'token_list': list(tokens)})['token_tags']]


def count(srv, name):
    return query(srv, {'operator_type': 3, 'tag_list': [name]})['tag_counts'][0]['count']


def send(conn, body):
    data = json.dumps(body).encode()
    conn.request('POST', TAG, data, pbtest.auth_headers('basic', APP, data))
    return json.loads(conn.getresponse().read())


class RedisTagsTest(unittest.TestCase):

    def setUp(self):
        self.dir = pbtest.new_temp_dir(self.addCleanup)
        self.redis = pbredis.Redis(PORT, self.dir)
        self.addCleanup(lambda: self.redis.stop())
        self.ns = uniq('ns')
        self.url = 'redis://127.0.0.1:%d/%s' % (PORT, self.ns)

    def cli(self, *args):
        return pbredis.cli(PORT, *args).strip()

    def gen(self, name):
        return self.cli('HGET', '%s:tags:{%s}' % (self.ns, APP[0]), name).split('|')[0]

    def test_what_a_dead_writer_leaves_is_judged_by_the_records(self):
        """The states a writer killed between its steps leaves, made by hand: an
        index member and its mark with no record (killed after its mark), a
        record and a mark with no index member (an unbind killed after its
        record): reads follow the records, counts too."""
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=self.url)
        conn = srv.new_connection()
        self.addCleanup(conn.close)
        kept, ghost, orphan = uniq('kept'), uniq('ghost'), uniq('orphan')
        self.assertEqual(send(conn, {'operator_type': 7, 'tag_list': ['t'], 'token_list': [kept, orphan]})['ret_code'],
                         0)
        self.assertEqual(send(conn, {'operator_type': 1, 'tag_list': ['other'], 'token_list': [ghost]})['ret_code'], 0)
        gen = self.gen('t')
        index = '%s:tx:{%s:t}:%s' % (self.ns, APP[0], gen)
        marks = '%s:tm:{%s:t}:%s' % (self.ns, APP[0], gen)
        long_ago = int(time.time()) - 60  # dead writers: a store call ends within 4 s
        # killed after tag_mark of an add: reserved in the index, marked, no record
        self.cli('ZADD', index, '999999', ghost)
        self.cli('HSET', marks, ghost, '1|-1||%d' % long_ago)
        # an unbind killed after tag_change: the record lost the pair, the index still has it, marked
        self.cli('HDEL', '%s:tt:{%s:%s}' % (self.ns, APP[0], orphan), 'tt')
        self.cli('HSET', marks, orphan, '1|-1||%d' % long_ago)
        self.assertEqual(tokens_of(srv, 't'), [kept])
        self.assertEqual(count(srv, 't'), 1)
        self.assertEqual(tags_of(srv, kept, ghost, orphan), [['t'], ['other'], []])
        # the next writer of those pairs settles them: the index agrees again, the dead marks are gone
        self.assertEqual(send(conn, {'operator_type': 8, 'tag_list': ['t'], 'token_list': [ghost, orphan]})['ret_code'],
                         0)
        self.assertEqual(self.cli('ZCARD', index), '1')
        self.assertEqual(self.cli('HKEYS', marks), '')  # the settle counter's field, named ""
        self.assertEqual(count(srv, 't'), 1)

    def test_kill_9_during_writes_never_leaves_a_pair_half_visible(self):
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=self.url)
        name, tokens = uniq('tag'), [uniq('tok') for _ in range(400)]
        rng = random.Random(7)
        for round_ in range(12):
            srv.start() if not srv.running() else None
            conn = srv.new_connection()

            def writes():
                try:
                    for i in range(0, 400, 100):
                        send(conn, {'operator_type': 7 + (round_ + i // 100) % 2, 'tag_list': [name],
                                    'token_list': tokens[i:i + 100]})
                except (ConnectionError, OSError, ValueError):
                    pass  # killed under it

            thread = threading.Thread(target=writes)
            thread.start()
            time.sleep(rng.uniform(0, 0.03))
            srv.kill()
            thread.join()
            conn.close()
            srv.start()
            listed = tokens_of(srv, name, limit=37)
            self.assertEqual(len(listed), len(set(listed)))
            holders = [t for t, tags in zip(tokens, tags_of(srv, *tokens)) if name in tags]
            self.assertEqual(sorted(listed), sorted(holders), round_)
            self.assertEqual(count(srv, name), len(holders), round_)

    def race(self, servers, bodies):
        """Sends `bodies` from four threads over `servers`; returns the answers' ret_codes."""
        codes, lock = [], threading.Lock()

        def worker(k):
            conn = servers[k % len(servers)].new_connection()
            for body in bodies[k::4]:
                code = send(conn, body)['ret_code']
                with lock:
                    codes.append(code)
            conn.close()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return codes

    def test_the_limits_hold_under_concurrent_writers_on_two_processes(self):
        one = pbtest.Server.for_test(self, apps=[APP], store_url=self.url,
                                     args=['--max-tags-per-token', '10', '--max-tags-per-app', '25'])
        two = pbtest.Server.for_test(self, apps=[], store_url=self.url,
                                     args=['--max-tags-per-token', '10', '--max-tags-per-app', '25'])
        two.default_app = APP
        t = uniq('tok')
        codes = self.race([one, two], [{'operator_type': 1, 'tag_list': ['k%d' % i], 'token_list': [t]}
                                       for i in range(40)])
        self.assertEqual(codes.count(0), 10, codes)
        self.assertEqual(len(tags_of(one, t)[0]), 10)
        # distinct tags per app: 10 are there; 15 more fit, whoever sends them
        codes = self.race([one, two], [{'operator_type': 7, 'tag_list': ['n%d' % i], 'token_list': [uniq('x')]}
                                       for i in range(40)])
        self.assertEqual(codes.count(0), 15, codes)
        tags = query(one, {'operator_type': 4, 'limit': 100})['tags']
        self.assertEqual(len(tags), 25)

    def test_a_deleted_tags_pairs_are_freed_in_the_background(self):
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=self.url)
        tokens = [uniq('tok') for _ in range(1200)]
        conn = srv.new_connection()
        self.addCleanup(conn.close)
        for i in range(0, 1200, 500):
            self.assertEqual(send(conn, {'operator_type': 7, 'tag_list': ['big'], 'token_list': tokens[i:i + 500]})
                             ['ret_code'], 0)
        gen = self.gen('big')
        index = '%s:tx:{%s:big}:%s' % (self.ns, APP[0], gen)
        status, answer = srv.post('/v3/device/tag/delete_all_device', {'tag_list': ['big']})
        self.assertEqual(answer['ret_code'], 0)
        self.assertEqual(count(srv, 'big'), 0)  # gone at once
        poll(lambda: self.cli('EXISTS', index) == '0', 10, 'freed')
        for t in tokens[:50]:
            self.assertEqual(self.cli('HEXISTS', '%s:tt:{%s:%s}' % (self.ns, APP[0], t), 'tbig'), '0', t)

    def test_app_remove_takes_the_tags_with_it(self):
        srv = pbtest.Server.for_test(self, apps=[APP], store_url=self.url)
        conn = srv.new_connection()
        self.addCleanup(conn.close)
        tokens = [uniq('tok') for _ in range(20)]
        self.assertEqual(send(conn, {'operator_type': 7, 'tag_list': ['a'], 'token_list': tokens})['ret_code'], 0)
        self.assertEqual(send(conn, {'operator_type': 7, 'tag_list': ['b'], 'token_list': tokens[:5]})['ret_code'], 0)
        status, answer = srv.post('/v3/device/tag/delete_all_device', {'tag_list': ['b']})
        self.assertEqual(answer['ret_code'], 0)
        srv.stop()
        r = pbtest.run_cli('app', 'remove', '--store', self.url, '--access-id', APP[0])
        self.assertEqual(r.returncode, 0, r)
        # Only the namespace's own account types' walk mark is left: nothing of the app.
        self.assertEqual(self.cli('KEYS', '%s:*' % self.ns), '%s:types-indexed' % self.ns)


if __name__ == '__main__':
    unittest.main()
