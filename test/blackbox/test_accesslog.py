"""The access log: one line per request, text or JSON, never a secret, reopened on SIGHUP;
buffered per event loop, yet never split, reordered or lost on SIGHUP and stop."""

import json
import os
import re
import signal
import threading
import time
import unittest

import pbtest
from pbtest import APP

TEXT_LINE = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) app=(\S+) endpoint=(\S+) op=(\S+) items=(\d+) '
                       r'code=(\S+) status=(\d+) us=(\d+) client=(\S+)(?: fwd=(\S+))? key=(\S+)'
                       r'(?: auth=(\S+) tried=(\S+))?(?: path="((?:[^"\\]|\\.)*)")?$')


def read_lines(path):
    with open(path, encoding='utf-8') as f:
        return f.read().splitlines()


def wait_for_lines(path, n, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        lines = read_lines(path) if os.path.exists(path) else []
        if len(lines) >= n or time.time() > deadline:
            return lines
        time.sleep(0.02)


class AccessLogTest(unittest.TestCase):
    def start(self, *args):
        self.dir = pbtest.new_temp_dir(self.addCleanup)
        self.log = os.path.join(self.dir, 'access.log')
        return pbtest.Server.for_test(self, apps=[APP], args=['--log-file', self.log] + list(args))

    def test_text_lines_say_app_endpoint_op_items_code_and_time(self):
        srv = self.start()
        srv.ok_batch({'operator_type': 1, 'token_accounts': [
            {'token': 'log-t1', 'account_list': [{'account': 'secret-account'}]},
            {'token': 'log-t2', 'account_list': [{'account': 'secret-account'}]}]}, auth='sign')
        srv.query({'operator_type': 1, 'account_list': [{'account': 'x'}]}, auth=None)
        srv.request('GET', '/healthz')
        lines = wait_for_lines(self.log, 3)
        fields = [TEXT_LINE.match(l) for l in lines]
        self.assertTrue(all(fields), lines)
        self.assertEqual([f.groups()[1:7] for f in fields], [
            (APP[0], 'batchoperate', '1', '2', '0', '200'),
            ('-', 'query', '-', '0', '1008003', '200'),
            ('-', 'healthz', '-', '0', '-', '200'),
        ])
        text = '\n'.join(lines)
        for secret in (APP[1], 'secret-account', 'log-t1', 'Sign', 'Basic'):
            self.assertNotIn(secret, text)
        self.assertNotIn(APP[1], srv.stderr_text)

    def test_json_lines_parse(self):
        srv = self.start('--log-format', 'json')
        srv.bind('log-j', 'a')
        srv.request('GET', '/nowhere')
        lines = wait_for_lines(self.log, 2)
        records = [json.loads(l) for l in lines]
        self.assertEqual({k: v for k, v in records[0].items() if k not in ('time', 'us')},
                         {'app': APP[0], 'endpoint': 'batchoperate', 'op': 1, 'items': 1, 'code': 0, 'status': 200,
                          'client': '127.0.0.1', 'key': 'main'})
        self.assertEqual((records[1]['endpoint'], records[1]['status'], records[1]['code']), ('other', 404, None))
        self.assertIsInstance(records[0]['us'], int)
        self.assertRegex(records[0]['time'], r'Z$')

    def test_console_files_get_lines_like_healthz(self):
        srv = self.start()
        srv.request('GET', '/console/')
        _, headers, _ = srv.request('GET', '/console/console.css')
        srv.request('GET', '/console/console.css', headers={'If-None-Match': headers['ETag']})
        srv.request('GET', '/console')
        srv.request('GET', '/console/missing.js')
        srv.request('GET', '/consolex')
        lines = wait_for_lines(self.log, 6)
        fields = [TEXT_LINE.match(l) for l in lines]
        self.assertTrue(all(fields), lines)
        self.assertEqual([(f.group(2), f.group(3), f.group(6), f.group(7)) for f in fields], [
            ('-', 'console', '-', '200'), ('-', 'console', '-', '200'), ('-', 'console', '-', '304'),
            ('-', 'console', '-', '301'), ('-', 'console', '-', '404'), ('-', 'other', '-', '404')])

    def test_sighup_reopens_the_file_for_logrotate(self):
        srv = self.start()
        srv.bind('rot-1', 'a')
        self.assertEqual(len(wait_for_lines(self.log, 1)), 1)
        rotated = self.log + '.1'
        os.rename(self.log, rotated)
        srv.bind('rot-2', 'a')  # still written to the renamed file
        self.assertEqual(len(wait_for_lines(rotated, 2)), 2)
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        while not os.path.exists(self.log) and time.time() < deadline:
            time.sleep(0.02)
        srv.bind('rot-3', 'a')
        self.assertEqual(len(wait_for_lines(self.log, 1)), 1)
        self.assertEqual(len(read_lines(rotated)), 2)
        self.assertTrue(srv.running())
        srv.stop()

    def test_off_writes_nothing(self):
        srv = self.start('--log-format', 'off')
        srv.bind('off-1', 'a')
        srv.stop()
        self.assertFalse(os.path.exists(self.log))

    def test_default_is_stderr(self):
        srv = pbtest.Server.for_test(self, apps=[APP])
        srv.bind('err-1', 'a')
        deadline = time.time() + 5
        while 'endpoint=batchoperate' not in srv.stderr_text and time.time() < deadline:
            time.sleep(0.02)
        self.assertRegex(srv.stderr_text, r'app=%s endpoint=batchoperate op=1 items=1 code=0 status=200' % APP[0])

    def test_bad_log_format_is_a_usage_error(self):
        r = pbtest.run_cli('serve', '--data', '/tmp/x', '--listen', '127.0.0.1:0', '--log-format', 'xml')
        self.assertEqual(r.returncode, 2, r)


def query_accounts(n):
    """A query for n accounts: its line says items=n."""
    return {'operator_type': 1, 'account_list': [{'account': 'acc-%d' % i} for i in range(n)]}


def hammer(srv, connections, requests_each, stop=None):
    """Sends queries from `connections` threads, each on its own keep-alive
    connection, until each sent requests_each or `stop` is set. Returns the
    number of requests answered."""
    answered = [0] * connections

    def client(k):
        conn = srv.new_connection()
        body = pbtest.encode_body(query_accounts(1 + k % 3))
        headers = dict(pbtest.auth_headers('basic', APP, body), **{'Content-Type': 'application/json'})
        try:
            for _ in range(requests_each):
                if stop is not None and stop.is_set():
                    return
                conn.request('POST', pbtest.QUERY, body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    answered[k] += 1
        except (OSError, pbtest.http.client.HTTPException):
            return  # the server stopped under us
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    return threads, answered


class BufferedLogTest(unittest.TestCase):
    """Lines are written per event loop in buffers: whole, in order, and all of them."""

    def start(self, *args):
        self.dir = pbtest.new_temp_dir(self.addCleanup)
        self.log = os.path.join(self.dir, 'access.log')
        return pbtest.Server.for_test(self, apps=[APP], args=['--log-file', self.log, '--threads', '2'] + list(args))

    def assertWhole(self, lines):
        bad = [l for l in lines if not TEXT_LINE.match(l)]
        self.assertEqual(bad, [], '%d of %d lines do not parse' % (len(bad), len(lines)))

    def test_lines_stay_whole_under_load_from_many_connections(self):
        srv = self.start()
        threads, answered = hammer(srv, 16, 250)
        for t in threads:
            t.join()
        srv.stop()
        with open(self.log, 'rb') as f:
            data = f.read()
        self.assertGreater(len(data), 4 * 64 * 1024)  # several buffers from each loop
        self.assertTrue(data.endswith(b'\n'))
        lines = data.decode('ascii').splitlines()
        self.assertWhole(lines)
        self.assertEqual(sum(answered), 16 * 250)
        self.assertEqual(len(lines), 16 * 250)

    def test_lines_of_one_connection_stay_in_order(self):
        srv = self.start()
        sizes = [1 + i % 40 for i in range(400)]
        for n in sizes:
            status, resp = srv.query(query_accounts(n))
            self.assertEqual((status, resp['retCode']), (200, pbtest.E_TOTAL))
        lines = wait_for_lines(self.log, len(sizes))
        self.assertWhole(lines)
        self.assertEqual([int(TEXT_LINE.match(l).group(5)) for l in lines], sizes)

    def test_sighup_writes_the_buffers_to_the_old_file_before_reopening(self):
        srv = self.start()
        rotated = self.log + '.1'
        for i in range(30):
            srv.request('GET', '/healthz')
        os.rename(self.log, rotated)
        for i in range(20):
            srv.request('GET', '/healthz')
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while not os.path.exists(self.log) and time.time() < deadline:
            time.sleep(0.01)
        # The new file exists once every loop has written what it held.
        old = read_lines(rotated)
        self.assertWhole(old)
        self.assertEqual(len(old), 50)
        for i in range(7):
            srv.query(query_accounts(2))
        new = wait_for_lines(self.log, 7)
        self.assertWhole(new)
        self.assertEqual([TEXT_LINE.match(l).group(3) for l in new], ['query'] * 7)
        srv.stop()
        self.assertEqual(len(read_lines(rotated)), 50)
        self.assertEqual(len(read_lines(self.log)), 7)

    def test_sigterm_writes_every_answered_request(self):
        srv = self.start()
        for i in range(25):
            srv.request('GET', '/healthz')
        srv.stop()
        lines = read_lines(self.log)  # no waiting: the buffers were written before the exit
        self.assertWhole(lines)
        self.assertEqual(len(lines), 25)

    def test_clean_stop_under_load_loses_no_line(self):
        srv = self.start()
        stop = threading.Event()
        threads, answered = hammer(srv, 12, 10 ** 6, stop)
        deadline = time.time() + 10
        while sum(answered) < 1500 and time.time() < deadline:
            time.sleep(0.01)
        srv.stop(close_connection=False)
        stop.set()
        for t in threads:
            t.join()
        lines = read_lines(self.log)
        self.assertWhole(lines)
        # A request may be answered as the client gives up, never the other way round.
        self.assertGreaterEqual(len(lines), sum(answered))
        self.assertGreater(sum(answered), 0)


class ConfigFileTest(unittest.TestCase):
    def write_config(self, text):
        path = os.path.join(pbtest.new_temp_dir(self.addCleanup), 'pushbind.conf')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def test_config_file_sets_flags_and_command_line_flags_win(self):
        log = os.path.join(pbtest.new_temp_dir(self.addCleanup), 'a.log')
        conf = self.write_config('# pushbind\n\nmax-batch-items = 1\nlog-format = json\nlog-file = %s\n'
                                 'max-list-items = 1\none-account-per-type = false\n' % log)
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--config', conf, '--max-list-items', '2'])
        two = {'operator_type': 1, 'token_accounts': [{'token': 'c1', 'account_list': [{'account': 'a'}]},
                                                      {'token': 'c2', 'account_list': [{'account': 'a'}]}]}
        self.assertEqual(srv.batch(two)[1]['ret_code'], pbtest.E_PARAM)  # from the file
        srv.ok_batch({'operator_type': 4, 'token_list': ['c1', 'c2']})   # the flag won over the file
        self.assertEqual(json.loads(wait_for_lines(log, 1)[0])['endpoint'], 'batchoperate')

    def test_unknown_key_names_the_file_and_line(self):
        conf = self.write_config('listen = 127.0.0.1:0\nmax-bath-items = 3\n')
        r = pbtest.run_cli('serve', '--data', '/tmp/x', '--config', conf)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn('%s:2: unknown key' % conf, r.stderr)

    def test_missing_file_fails(self):
        r = pbtest.run_cli('serve', '--config', '/nonexistent/pushbind.conf')
        self.assertEqual(r.returncode, 1, r)


if __name__ == '__main__':
    unittest.main()
