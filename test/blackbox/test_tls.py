"""HTTPS (--tls-cert / --tls-key): HTTP/1.1 and HTTP/2 by ALPN, spoken to with curl."""

import json
import os
import socket
import subprocess
import tempfile
import unittest

import pbtest
from pbtest import APP, BATCH, QUERY, acc, batch_answer, query_answer, uniq


def make_self_signed(directory):
    """A self-signed certificate for 127.0.0.1 and its key, made with the openssl CLI."""
    cert, key = os.path.join(directory, 'cert.pem'), os.path.join(directory, 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1',
                    '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    return cert, key


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix='pushbind-tls-')
        cls.addClassCleanup(subprocess.run, ['rm', '-rf', cls.dir])
        cls.cert, cls.key = make_self_signed(cls.dir)
        cls.srv = pbtest.Server.for_class(cls, apps=[APP], args=['--tls-cert', cls.cert, '--tls-key', cls.key])

    def curl(self, version, path, body):
        """POSTs with curl over HTTPS; returns (negotiated HTTP version, status, parsed body)."""
        r = subprocess.run(['curl', '-sS', version, '--cacert', self.cert, '-u', '%s:%s' % APP,
                            '--data-binary', json.dumps(body), '-w', '\n%{http_version} %{http_code}',
                            'https://127.0.0.1:%d%s' % (self.srv.port, path)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        text, _, tail = r.stdout.decode().rpartition('\n')
        http_version, code = tail.split()
        return http_version, int(code), json.loads(text)

    def test_startup_line_names_https(self):
        self.assertIn('listening on https://127.0.0.1:%d' % self.srv.port, self.srv.stderr_text)

    def test_http2_is_negotiated_by_alpn_and_serves_the_api(self):
        t = uniq('tok')
        self.assertEqual(self.curl('--http2', BATCH, {'operator_type': 1, 'token_accounts': [
            {'token': t, 'account_list': [{'account': 'h2'}]}]}), ('2', 200, batch_answer(0)))
        self.assertEqual(self.curl('--http2', QUERY, {'operator_type': 2, 'token_list': [t]}),
                         ('2', 200, query_answer('token_accounts', [{'token': t, 'account_list': [acc('h2')]}], [0])))

    def test_http1_1_is_served_and_sees_what_http2_wrote(self):
        t = uniq('tok')
        self.assertEqual(self.curl('--http2', BATCH, {'operator_type': 1, 'token_accounts': [
            {'token': t, 'account_list': [{'account': 'both'}]}]})[:2], ('2', 200))
        self.assertEqual(self.curl('--http1.1', QUERY, {'operator_type': 2, 'token_list': [t]}),
                         ('1.1', 200, query_answer('token_accounts', [{'token': t, 'account_list': [acc('both')]}],
                                                   [0])))

    def test_plain_http_on_the_tls_port_is_refused_and_the_server_goes_on(self):
        raw = pbtest.raw_exchange(self.srv.port, b'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n', read_timeout=5)
        self.assertFalse(raw.startswith(b'HTTP/1.1 200'), raw[:100])
        self.assertEqual(self.curl('--http1.1', QUERY, {'operator_type': 2, 'token_list': ['t']})[1], 200)

    def test_missing_or_mismatched_key_fails_to_start_with_a_message_naming_the_file(self):
        other_dir = tempfile.mkdtemp(prefix='pushbind-tls-', dir=self.dir)
        _, other_key = make_self_signed(other_dir)
        data = pbtest.new_temp_dir(self.addCleanup)
        absent_key, absent_cert = os.path.join(self.dir, 'absent.pem'), os.path.join(self.dir, 'absent-cert.pem')
        with open(other_key) as f:
            key_lines = f.read().splitlines()[1:-1]
        for cert, key, named in ((self.cert, absent_key, absent_key), (absent_cert, self.key, absent_cert),
                                 (self.cert, other_key, other_key)):
            r = pbtest.run_cli('serve', '--data', data, '--listen', '127.0.0.1:0', '--tls-cert', cert, '--tls-key', key)
            self.assertEqual(r.returncode, 1, r)
            self.assertIn(named, r.stderr)
            for line in key_lines:  # no key material in the message
                self.assertNotIn(line, r.stderr)

    def test_sigterm_after_http2_and_http1_traffic_exits_0(self):
        # Under make test-asan, LeakSanitizer runs at this exit: nothing TLS allocated may be left.
        srv = pbtest.Server.for_test(self, apps=[APP], args=['--tls-cert', self.cert, '--tls-key', self.key])
        for version in ('--http2', '--http1.1'):
            r = subprocess.run(['curl', '-sS', version, '--cacert', self.cert, '-u', '%s:%s' % APP, '--data-binary',
                                '{"operator_type":2,"token_list":["t"]}',
                                'https://127.0.0.1:%d%s' % (srv.port, QUERY)], stdout=subprocess.PIPE, timeout=30)
            self.assertEqual(r.returncode, 0)
        srv.stop()

    def test_cert_without_key_is_a_usage_error(self):
        r = pbtest.run_cli('serve', '--data', self.dir, '--listen', '127.0.0.1:0', '--tls-cert', self.cert)
        self.assertEqual(r.returncode, 2, r)


if __name__ == '__main__':
    unittest.main()
