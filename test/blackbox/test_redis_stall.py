"""A Redis that stops answering does not stop the server's event loop.

Each test serves one event-loop thread (--threads 1) on a Redis server of its
own (pbredis.py, on PB_TEST_PORT_BASE + 39), freezes that server with SIGSTOP
while a request waits for it, checks that the same loop still answers what
needs no Redis (the console's files) at once, then thaws it (SIGCONT) and
checks that the waiting request gets its answer.
"""

import os
import signal
import threading
import time
import unittest

import pbredis
import pbtest
from pbtest import APP, acc, acc_list, batch_answer, uniq

PORT = pbredis.PORT_BASE + 39
APP_PATH = '/pushbind/v1/app'
SECRET_TTL = 1.0  # each thread trusts a secret it read for this long (store/redis/secret_cache.h)
QUICK = 1.0       # what "answers at once" allows on a loaded two-core machine


class Waiting(object):
    """One request on a connection of its own, in a thread: (status, raw body) once answered."""

    def __init__(self, srv, method, path, body=None, headers=None):
        self.answer = None
        self.error = None
        self._thread = threading.Thread(target=self._run, args=(srv, method, path, body, headers), daemon=True)
        self._thread.start()

    def _run(self, srv, method, path, body, headers):
        conn = srv.new_connection(timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            self.answer = (resp.status, resp.read())
        except Exception as e:  # reported by result()
            self.error = e
        finally:
            conn.close()

    def answered(self):
        return not self._thread.is_alive()

    def result(self, timeout=10):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError('no answer within %s s' % timeout)
        if self.error is not None:
            raise self.error
        return self.answer


class StalledRedisTest(unittest.TestCase):
    def setUp(self):
        self.dir = pbtest.new_temp_dir(self.addCleanup)
        self.redis = pbredis.Redis(PORT, self.dir)
        self.addCleanup(self.redis.stop)
        url = 'redis://127.0.0.1:%d/%s' % (PORT, uniq('ns'))
        self.srv = pbtest.Server.for_test(self, apps=[APP], store_url=url, args=['--threads', '1'])
        self.addCleanup(self.thaw)  # runs first: neither pushbind nor Redis stops quickly while it is frozen

    def freeze(self):
        # The loop's own secret cache would answer without Redis: let it lapse first.
        time.sleep(SECRET_TTL + 0.1)
        os.kill(self.redis.proc.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.redis.proc.pid, signal.SIGCONT)

    def assertLoopAnswersAtOnce(self, *waiting):
        started = time.time()
        status, _, _ = self.srv.request('GET', '/console/')
        took = time.time() - started
        self.assertEqual(status, 200)
        self.assertLess(took, QUICK, 'the loop waited %.2f s for Redis' % took)
        for w in waiting:
            self.assertFalse(w.answered(), 'answered while Redis was frozen: %r' % (w.answer,))

    def test_a_batchoperate_waiting_for_its_secret_leaves_the_loop_serving(self):
        token = uniq('tok')
        body = pbtest.encode_body({'operator_type': 1, 'token_accounts': [
            {'token': token, 'account_list': acc_list('a')}]})
        headers = {'Content-Type': 'application/json'}
        headers.update(pbtest.auth_headers('basic', APP, body))
        self.freeze()
        write = Waiting(self.srv, 'POST', pbtest.BATCH, body, headers)
        time.sleep(0.2)  # it has reached the loop and is waiting for Redis
        self.assertLoopAnswersAtOnce(write)
        self.thaw()
        status, raw = write.result()
        self.assertEqual((status, pbtest.parse_json(raw)), (200, batch_answer(0)))
        self.assertEqual(self.srv.accounts_of(token), [acc('a')])

    def test_healthz_and_app_info_waiting_for_redis_leave_the_loop_serving(self):
        self.srv.bind(uniq('tok'), 'a')
        self.freeze()
        health = Waiting(self.srv, 'GET', '/healthz')
        info = Waiting(self.srv, 'GET', APP_PATH, headers=pbtest.auth_headers('sign', APP, b''))
        time.sleep(0.2)
        self.assertLoopAnswersAtOnce(health, info)
        self.thaw()
        self.assertEqual(health.result(), (200, b'ok\n'))
        status, raw = info.result()
        self.assertEqual((status, pbtest.parse_json(raw)['bindings']), (200, 1))

    def test_metrics_waiting_for_the_app_list_leaves_the_loop_serving(self):
        self.srv.bind(uniq('tok'), 'a')
        self.freeze()
        metrics = Waiting(self.srv, 'GET', '/metrics')
        time.sleep(0.2)
        self.assertLoopAnswersAtOnce(metrics)
        self.thaw()
        status, raw = metrics.result()
        self.assertEqual(status, 200)
        self.assertIn('\npushbind_app_bindings{access_id="%s"} 1\n' % APP[0], raw.decode())

    def test_healthz_answers_503_once_redis_stays_frozen_past_the_reply_timeout(self):
        self.freeze()
        health = Waiting(self.srv, 'GET', '/healthz')
        time.sleep(0.2)
        self.assertLoopAnswersAtOnce(health)
        started = time.time()
        status, _ = health.result(timeout=10)
        self.assertEqual(status, 503)
        self.assertLess(time.time() - started, 5)  # the 2 s reply timeout, not longer
        self.thaw()
        deadline = time.time() + 10  # the node is left alone for a second, then reconnected
        while self.srv.request('GET', '/healthz')[0] != 200:
            self.assertLess(time.time(), deadline, 'pushbind did not come back to Redis')
            time.sleep(0.1)


if __name__ == '__main__':
    unittest.main()
