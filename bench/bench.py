#!/usr/bin/env python3
"""`make bench`: pushbind against the stack a user would hand-roll, in one run.

Starts pushbind (three data sets), nginx (the HTTP ceiling) and two Redis
servers on 127.0.0.1:31000-31199, then runs every scenario as A B A B ... for
ROUNDS rounds and reports medians. Prints one table and writes it, with the
exact commands, to bench/results/latest.md. Expects build-bench/ to hold a
release build (the Makefile's bench target does that and installs the tools).
PB_BENCH_ONLY=http runs the HTTP rows alone (scenarios 1 and 2, on the 1M set);
PB_BENCH_ONLY=tags the tag rows alone (6-8b, bench/tag_rows.py).
"""

import base64
import ssl
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'blackbox'))
from pbtest import sign  # noqa: E402  (the same Signature code the tests use)
import tag_rows  # noqa: E402  (bench/, beside this file)

BIN = os.path.join(ROOT, 'build-bench', 'pushbind')
LOAD = os.path.join(ROOT, 'build-bench', 'bench_load')
WRK_DIR = os.path.join(ROOT, 'bench', 'wrk')
DATA = os.environ.get('PB_BENCH_DATA', os.path.join(ROOT, 'build-bench', 'data'))
ONLY = os.environ.get('PB_BENCH_ONLY', '')
# A partial run (PB_BENCH_ONLY) does not replace the whole run's table.
RESULTS = os.path.join(ROOT, 'bench', 'results', (ONLY or 'latest') + '.md')

ACCESS_ID = '1500001048'
SECRET = '1452fcebae9f3115ba794fb0fff2fd73'
BASIC = 'Basic ' + base64.b64encode(('%s:%s' % (ACCESS_ID, SECRET)).encode()).decode()
QUERY = '/v3/device/account/query'

ROUNDS = int(os.environ.get('PB_BENCH_ROUNDS', '3'))
SECONDS = int(os.environ.get('PB_BENCH_SECONDS', '5'))
CONNECTIONS = 64
PORTS = {'nginx': 31001, 'redis': 31002, 'redis_fsync': 31003, 'nginx_log': 31004, 'nginx_tls': 31005,
         'pb_1m': 31010, 'pb_10k': 31011, 'pb_10m': 31012, 'pb_1m_log': 31013, 'pb_1m_tls': 31014}
# HTTP/2: connections and concurrent streams on each (h2load -c, -m).
H2_CLIENTS = 16
H2_STREAMS = 16
ONE_ACCOUNT_BODY = b'{"operator_type":1,"account_list":[{"account":"000000000000"}]}'
# Accounts per data set; each account has 2 tokens.
SETS = {'10k': 5000, '1m': 500000, '10m': 5000000}

LOAD_AT_START = os.getloadavg()  # the machine's load when the run began, for the report
commands = []  # every load-generating command, for the report
procs = []


def log(msg):
    print('bench: ' + msg, file=sys.stderr, flush=True)


def run(argv, env=None, shown_env=None, shown_argv=None, **kw):
    """Runs a load command, recording it (with the variables it was given) for the report;
    shown_argv, when given, is recorded instead of argv (to keep a credential out)."""
    shown = ' '.join('%s=%s' % (k, v) for k, v in sorted((shown_env or {}).items()))
    commands.append((shown + ' ' if shown else '') + ' '.join(shown_argv or argv))
    return subprocess.run(argv, env=env, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def start(argv, **kw):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    procs.append(p)
    return p


# The processes that serve each port's requests (pushbind; nginx's workers), for CPU per request.
server_pids = {}
cpu_costs = {}  # row -> {'pushbind': [µs per request, ...], 'baseline': [...]}
round_figures = {}  # row -> {'pushbind': [req/s of each round, ...], 'baseline': [...]}


def cpu_seconds(pids):
    """utime + stime of `pids`, in seconds."""
    total = 0
    for pid in pids:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf('SC_CLK_TCK')


def costed(row, side, key, run):
    """run()'s (figure, p50, p99), noting the server's CPU time per request
    (utime + stime of every process serving PORTS[key]) under cpu_costs[row]."""
    before = cpu_seconds(server_pids[key])
    result = run()
    requests = result[0] * SECONDS
    spent = cpu_seconds(server_pids[key]) - before
    cpu_costs.setdefault(row, {}).setdefault(side, []).append(spent / requests * 1e6)
    round_figures.setdefault(row, {}).setdefault(side, []).append(result[0])
    return result


def wait_http(port, path='/healthz', timeout=60, scheme='http'):
    deadline = time.time() + timeout
    context = ssl._create_unverified_context() if scheme == 'https' else None  # the run's own certificate
    while time.time() < deadline:
        try:
            urllib.request.urlopen('%s://127.0.0.1:%d%s' % (scheme, port, path), timeout=1, context=context).read()
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit('bench: nothing answers on port %d' % port)


# ---- data -------------------------------------------------------------------

def load_set(name):
    """A pushbind data directory for data set `name`, made once and reused
    while the loader and the key layout are unchanged (a 10M load takes minutes)."""
    stamp = subprocess.run(['bash', '-c', 'set -o pipefail; cat bench/load.c src/store/lmdb/keys.h | sha1sum'],
                           cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout.split()[0]
    path = os.path.join(DATA, name)
    stamp_file = os.path.join(path, 'stamp')
    if os.path.exists(stamp_file) and open(stamp_file).read() == stamp:
        log('data set %s: reusing %s' % (name, path))
        return path, None
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    log('data set %s: loading %d bindings' % (name, SETS[name] * 2))
    t = time.time()
    run([LOAD, 'store', os.path.join(path, 'db'), ACCESS_ID, SECRET, str(SETS[name])])
    elapsed = time.time() - t
    with open(stamp_file, 'w') as f:
        f.write(stamp)
    return path, elapsed


def data_bytes(path):
    return sum(os.path.getsize(os.path.join(path, 'db', f)) for f in os.listdir(os.path.join(path, 'db')))


# ---- servers ----------------------------------------------------------------

def start_pushbind(key, path, tmp=None, args=('--log-format', 'off'), scheme='http'):
    """Serves data set `path`; on a copy in `tmp` when the run writes to it, so
    that the kept set stays as loaded. Access log off unless `args` say
    otherwise: each baseline runs nginx with its access log as pushbind's."""
    db = os.path.join(path, 'db')
    if tmp is not None:
        copy = os.path.join(tmp, key)
        shutil.copytree(db, copy)
        db = copy
    server_pids[key] = [start([BIN, 'serve', '--data', db, '--listen', '127.0.0.1:%d' % PORTS[key]] + list(args)).pid]
    wait_http(PORTS[key], scheme=scheme)


def make_certificate(tmp):
    """A self-signed P-256 certificate for 127.0.0.1, served by pushbind and nginx alike."""
    cert, key = os.path.join(tmp, 'cert.pem'), os.path.join(tmp, 'key.pem')
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1'],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def peak_rss_kib(proc):
    for line in open('/proc/%d/status' % proc.pid):
        if line.startswith('VmHWM:'):
            return int(line.split()[1])
    return 0


def start_nginx(tmp, body, cert, key):
    """nginx answering `body` on the query path: without access log, with one
    (to a file, its default format) and over TLS (HTTP/1.1 and HTTP/2)."""
    conf = os.path.join(tmp, 'nginx.conf')
    with open(conf, 'w') as f:
        f.write('''worker_processes 2;
daemon off;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    # Also HTTP/2's limit since nginx 1.19.7 (http2_max_requests before): h2load
    # does not reconnect, so the default 1000 would end a run early.
    keepalive_requests 10000000;
    client_body_temp_path %(tmp)s;
    proxy_temp_path %(tmp)s;
    fastcgi_temp_path %(tmp)s;
    uwsgi_temp_path %(tmp)s;
    scgi_temp_path %(tmp)s;
    server {
        listen 127.0.0.1:%(port)d reuseport;
        location = %(path)s {
            default_type "application/json; charset=utf-8";
            return 200 '%(body)s';
        }
    }
    server {
        listen 127.0.0.1:%(port_log)d reuseport;
        access_log %(tmp)s/nginx-access.log;
        location = %(path)s {
            default_type "application/json; charset=utf-8";
            return 200 '%(body)s';
        }
    }
    server {
        listen 127.0.0.1:%(port_tls)d ssl http2 reuseport;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        location = %(path)s {
            default_type "application/json; charset=utf-8";
            return 200 '%(body)s';
        }
    }
}
''' % {'tmp': tmp, 'port': PORTS['nginx'], 'port_log': PORTS['nginx_log'], 'port_tls': PORTS['nginx_tls'],
       'cert': cert, 'key': key, 'path': QUERY, 'body': body})
    master = start(['nginx', '-c', conf, '-p', tmp])
    wait_http(PORTS['nginx'], QUERY)
    wait_http(PORTS['nginx_log'], QUERY)
    wait_http(PORTS['nginx_tls'], QUERY, scheme='https')
    workers = [int(p) for p in subprocess.run(['pgrep', '-P', str(master.pid)], stdout=subprocess.PIPE, text=True,
                                              check=True).stdout.split()]
    for key in ('nginx', 'nginx_log', 'nginx_tls'):
        server_pids[key] = workers


def start_redis(tmp, key, fsync):
    argv = ['redis-server', '--port', str(PORTS[key]), '--bind', '127.0.0.1', '--save', '', '--dir', tmp,
            '--dbfilename', key + '.rdb', '--protected-mode', 'no']
    if fsync:
        argv += ['--appendonly', 'yes', '--appendfsync', 'always', '--appendfilename', key + '.aof']
    else:
        argv += ['--appendonly', 'no']
    start(argv)
    for _ in range(100):
        if subprocess.run(['redis-cli', '-p', str(PORTS[key]), 'ping'], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL).stdout.strip() == b'PONG':
            return
        time.sleep(0.1)
    raise SystemExit('bench: redis on %d did not start' % PORTS[key])


# ---- load generators ----------------------------------------------------------

def wrk(script, port, env_extra, seconds=SECONDS, scheme='http'):
    env = dict(os.environ, PB_WRK_DIR=WRK_DIR, PB_BASIC=BASIC, **env_extra)
    argv = ['wrk', '-t2', '-c%d' % CONNECTIONS, '-d%ds' % seconds, '--latency', '-s',
            os.path.join(WRK_DIR, script), '%s://127.0.0.1:%d' % (scheme, port)]
    shown = dict(env_extra, PB_WRK_DIR='bench/wrk', PB_BASIC="'Basic <base64 of id:secret>'")
    out = run(argv, env=env, shown_env=shown).stdout
    rps = float(re.search(r'Requests/sec:\s+([\d.]+)', out).group(1))
    lat = {p: parse_ms(re.search(r'^\s+%s%%\s+(\S+)' % p, out, re.M).group(1)) for p in ('50', '99')}
    errors = re.search(r'Non-2xx or 3xx responses: (\d+)', out)
    bad = re.search(r'bad answers: (\d+)', out)
    if errors or (bad and int(bad.group(1))) or 'Socket errors' in out:
        log('wrk reported errors:\n' + out)
    return rps, lat['50'], lat['99']


def h2load(port, body_file, seconds=SECONDS):
    """HTTP/2 over TLS: H2_CLIENTS connections with H2_STREAMS streams each,
    all posting the one-account query in `body_file`. h2load prints no
    percentiles, so the latencies are None."""
    argv = ['h2load', '-t2', '-c%d' % H2_CLIENTS, '-m%d' % H2_STREAMS, '-D', str(seconds), '-d', body_file,
            '-H', 'content-type: application/json', '-H', 'authorization: ' + BASIC,
            'https://127.0.0.1:%d%s' % (port, QUERY)]
    shown = [shlex.quote('authorization: Basic <base64 of id:secret>' if a.startswith('authorization: ') else
                         '<%s>' % os.path.basename(a) if a == body_file else a) for a in argv]
    out = run(argv, shown_argv=shown).stdout
    rps = float(re.search(r'finished in [\d.]+s, ([\d.]+) req/s', out).group(1))
    done = re.search(r'requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded', out)
    ok = re.search(r'status codes: (\d+) 2xx', out)
    if 'Application protocol: h2' not in out or done is None or ok is None or \
            int(done.group(2)) != int(done.group(1)) or int(ok.group(1)) != int(done.group(1)):
        log('h2load reported errors:\n' + out)
    return rps, None, None


def parse_ms(text):
    m = re.match(r'([\d.]+)(us|ms|s)$', text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == 'us' else value * 1000 if unit == 's' else value


def redis_benchmark(port, args):
    argv = ['redis-benchmark', '-p', str(port), '-c', str(CONNECTIONS), '--csv'] + args
    out = run(argv).stdout.strip().splitlines()
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    row = [c.strip('"') for c in out[-1].split(',')]
    return float(row[1]), float(row[4]), float(row[6])


# ---- the run ------------------------------------------------------------------

def alternate(name, a, b):
    """Runs a() and b() in turn ROUNDS times; returns the median of each
    (the figure, p50, p99 of the round with the median figure)."""
    ra, rb = [], []
    for r in range(ROUNDS):
        ra.append(a(r))
        rb.append(b(r))
        log('%s round %d: %.0f vs %.0f' % (name, r + 1, ra[-1][0], rb[-1][0]))
    return median_run(ra), median_run(rb), ra, rb


def median_run(runs):
    """(median figure, p50, p99), the latencies from the run nearest the median."""
    figure = statistics.median(r[0] for r in runs)
    nearest = min(runs, key=lambda r: abs(r[0] - figure))
    return (figure,) + tuple(nearest[1:])


def signed_queries(tmp, accounts):
    """Bodies with their Sign headers, one TimeStamp (the server allows 600 s)."""
    import random
    ts = str(int(time.time()))
    path = os.path.join(tmp, 'signed.lua')
    rng = random.Random(7)
    bodies, signs = [], []
    for _ in range(4096):
        body = '{"operator_type":1,"account_list":[{"account":"%012d"}]}' % rng.randrange(accounts)
        bodies.append(body)
        signs.append(sign(SECRET, ACCESS_ID, ts, body.encode()))
    with open(path, 'w') as f:
        f.write('return {access_id = "%s", timestamp = "%s",\n bodies = {%s},\n signs = {%s}}\n' % (
            ACCESS_ID, ts, ','.join("'%s'" % b for b in bodies), ','.join('"%s"' % s for s in signs)))
    return path


def main():
    if ONLY == 'tags':
        return main_tags()
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix='pushbind-bench-')
    results = []
    http_only = ONLY == 'http'
    bytes_10m = rss_10m = None
    tag_lines = []
    try:
        sets, load_seconds = {}, {}
        for name in ('1m',) if http_only else ('10k', '1m', '10m'):
            sets[name], load_seconds[name] = load_set(name)
        cert, key = make_certificate(tmp)
        start_pushbind('pb_1m', sets['1m'], tmp)  # scenario 4 writes to it
        # The same set, read only: with the access log on (to a file), and over TLS.
        start_pushbind('pb_1m_log', sets['1m'], args=('--log-file', os.path.join(tmp, 'pushbind-access.log')))
        start_pushbind('pb_1m_tls', sets['1m'], args=('--log-format', 'off', '--tls-cert', cert, '--tls-key', key),
                       scheme='https')
        if not http_only:
            bytes_10m = data_bytes(sets['10m'])
            start_pushbind('pb_10k', sets['10k'])
            start_pushbind('pb_10m', sets['10m'])
            pb_10m_proc = procs[-1]

        # nginx answers the exact bytes pushbind answers for one account.
        req = urllib.request.Request('http://127.0.0.1:%d%s' % (PORTS['pb_1m'], QUERY),
                                     data=ONE_ACCOUNT_BODY, headers={'Authorization': BASIC})
        canned = urllib.request.urlopen(req).read().decode()
        assert "'" not in canned and '"retCode":0' in canned, canned
        start_nginx(tmp, canned, cert, key)
        body_file = os.path.join(tmp, 'one-account.json')
        with open(body_file, 'wb') as f:
            f.write(ONE_ACCOUNT_BODY)

        if not http_only:
            start_redis(tmp, 'redis', fsync=False)
            start_redis(tmp, 'redis_fsync', fsync=True)
            log('loading Redis with the 1M data set')
            commands.append('%s resp %d | redis-cli -p %d --pipe' % (LOAD, SETS['1m'], PORTS['redis']))
            subprocess.run('%s resp %d | redis-cli -p %d --pipe >/dev/null' % (LOAD, SETS['1m'], PORTS['redis']),
                           shell=True, check=True)

        signed = signed_queries(tmp, SETS['1m'])
        one = {'PB_ACCOUNTS': str(SETS['1m'])}
        # Warm-up: page cache and connections, not measured.
        warm = [('pb_1m', SETS['1m']), ('pb_1m_log', SETS['1m'])]
        if not http_only:
            warm += [('pb_10k', SETS['10k']), ('pb_10m', SETS['10m'])]
        for key, accounts in warm:
            wrk('query.lua', PORTS[key], {'PB_ACCOUNTS': str(accounts)}, seconds=2)
        for key in ('nginx', 'nginx_log'):
            wrk('query.lua', PORTS[key], one, seconds=1)
        for key in ('pb_1m_tls', 'nginx_tls'):
            wrk('query.lua', PORTS[key], one, seconds=1, scheme='https')

        # 1 and 2: one round runs nginx, Basic and Signature.
        ng, basic, sig = [], [], []
        for r in range(ROUNDS):
            ng.append(costed('1', 'baseline', 'nginx', lambda: wrk('query.lua', PORTS['nginx'], one)))
            # Basic and Signature swap places each round, so neither always follows nginx.
            for auth in (('basic', 'sign') if r % 2 == 0 else ('sign', 'basic')):
                if auth == 'basic':
                    basic.append(costed('1', 'pushbind', 'pb_1m', lambda: wrk('query.lua', PORTS['pb_1m'], one)))
                else:
                    sig.append(wrk('query_sign.lua', PORTS['pb_1m'], {'PB_SIGNED': signed}))
            log('1/2 round %d: nginx %.0f, basic %.0f, signature %.0f' % (r + 1, ng[-1][0], basic[-1][0], sig[-1][0]))
        ng, basic, sig = median_run(ng), median_run(basic), median_run(sig)
        results.append(('1. query 1 account, Basic auth, access logs off (req/s)', basic, 'nginx canned', ng, 0.95))
        results.append(('2. same, Signature auth (req/s)', sig, 'scenario 1', basic, 0.9))

        # 1b: both access logs on, to a file. 1c, 1d: HTTPS, access logs off.
        pb, base, _, _ = alternate(
            '1b', lambda r: costed('1b', 'pushbind', 'pb_1m_log', lambda: wrk('query.lua', PORTS['pb_1m_log'], one)),
            lambda r: costed('1b', 'baseline', 'nginx_log', lambda: wrk('query.lua', PORTS['nginx_log'], one)))
        results.append(('1b. same as 1, access logs on (req/s)', pb, 'nginx canned, access_log on', base, 0.9))
        pb, base, _, _ = alternate(
            '1c', lambda r: costed('1c', 'pushbind', 'pb_1m_tls',
                                   lambda: wrk('query.lua', PORTS['pb_1m_tls'], one, scheme='https')),
            lambda r: costed('1c', 'baseline', 'nginx_tls',
                             lambda: wrk('query.lua', PORTS['nginx_tls'], one, scheme='https')))
        results.append(('1c. same as 1, HTTPS HTTP/1.1 (req/s)', pb, 'nginx canned, TLS', base, 0.85))
        pb, base, _, _ = alternate(
            '1d', lambda r: costed('1d', 'pushbind', 'pb_1m_tls', lambda: h2load(PORTS['pb_1m_tls'], body_file)),
            lambda r: costed('1d', 'baseline', 'nginx_tls', lambda: h2load(PORTS['nginx_tls'], body_file)))
        results.append(('1d. account 0 over HTTPS HTTP/2, %d streams x %d connections (req/s)' % (
            H2_STREAMS, H2_CLIENTS), pb, 'nginx canned, TLS, HTTP/2', base, 0.85))

        if not http_only:
            # 3: account lookups per second.
            def pb100(r):
                rps, p50, p99 = wrk('query.lua', PORTS['pb_1m'], dict(one, PB_PER_QUERY='100'))
                return rps * 100, p50, p99
            pb, rd, _, _ = alternate('3', pb100, lambda r: redis_benchmark(
                PORTS['redis'], ['-P', '100', '-n', '4000000', '-r', str(SETS['1m']), 'SMEMBERS', '__rand_int__']))
            results.append(('3. 100 accounts per query (lookups/s)', pb, 'redis SMEMBERS -P 100', rd, 1.0))

            # 5: scale, 10M against 10k.
            big, small, _, _ = alternate(
                '5', lambda r: wrk('query.lua', PORTS['pb_10m'], {'PB_ACCOUNTS': str(SETS['10m'])}),
                lambda r: wrk('query.lua', PORTS['pb_10k'], {'PB_ACCOUNTS': str(SETS['10k'])}))
            results.append(('5. query 1 account on 10M bindings (req/s)', big, 'same on 10k', small, 0.9))
            rss_10m = peak_rss_kib(pb_10m_proc)

            # 4: durable binds, last (it grows the 1M set).
            def pbbind(r):
                rps, p50, p99 = wrk('bind.lua', PORTS['pb_1m'], {'PB_RUN': '%d%d' % (int(t0) % 100000, r)})
                return rps * 20, p50, p99
            pb, rd, _, _ = alternate('4', pbbind, lambda r: redis_benchmark(
                PORTS['redis_fsync'], ['-n', '150000', '-r', '100000000', 'SADD', '__rand_int__', '__rand_int__']))
            results.append(('4. durable binds, 20 per request (bindings/s)', pb, 'redis SADD appendfsync always',
                            rd, 1.0))
            results_tags, tag_lines = tag_rows.measure(sys.modules[__name__], tmp)
            results += results_tags
    finally:
        stop_all(tmp)

    report(results, bytes_10m, rss_10m, load_seconds, time.time() - t0, tag_lines)


def stop_all(tmp):
    """Stops every server the run started and removes its directory."""
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)


def main_tags():
    """PB_BENCH_ONLY=tags: the tag rows alone, on servers of their own."""
    t0 = time.time()
    tmp = tempfile.mkdtemp(prefix='pushbind-bench-')
    try:
        results, tag_lines = tag_rows.measure(sys.modules[__name__], tmp)
    finally:
        stop_all(tmp)
    report(results, None, None, {}, time.time() - t0, tag_lines)


def report(results, bytes_10m, rss_10m, load_seconds, elapsed, tag_lines):
    lines = ['| scenario | pushbind | baseline | baseline figure | ratio | goal | pushbind p50/p99 ms | baseline p50/p99 ms |',
             '|---|---|---|---|---|---|---|---|']

    def latencies(run):
        return '- / -' if run[1] is None else '%.2f / %.2f' % (run[1], run[2])

    for name, pb, base_name, base, goal in sorted(results, key=lambda r: r[0]):
        ratio = pb[0] / base[0]
        lines.append('| %s | %.0f | %s | %.0f | %.2f | >= %g %s | %s | %s |' % (
            name, pb[0], base_name, base[0], ratio, goal, 'met' if ratio >= goal else 'NOT met',
            latencies(pb), latencies(base)))
    extra = ['']
    if bytes_10m is not None:
        per_binding = bytes_10m / (SETS['10m'] * 2)
        extra += [
            '- data directory at 10M bindings: %d bytes, %.0f bytes per binding (goal <= 200: %s)' % (
                bytes_10m, per_binding, 'met' if per_binding <= 200 else 'NOT met'),
            '- peak RSS of the server holding 10M bindings (VmHWM): %.0f MiB' % (rss_10m / 1024),
        ]
    # A machine that speeds up or slows down between rounds moves both medians; a round's
    # ratio compares two runs made next to each other.
    for row, sides in sorted(round_figures.items()):
        ratios = [pb / base for pb, base in zip(sides['pushbind'], sides['baseline'])]
        extra.append('- row %s round by round (pushbind / the baseline run next to it): %s; median %.2f' % (
            row, ', '.join('%.2f' % r for r in ratios), statistics.median(ratios)))
    for row, sides in sorted(cpu_costs.items()):
        pb, base = statistics.median(sides['pushbind']), statistics.median(sides['baseline'])
        extra.append('- server CPU per request in row %s (utime + stime of the serving processes, median of the '
                     'rounds): pushbind %.1f µs, baseline %.1f µs, %.2f × the baseline\'s' % (row, pb, base, pb / base))
    extra += tag_lines
    if load_seconds:
        extra.append('- data sets loaded in this run (seconds): %s' % ', '.join(
            '%s %.0f' % (k, v) for k, v in load_seconds.items() if v is not None) if any(
            v is not None for v in load_seconds.values()) else '- data sets reused from an earlier run')
    if ONLY == 'tags':
        extra.append('- %d rounds, A B A B, median; whole run %.0f s' % (ROUNDS, elapsed))
    else:
        extra.append('- %d rounds, A B A B, median; wrk runs %d s with %d connections, h2load %d s with %d x %d '
                     'streams; whole run %.0f s' % (ROUNDS, SECONDS, CONNECTIONS, SECONDS, H2_CLIENTS, H2_STREAMS,
                                                    elapsed))
    table = '\n'.join(lines + extra)
    print(table)
    cores = os.cpu_count()
    cpu = ''
    for line in open('/proc/cpuinfo'):
        if line.startswith('model name'):
            cpu = line.split(':', 1)[1].strip()
            break
    unique = []
    for c in commands:
        generic = re.sub(r'PB_RUN=\S+', 'PB_RUN=<round>', re.sub(r'PB_SIGNED=\S+', 'PB_SIGNED=<signed.lua>', c))
        if generic not in unique:
            unique.append(generic)
    with open(RESULTS, 'w') as f:
        f.write('# pushbind benchmark (`make bench`)\n\n')
        f.write('Machine: %d cores (%s), %s. Written %s. Load average (1, 5, 15 min) at the start %s, at the '
                'end %s.\n\n' % (cores, cpu, os.uname().release, time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()),
                                  '%.2f %.2f %.2f' % LOAD_AT_START, '%.2f %.2f %.2f' % os.getloadavg()))
        f.write(table + '\n\n## Commands\n\nRun from the repository root.\n\n```\n' +
                '\n'.join(c.replace(ROOT + '/', '') for c in unique) + '\n```\n')
    log('written to %s' % os.path.relpath(RESULTS, ROOT))


if __name__ == '__main__':
    main()
