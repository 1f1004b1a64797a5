"""GET /metrics: Prometheus text format, counted requests, histograms, store gauges."""

import re
import time
import unittest

import pbtest
from pbtest import APP, APP2, acc_list

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """Prometheus text -> (types {family: type}, samples {(name, frozenset(labels)): value}).
    Fails on any line that is not a comment or a well-formed sample."""
    types, samples = {}, {}
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, name, kind = line.split(' ')
            types[name] = kind
            continue
        if line.startswith('# HELP ') or not line:
            continue
        m = SAMPLE.match(line)
        if m is None:
            raise AssertionError('not a sample line: %r' % line)
        labels = frozenset(LABEL.findall(m.group(3) or ''))
        key = (m.group(1), labels)
        if key in samples:
            raise AssertionError('duplicate series: %r' % line)
        samples[key] = float(m.group(4))
    return types, samples


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.srv = pbtest.Server.for_test(self, apps=[APP, APP2], args=['--threads', '2'])

    def scrape(self):
        status, headers, body = self.srv.request('GET', '/metrics')
        self.assertEqual(status, 200)
        self.assertTrue(headers['Content-Type'].startswith('text/plain; version=0.0.4'))
        return parse(body.decode('utf-8'))

    def value(self, samples, name, **labels):
        return samples.get((name, frozenset(labels.items())), 0.0)

    def test_requests_are_counted_by_endpoint_operator_type_and_code(self):
        _, before = self.scrape()
        self.srv.bind('m-t1', 'alice')
        self.srv.bind('m-t2', 'alice', op=2)
        self.srv.tokens_of('alice')
        self.srv.query({'operator_type': 1, 'account_list': acc_list('x')}, auth=None)  # 1008003
        self.srv.batch('not json')                                                       # 1008001
        _, after = self.scrape()

        def delta(**labels):
            return (self.value(after, 'pushbind_requests_total', **labels)
                    - self.value(before, 'pushbind_requests_total', **labels))

        self.assertEqual(delta(endpoint='batchoperate', operator_type='1', code='0'), 1)
        self.assertEqual(delta(endpoint='batchoperate', operator_type='2', code='0'), 1)
        self.assertEqual(delta(endpoint='query', operator_type='1', code='0'), 1)
        self.assertEqual(delta(endpoint='query', operator_type='none', code='1008003'), 1)
        self.assertEqual(delta(endpoint='batchoperate', operator_type='none', code='1008001'), 1)

    def test_families_have_prometheus_names_and_types(self):
        self.srv.bind('m-t', 'bob')
        self.srv.tokens_of('bob')
        types, samples = self.scrape()
        want = {
            'pushbind_requests_total': 'counter',
            'pushbind_request_duration_seconds': 'histogram',
            'pushbind_store_commit_duration_seconds': 'histogram',
            'pushbind_store_lookup_duration_seconds': 'histogram',
            'pushbind_store_commit_batch_size': 'histogram',
            'pushbind_connections_total': 'counter',
            'pushbind_open_connections': 'gauge',
            'pushbind_apps': 'gauge',
            'pushbind_app_bindings': 'gauge',
            'pushbind_bindings': 'gauge',
        }
        for name, kind in want.items():
            self.assertEqual(types.get(name), kind, name)
        for (name, _), _ in samples.items():
            self.assertTrue(name.startswith(('pushbind_', 'process_')), name)
        self.assertGreaterEqual(self.value(samples, 'pushbind_open_connections'), 1)
        self.assertGreaterEqual(self.value(samples, 'pushbind_store_commit_batch_size_count'), 1)
        self.assertEqual(self.value(samples, 'pushbind_store_commit_batch_size_sum'),
                         self.value(samples, 'pushbind_store_commit_batch_size_count'))

    def test_histogram_buckets_are_cumulative_and_end_in_the_count(self):
        for i in range(5):
            self.srv.bind('h-t%d' % i, 'carol')
        _, samples = self.scrape()
        buckets = sorted(((float(dict(labels)['le'].replace('+Inf', 'inf')), v)
                          for (name, labels), v in samples.items()
                          if name == 'pushbind_request_duration_seconds_bucket'
                          and dict(labels)['endpoint'] == 'batchoperate'))
        counts = [v for _, v in buckets]
        self.assertEqual(counts, sorted(counts))
        self.assertEqual(buckets[-1], (float('inf'), self.value(
            samples, 'pushbind_request_duration_seconds_count', endpoint='batchoperate')))
        self.assertGreaterEqual(buckets[-1][1], 5)
        self.assertGreater(self.value(samples, 'pushbind_request_duration_seconds_sum', endpoint='batchoperate'), 0)

    def test_apps_and_bindings_are_counted_from_the_store(self):
        self.srv.bind('g-t1', 'a', 'b')
        self.srv.bind('g-t2', 'a', app=APP2)
        _, samples = self.scrape()
        self.assertEqual(self.value(samples, 'pushbind_apps'), 2)
        self.assertEqual(self.value(samples, 'pushbind_app_bindings', access_id=APP[0]), 2)
        self.assertEqual(self.value(samples, 'pushbind_app_bindings', access_id=APP2[0]), 1)
        self.assertEqual(self.value(samples, 'pushbind_bindings'), 3)

    def test_process_series_are_the_prometheus_clients_ones(self):
        types, samples = self.scrape()
        want = {
            'process_cpu_seconds_total': 'counter',
            'process_resident_memory_bytes': 'gauge',
            'process_virtual_memory_bytes': 'gauge',
            'process_open_fds': 'gauge',
            'process_max_fds': 'gauge',
            'process_start_time_seconds': 'gauge',
        }
        for name, kind in want.items():
            self.assertEqual(types.get(name), kind, name)
        self.assertGreater(self.value(samples, 'process_open_fds'), 0)
        self.assertGreaterEqual(self.value(samples, 'process_max_fds'), self.value(samples, 'process_open_fds'))
        self.assertGreater(self.value(samples, 'process_resident_memory_bytes'), 0)
        self.assertGreaterEqual(self.value(samples, 'process_virtual_memory_bytes'),
                                self.value(samples, 'process_resident_memory_bytes'))
        self.assertGreaterEqual(self.value(samples, 'process_cpu_seconds_total'), 0)
        started = self.value(samples, 'process_start_time_seconds')
        self.assertLess(abs(started - time.time()), 600)

    def test_build_info_carries_the_version_of_pushbind_version(self):
        types, samples = self.scrape()
        self.assertEqual(types.get('pushbind_build_info'), 'gauge')
        r = pbtest.run_cli('--version')
        self.assertEqual(r.returncode, 0, r)
        version = r.stdout.split()[-1]
        self.assertEqual(self.value(samples, 'pushbind_build_info', version=version), 1)
        self.assertEqual([n for (n, _) in samples if n == 'pushbind_build_info'], ['pushbind_build_info'])

    @pbtest.lmdb_only('the store size and capacity are the embedded store\'s')
    def test_store_size_grows_with_binds_and_stays_under_its_capacity(self):
        types, before = self.scrape()
        for name in ('size', 'capacity', 'reserve'):
            self.assertEqual(types.get('pushbind_store_%s_bytes' % name), 'gauge', name)
        for i in range(10):
            self.srv.ok_batch({'operator_type': 1, 'token_accounts': [
                {'token': 'size-t%d-%d' % (i, j), 'account_list': acc_list('size-account-%d-%d' % (i, j))}
                for j in range(20)]})
        _, after = self.scrape()
        self.assertGreater(self.value(after, 'pushbind_store_size_bytes'),
                           self.value(before, 'pushbind_store_size_bytes'))
        capacity = self.value(after, 'pushbind_store_capacity_bytes')
        self.assertGreater(capacity, 0)
        self.assertLess(self.value(after, 'pushbind_store_reserve_bytes'), capacity)
        self.assertLess(self.value(after, 'pushbind_store_size_bytes'), capacity)

    @unittest.skipIf(pbtest.STORE_KIND == 'lmdb', 'Redis only')
    def test_redis_has_no_store_size_series(self):
        types, _ = self.scrape()
        self.assertNotIn('pushbind_store_size_bytes', types)
        self.assertNotIn('pushbind_store_capacity_bytes', types)

    def test_only_get_is_allowed(self):
        status, _, _ = self.srv.request('POST', '/metrics', b'')
        self.assertEqual(status, 405)


if __name__ == '__main__':
    unittest.main()
