#!/usr/bin/env python3
"""Writes N synthetic bindings as NDJSON (or CSV) for `pushbind import`.

Tokens are 40 random hex digits (the shape of a TPNS token, in random order so
the store sees no sorted input); accounts are 11-digit phone numbers, about
two devices per account, account_type 1. Seeded: the same N gives the same file.

--resp writes the same bindings as Redis commands for `redis-cli --pipe`, the
two a minimal binding registry needs per binding: SADD a:ACCOUNT TOKEN (the
account's tokens) and SADD t:TOKEN ACCOUNT (the token's accounts).

--pgcopy APP writes the same bindings as rows of the PostgreSQL store's
bindings table in COPY's text format (app, seq, bind_time, last_bind_time,
atype, platform, token, account), for a plain `psql \copy` to compare with.

  scripts/gen-bindings.py 10000000 > /tmp/bindings.ndjson
  scripts/gen-bindings.py --csv 1000 > /tmp/bindings.csv
  scripts/gen-bindings.py --resp 10000000 > /tmp/bindings.resp
  scripts/gen-bindings.py --pgcopy 1500001048 1000000 > /tmp/bindings.copy
"""
import argparse
import random
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('count', type=int)
    parser.add_argument('--csv', action='store_true', help='CSV with a header instead of NDJSON')
    parser.add_argument('--resp', action='store_true', help='Redis commands (RESP) for redis-cli --pipe')
    parser.add_argument('--pgcopy', type=int, metavar='APP', help="rows of the PostgreSQL store's bindings table")
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    accounts = max(1, args.count // 2)
    out = sys.stdout
    if args.csv:
        out.write('token,account,account_type\n')
        template = '%040x,1%010d,1\n'
    elif args.resp:
        template = ('*3\r\n$4\r\nSADD\r\n$13\r\na:1%(account)010d\r\n$40\r\n%(token)040x\r\n'
                    '*3\r\n$4\r\nSADD\r\n$42\r\nt:%(token)040x\r\n$11\r\n1%(account)010d\r\n')
    elif args.pgcopy is not None:
        template = '%d\t%%d\t1800000000\t1800000000\t1\t0\t%%040x\t1%%010d\n' % args.pgcopy
    else:
        template = '{"token":"%040x","account":"1%010d","account_type":1}\n'
    chunk = []
    for seq in range(1, args.count + 1):
        token, account = rng.getrandbits(160), rng.randrange(accounts)
        if args.resp:
            chunk.append(template % {'token': token, 'account': account})
        elif args.pgcopy is not None:
            chunk.append(template % (seq, token, account))
        else:
            chunk.append(template % (token, account))
        if len(chunk) == 65536:
            out.write(''.join(chunk))
            chunk.clear()
    out.write(''.join(chunk))


if __name__ == '__main__':
    main()
