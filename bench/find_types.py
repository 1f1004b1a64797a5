"""Per-request time of finding names under every type: POST /pushbind/v1/account/find against a
query of the same names under each of the console's 40 named types (what the console sent before).

    python3 bench/find_types.py PORT ACCESS_ID SECRET

against a server whose app holds bindings of 11-digit accounts from 13800000000 up (for example
`pushbind import` of lines {"token": …, "account": "%011d" % (13800000000 + i // 2),
"account_type": [0, 0, 0, 1002, 1002, 1005, 1005, 7, 991, 2000][i % 10]}). Sequential requests on
one keep-alive connection, Basic auth; prints the best and the median of 5 rounds of 200.
docs/design.md ("Finding a name under every type") has the figures."""
import base64, http.client, json, sys, time
port, app, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
KNOWN = [0] + list(range(1, 17)) + [991, 992, 997, 998, 999] + list(range(1000, 1016)) + [1999, 2000]
auth = 'Basic ' + base64.b64encode(('%s:%s' % (app, secret)).encode()).decode()
conn = http.client.HTTPConnection('127.0.0.1', port)
def post(path, body):
    conn.request('POST', path, json.dumps(body), {'Authorization': auth, 'Content-Type': 'application/json'})
    r = conn.getresponse(); data = json.loads(r.read()); return data
def names(k, i):
    return ['%011d' % (13800000000 + (i * 37 + j * 1009) % 100000) for j in range(k)]
def run(label, make, n):
    for i in range(20): make(i)
    rounds = []
    for r in range(5):
        t = time.perf_counter()
        for i in range(n): make(i)
        rounds.append((time.perf_counter() - t) / n)
    rounds.sort()
    print('%-40s best %7.3f ms  median %7.3f ms (5 rounds of %d)' % (label, rounds[0] * 1000, rounds[2] * 1000, n))
for k in (1, 25):
    def find(i, k=k):
        a = post('/pushbind/v1/account/find', {'account_list': [{'account': x} for x in names(k, i)]})
        assert a['ret_code'] in (0, 1008026, 1008027), a
    def query(i, k=k):
        a = post('/v3/device/account/query', {'operator_type': 1, 'with_info': True,
              'account_list': [{'account': x, 'account_type': t} for x in names(k, i) for t in KNOWN]})
        assert a['retCode'] in (0, 1008026, 1008027), a
    run('find %d name(s), 6 types used' % k, find, 200)
    run('query %d name(s) x 40 known types' % k, query, 200)
