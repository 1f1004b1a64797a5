"""Tags on the PostgreSQL store itself: the tag limits exact with two processes
writing at once, delete_all_device of a big tag while queries run (gone at
once, its pairs freed in the background), an invalidation and a re-bind
queued on their token's lock in either order (on a database defaulting to
repeatable read too), a request given up on leaving no backend behind, and a
version 2 schema upgraded to version 3 with its bindings kept. Runs when the
suite runs on PostgreSQL (PUSHBIND_STORE=postgresql://…)."""

import contextlib
import http.client
import subprocess
import threading
import time
import unittest

import pbtest
from pbtest import APP, E_PARAM, acc, basic_header, uniq
from test_postgres import psql

TAG = '/v3/device/tag'
DELETE_ALL = '/v3/device/tag/delete_all_device'
TAG_QUERY = '/pushbind/v1/tag/query'
INVALIDATE = '/pushbind/v1/token/invalidate'


def post_on(conn, path, body):
    conn.request('POST', path, body=pbtest.encode_body(body),
                 headers={'Authorization': basic_header(*APP), 'Content-Type': 'application/json'})
    resp = conn.getresponse()
    return resp.status, pbtest.parse_json(resp.read())


@contextlib.contextmanager
def holding(url, key):
    """A psql session holding the advisory lock `key` (an SQL expression) until the block ends."""
    with subprocess.Popen(['psql', url, '-Atq', '-v', 'ON_ERROR_STOP=1'], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        holder.stdin.write('BEGIN;\nSELECT pg_advisory_xact_lock(%s);\nSELECT 1;\n' % key)
        holder.stdin.flush()
        if '1\n' not in iter(holder.stdout.readline, ''):
            raise AssertionError('psql did not take the lock')
        yield
        holder.stdin.write('COMMIT;\n')


def token_key(token):
    """The advisory lock apply_batch() and tag_apply() take for `token` of APP, as an SQL expression."""
    return "hashtextextended('%s t %s', 0)" % (APP[0], token)


def waiting_on(url, key):
    """How many backends wait for the advisory lock `key`."""
    return int(psql(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                         "AND ((classid::bigint << 32) | objid::bigint) = %s" % key))


def own_database(testcase, setting):
    """A database of the test's own, with ALTER DATABASE … `setting`, dropped at cleanup (after the
    servers started later are closed); its URL."""
    base = pbtest.STORE_URL.split('?')[0]
    name = uniq('pbdb').replace('-', '_').lower()
    psql(base, 'CREATE DATABASE %s' % name)
    testcase.addCleanup(psql, base, 'DROP DATABASE %s WITH (FORCE)' % name)
    psql(base, 'ALTER DATABASE %s %s' % (name, setting))
    return base.rsplit('/', 1)[0] + '/' + name


def query(srv, body):
    status, answer = srv.post(TAG_QUERY, body)
    assert status == 200 and answer['ret_code'] == 0, answer
    return answer


def schema_of(srv):
    url = pbtest.store_args(srv.data_dir)[1]
    return url, '"%s"' % url.split('pushbind_schema=')[1]


@unittest.skipIf(pbtest.STORE_KIND != 'postgres', 'PostgreSQL only')
class PostgresTagsTest(unittest.TestCase):

    def two_servers(self, args=()):
        a = pbtest.Server.for_test(self, args=args)
        b = pbtest.Server.for_test(self, apps=[], data_dir=a.data_dir, args=args)
        b.default_app = APP
        return a, b

    def test_tag_limits_hold_with_two_processes_tagging_at_once(self):
        a, b = self.two_servers(args=['--max-tags-per-token', '5', '--max-tags-per-app', '12'])
        answers = []

        def tag_many(srv, body_of):
            conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=30)
            for i in range(20):
                answers.append(post_on(conn, TAG, body_of(i)))
            conn.close()

        def both_at_once(body_of):
            threads = [threading.Thread(target=tag_many, args=(srv, lambda i, p=p: body_of(p, i)))
                       for srv, p in ((a, 'a'), (b, 'b'))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)

        # many tags onto one token from both processes: it gets 5 (and the app 5 tags)
        both_at_once(lambda p, i: {'operator_type': 1, 'tag_list': ['%s-%d' % (p, i)], 'token_list': ['shared-token']})
        # then many new tags, each onto a token of its own with a tag they share: the app gets 12
        both_at_once(lambda p, i: {'operator_type': 9, 'tag_token_list': [['new-%s-%d' % (p, i), '%s-tok-%d' % (p, i)],
                                                                         ['both', '%s-tok-%d' % (p, i)]]})
        self.assertEqual(len(answers), 80)
        # each answer is ok or names the limit it met: no store failure, no deadlock
        self.assertTrue(all(status == 200 and (answer['ret_code'] == 0 or (
            answer['ret_code'] == E_PARAM and 'max-tags-per-' in answer['err_msg'])) for status, answer in answers),
                        answers)
        shared = query(a, {'operator_type': 1, 'token_list': ['shared-token']})['token_tags'][0]['tag_list']
        self.assertEqual(len(shared), 5)
        listed = query(b, {'operator_type': 4})['tags']
        self.assertEqual(len(listed), 12, listed)
        # every count is what the pairs say
        for entry in listed:
            tokens = query(a, {'operator_type': 2, 'tag': entry['tag']})['token_list']
            self.assertEqual(entry['count'], len(tokens), entry)

    def test_delete_all_of_a_big_tag_is_gone_at_once_while_queries_run(self):
        srv = pbtest.Server.for_test(self)
        url, schema = schema_of(srv)
        conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=30)
        tokens = ['big-%05d' % i for i in range(10000)]
        for i in range(0, len(tokens), 500):
            self.assertEqual(post_on(conn, TAG, {'operator_type': 7, 'tag_list': ['big'],
                                                 'token_list': tokens[i:i + 500]})[1]['ret_code'], 0)
        srv.bind('someone', 'alice')
        self.assertEqual(query(srv, {'operator_type': 3, 'tag_list': ['big']})['tag_counts'][0]['count'], 10000)

        stop, latencies, failures = threading.Event(), [], []

        def read_meanwhile():
            reader = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=30)
            while not stop.is_set():
                started = time.monotonic()
                status, answer = post_on(reader, pbtest.QUERY,
                                         {'operator_type': 2, 'token_list': ['someone']})
                latencies.append(time.monotonic() - started)
                if status != 200 or answer.get('ret_code') != 0:
                    failures.append(answer)
            reader.close()

        reader = threading.Thread(target=read_meanwhile)
        reader.start()
        try:
            time.sleep(0.2)
            started = time.monotonic()
            self.assertEqual(post_on(conn, DELETE_ALL, {'tag_list': ['big']})[1]['ret_code'], 0)
            answered_in = time.monotonic() - started
            # gone at once for every read, while its pairs are still there to free
            self.assertEqual(query(srv, {'operator_type': 3, 'tag_list': ['big']})['tag_counts'][0]['count'], 0)
            self.assertEqual(query(srv, {'operator_type': 2, 'tag': 'big'})['token_list'], [])
            self.assertEqual(query(srv, {'operator_type': 1, 'token_list': [tokens[7]]})['token_tags'][0]['tag_list'],
                             [])
            self.assertEqual(query(srv, {'operator_type': 4})['tags'], [])
            # made again from nothing: only its new token
            self.assertEqual(post_on(conn, TAG, {'operator_type': 1, 'tag_list': ['big'],
                                                 'token_list': [tokens[7]]})[1]['ret_code'], 0)
            self.assertEqual(query(srv, {'operator_type': 2, 'tag': 'big'})['token_list'], [tokens[7]])
            # the old pairs go in bounded steps in the background, then (a step later) their grave
            deadline = time.monotonic() + 30
            while int(psql(url, 'SELECT count(*) FROM %s.tag_pairs' % schema)) != 1:
                self.assertLess(time.monotonic(), deadline, 'the deleted tag\'s pairs were not freed')
                time.sleep(0.2)
            while psql(url, 'SELECT count(*) FROM %s.tag_graves' % schema) != '0':
                self.assertLess(time.monotonic(), deadline, 'the deleted tag\'s grave stayed')
                time.sleep(0.2)
        finally:
            stop.set()
            reader.join(30)
            conn.close()
        self.assertEqual(failures, [])
        self.assertLess(answered_in, 1.0)
        latencies.sort()
        self.assertLess(latencies[int(len(latencies) * 0.99)], 1.0, latencies[-5:])  # p99: not held up
        self.assertEqual(query(srv, {'operator_type': 1, 'token_list': [tokens[7]]})['token_tags'][0]['tag_list'],
                         ['big'])

    def queue_an_invalidation_and_a_re_bind(self, srv, url):
        """Queues an invalidation and a re-bind of one token behind its lock, held from psql (`url`, the
        server's database), in either order: what each reads after its wait must be what the other
        committed meanwhile."""
        for first in ('bind', 'invalidate'):
            t = uniq('queued')
            srv.bind(t, 'frank')
            made = int(time.time())
            while int(time.time()) == made:  # invalid_since after the first bind: alone, it would be removed
                time.sleep(0.01)
            since = int(time.time())
            requests = {'bind': (pbtest.BATCH, {'operator_type': 1, 'token_accounts': [
                            {'token': t, 'account_list': [{'account': 'frank'}]}]}),
                        'invalidate': (INVALIDATE, {'token_list': [
                            {'token': t, 'invalid_since': since, 'reason': 'Unregistered'}]})}
            answers, threads = {}, []

            def send(name):
                conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=30)
                answers[name] = post_on(conn, *requests[name])[1]
                conn.close()

            key = token_key(t)
            with holding(url, key):
                # the lock's queue is first come, first served: each request waits behind the one before
                for queued, name in enumerate((first, 'invalidate' if first == 'bind' else 'bind'), 1):
                    threads.append(threading.Thread(target=send, args=(name,)))
                    threads[-1].start()
                    deadline = time.monotonic() + 1.5  # within the store's 2 s a request
                    while waiting_on(url, key) != queued:
                        self.assertLess(time.monotonic(), deadline, (first, name, 'not queued on the lock'))
            for thread in threads:
                thread.join(30)
            self.assertEqual(answers['bind']['result'], ['0'], (first, answers))
            self.assertEqual(answers['invalidate']['result'], ['1' if first == 'bind' else '0'], (first, answers))
            self.assertEqual(srv.accounts_of(t), [acc('frank')], first)

    def test_an_invalidation_and_a_re_bind_queued_on_the_token_lock_see_each_other(self):
        # apply_batch() and tag_apply() take the token's advisory lock inside their one statement.
        # What each reads after its wait must be what the other committed meanwhile (each statement
        # of the functions takes a snapshot of its own under READ COMMITTED): a read on a snapshot
        # from before the wait would make the invalidation remove the re-bind it queued behind.
        srv = pbtest.Server.for_test(self)
        self.queue_an_invalidation_and_a_re_bind(srv, schema_of(srv)[0].split('?')[0])

    def test_a_database_defaulting_to_repeatable_read_still_sees_what_was_queued_before(self):
        # Under repeatable read the functions' statements would read on the snapshot taken before the
        # wait: the invalidation failed with 40001 (1008004). pushbind's sessions ask for read
        # committed, whatever the database's or the role's default; the URL's own options are kept.
        url = own_database(self, "SET default_transaction_isolation = 'repeatable read'")
        self.assertEqual(psql(url, 'SHOW default_transaction_isolation'), 'repeatable read')
        name = uniq('rr-app')
        srv = pbtest.Server.for_test(self, store_url='%s?pushbind_schema=rr&options=-c%%20application_name%%3D%s'
                                     % (url, name))
        self.queue_an_invalidation_and_a_re_bind(srv, url)
        self.assertNotEqual(psql(url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'" % name),
                            '0')

    def test_requests_given_up_on_leave_no_backend_waiting_on_their_locks(self):
        # pushbind closes the connection of a request it gave up on (2 s); the backend, told to check
        # its client every second, ends at the next check, rolling back and letting go of the locks it
        # holds and of its place in the queues of those it waits for. Eight requests of 500 tokens a
        # write connection: what the backend has not read fills the socket both ways, so only a
        # reset, not a FIN queued behind them, reaches it.
        srv = pbtest.Server.for_test(self, args=['--threads', '1'])  # 4 write connections
        url = schema_of(srv)[0].split('?')[0]
        held = uniq('held')
        key = token_key(held)
        answers = []

        def tag():
            conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=30)
            answers.append(post_on(conn, TAG, {'operator_type': 7, 'tag_list': ['given-up'], 'token_list': [held] + [
                ('%s-%d' % (uniq('t'), i)).ljust(50, 'x') for i in range(499)]})[1])
            conn.close()

        requests = [threading.Thread(target=tag) for _ in range(32)]
        with holding(url, key):
            for request in requests:
                request.start()
            deadline = time.monotonic() + 1.5  # within the store's 2 s a request
            while waiting_on(url, key) == 0:
                self.assertLess(time.monotonic(), deadline, 'no tag request queued on the lock')
            for request in requests:
                request.join(30)
            self.assertEqual([a['ret_code'] for a in answers], [pbtest.E_STORE] * 32, answers)
            deadline = time.monotonic() + 3  # the 1 s check, with room for a busy machine
            while waiting_on(url, key) != 0:
                self.assertLess(time.monotonic(), deadline, 'a given-up request\'s backend still waits')
                time.sleep(0.05)
        self.assertEqual(query(srv, {'operator_type': 3, 'tag_list': ['given-up']})['tag_counts'][0]['count'], 0)

    def test_a_version_2_schema_is_upgraded_to_version_3_keeping_its_bindings(self):
        srv = pbtest.Server.for_test(self)
        srv.bind('tok-1', 'alice')
        srv.stop()
        url, schema = schema_of(srv)
        # what version 2 had: no tag objects
        psql(url, 'SET search_path TO %s; DROP FUNCTION tag_apply, tag_write, tag_import, tag_step; '
                  'DROP TABLE tags, tag_apps, tag_pairs, tag_graves; DROP SEQUENCE tag_seq; '
                  "UPDATE meta SET value = '2' WHERE key = 'version'" % schema)
        srv.start()
        self.assertEqual(psql(url, "SELECT value FROM %s.meta WHERE key = 'version'" % schema), '3')
        self.assertEqual(srv.accounts_of('tok-1'), [{'account': 'alice'}])
        self.assertEqual(srv.post(TAG, {'operator_type': 1, 'tag_list': ['vip'], 'token_list': ['tok-1']})[1]['ret_code'],
                         0)
        self.assertEqual(query(srv, {'operator_type': 1, 'token_list': ['tok-1']})['token_tags'][0]['tag_list'], ['vip'])
        # app remove takes the app's tags with it
        srv.stop()
        self.assertEqual(pbtest.run_cli('app', 'remove', '--data', srv.data_dir, '--access-id', APP[0]).returncode, 0)
        self.assertEqual(psql(url, 'SELECT count(*) FROM %s.tag_pairs' % schema), '0')
        self.assertEqual(psql(url, 'SELECT count(*) FROM %s.tags' % schema), '0')


if __name__ == '__main__':
    unittest.main()
