#!/usr/bin/env python3
"""Bulk import on PostgreSQL against its baseline, in one run: the same N
synthetic bindings (scripts/gen-bindings.py, default 1,000,000) loaded by
`pushbind import --store postgresql://…` and by a plain `psql \\copy` of the
same rows into the same table (a fresh schema each time, made by `pushbind
app add`: the bindings table with its primary key and its index by account).
Prints each run, then the medians and the ratio (\\copy's time over pushbind's).

  scripts/bench-import-postgres.py [N [ROUNDS]]      (ROUNDS pairs, default 3)

The server is one the script starts (test/blackbox/pgsingle.py: initdb as the
postgres user, on 127.0.0.1:PORT, default 25490), with its defaults
(synchronous_commit on, fsync on). The pairs alternate, since a shared
machine's load changes from minute to minute. pushbind's time is the whole
command: parsing, COPY into its staging table, judging the limits, the INSERT
… SELECT, COMMIT. \\copy's is psql's whole command.

Environment: PUSHBIND_BIN (build/pushbind), BENCH_DIR (/tmp/pushbind-bench-import),
PG_PORT (25490).
"""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'test', 'blackbox'))
import pgsingle  # noqa: E402

APP, SECRET = '1500001048', '1452fcebae9f3115ba794fb0fff2fd73'


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    binary = os.environ.get('PUSHBIND_BIN', os.path.join(ROOT, 'build', 'pushbind'))
    work = os.environ.get('BENCH_DIR', '/tmp/pushbind-bench-import')
    port = int(os.environ.get('PG_PORT', '25490'))
    os.makedirs(work, exist_ok=True)
    gen = os.path.join(ROOT, 'scripts', 'gen-bindings.py')
    ndjson, copy = os.path.join(work, 'bindings-%d.ndjson' % n), os.path.join(work, 'bindings-%d.pgcopy' % n)
    for path, flags in ((ndjson, []), (copy, ['--pgcopy', APP])):
        if not os.path.exists(path) or os.path.getsize(path) == 0:
            with open(path, 'w') as out:
                subprocess.run([gen] + flags + [str(n)], stdout=out, check=True)
    os.chmod(copy, 0o644)

    server = pgsingle.Postgres(port)
    times = {'pushbind': [], 'copy': []}
    try:
        for r in range(rounds):
            for side in ('pushbind', 'copy'):
                schema = 'bench_%s_%d' % (side, r)
                url = '%s?pushbind_schema=%s' % (server.url, schema)
                subprocess.run([binary, 'app', 'add', '--store', url, '--access-id', APP, '--secret-key', SECRET],
                               check=True, stdout=subprocess.DEVNULL)
                if side == 'pushbind':
                    argv = [binary, 'import', '--store', url, '--access-id', APP, ndjson]
                else:
                    argv = ['psql', '-q', '-v', 'ON_ERROR_STOP=1', server.url,
                            '-c', '\\copy "%s".bindings FROM %s' % (schema, copy)]
                load = open('/proc/loadavg').read().split()[0]
                start = time.monotonic()
                out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip()
                wall = time.monotonic() - start
                times[side].append(wall)
                print('%-9s %7.2f s  %8.0f rows/s  load %s  %s' % (side, wall, n / wall, load, out), flush=True)
                print('          ' + ' '.join(argv))
                subprocess.run(['psql', '-q', server.url, '-c', 'SET client_min_messages = warning',
                                '-c', 'DROP SCHEMA "%s" CASCADE' % schema], check=True)
    finally:
        server.destroy()
    p, c = statistics.median(times['pushbind']), statistics.median(times['copy'])
    print('median: pushbind import %.2f s (%.0f rows/s), psql \\copy %.2f s (%.0f rows/s): %.2f x \\copy (goal >= 0.5)'
          % (p, n / p, c, n / c, c / p))


if __name__ == '__main__':
    main()
