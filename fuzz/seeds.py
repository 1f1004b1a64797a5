#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/TARGET/) from the test suite.

Decoder seeds are the request bodies the black-box tests send: every dict
literal with an "operator_type" key and every str/bytes literal that starts
with '{', read from test/blackbox/*.py with the ast module. Auth seeds are the
TPNS documentation vector and the header shapes test_auth.py uses, in
fuzz_auth.c's input layout. Store seeds are short change sequences in
fuzz_store.c's layout that reach each change kind and both binding limits.

Run it again after adding tests; file names are content hashes, so it only adds.
"""

import ast
import base64
import glob
import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def write(target, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), 'wb') as f:
        f.write(data)


def test_bodies():
    for path in sorted(glob.glob(os.path.join(ROOT, 'test', 'blackbox', 'test_*.py'))):
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                try:
                    value = ast.literal_eval(node)
                except ValueError:
                    continue
                if 'operator_type' in value:
                    yield json.dumps(value, ensure_ascii=False).encode('utf-8')
            elif isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
                raw = node.value.encode('utf-8') if isinstance(node.value, str) else node.value
                if raw.startswith(b'{'):
                    yield raw


def auth_seeds():
    vector_body = (b'{"audience_type": "account","platform": "android","message": {"title": "test title",'
                   b'"content": "test content","android": { "action": {"action_type": 3,"intent": '
                   b'"xgscheme://com.xg.push/notify_detail?param1=xg"}}},"message_type": "notify",'
                   b'"account_list": ["5822f0eee44c3625ef0000bb"] }')
    sign = b'Y2QyMDc3NDY4MmJmNzhiZmRiNDNlMTdkMWQ1ZDU2YjNlNWI3ODlhMTY3MGZjMTUyN2VmNTRjNjVkMmQ3Yjc2ZA=='
    basic = b'Basic ' + base64.b64encode(b'1500001048:1452fcebae9f3115ba794fb0fff2fd73')
    # mode 0: Authorization \n AccessId \n TimeStamp \n Sign \n body
    yield b'\x00' + b'\n'.join([b'', b'1500001048', b'1565314789', sign, vector_body])
    yield b'\x00' + b'\n'.join([basic, b'', b'', b'', b'{}'])
    yield b'\x00' + b'\n'.join([b'Basic  ' + base64.b64encode(b'1500001048:a:b'), b'', b'', b'', b''])
    yield b'\x00' + b'\n'.join([b'basic ' + base64.b64encode(b'1500001048:x'), b'01500001048', b'-1', b'==', b''])
    # mode 1: offset byte, body
    yield b'\x01\x00' + vector_body
    yield b'\x01\x3c{"operator_type":1}'
    yield b'\x01\xc4{}'
    # mode 2: a secret guess
    yield b'\x02' + b'1452fcebae9f3115ba794fb0fff2fd73'
    yield b'\x02' + b'1452fcebae9f3115ba794fb0fff2fd7'


def store_seeds():
    # batch byte: kind-1 (bits 0-2), app (bit 3), changes-1 (bits 4-5); change byte:
    # token (bits 0-1), n accounts (bits 2-4); one byte per account.
    append, overwrite, remove, clear_token, clear_account = 0, 1, 2, 3, 4
    yield bytes([append, 0 | 3 << 2, 0, 1, 2, remove, 0 | 1 << 2, 1])
    yield bytes([append, 0 | 4 << 2, 0, 1, 2, 3])                               # over the token limit
    yield bytes([append | 2 << 4, 0 | 1 << 2, 5, 1 | 1 << 2, 5, 2 | 1 << 2, 5,
                 append, 3 | 1 << 2, 5])                                         # over the account limit
    yield bytes([overwrite, 1 | 3 << 2, 2, 3, 4, overwrite, 1 | 2 << 2, 4, 6])
    yield bytes([append | 8, 2 | 2 << 2, 0, 1, clear_token, 2, append, 2 | 1 << 2, 0])  # two apps
    yield bytes([append | 1 << 4, 0 | 1 << 2, 7, 1 | 1 << 2, 7, clear_account, 0 | 1 << 2, 7])


def import_line_seeds():
    """Lines in fuzz_import_line.c's layout: a format byte (1: CSV), then the line."""
    ndjson = [
        '{"token":"t1","account":"alice","account_type":1}',
        '{"account_type":7,"account":"al\\"ice","token":"t1"}',
        '{"token":"t","account":"a","account_type":null}\r',
        '{"token":"t","account":"\\u00e9\\ud83d\\ude00","extra":[1,{"x":2}]}',
        '{"token":5,"account":"a"}',
        '{"token":"t","account":"a","account_type":-0}',
    ]
    csv = ['t1,alice,1', 't1,"a,""b""",2', 't1,a', 'token,account,account_type', 't1,a,-0']
    for line in ndjson:
        yield b'\0' + line.encode()
    for line in csv:
        yield b'\1' + line.encode()


def json_writer_seeds():
    """Programs in fuzz_json_writer.c's layout: a kind byte per value (0 object, 1 array, 2 string,
    3 int64, 4 uint64, 5 int64 as a string, 6 bool), then its contents."""
    def string(b):
        return bytes([len(b)]) + b if len(b) < 255 else bytes([255, len(b) >> 4]) + b[:len(b) >> 4 << 4]

    def int64(v):
        return (v & (1 << 64) - 1).to_bytes(8, 'big')

    every_class = bytes(range(0x20)) + b'"\\/ \x7f' + 'é€😀'.encode()
    yield bytes([2]) + string(every_class)
    yield bytes([3]) + int64(-(1 << 63)) + bytes([3]) + int64((1 << 63) - 1) + bytes([4]) + int64((1 << 64) - 1) \
        + bytes([5]) + int64(-(1 << 63)) + bytes([6, 1, 6, 0])
    # an answer's shape: {"retCode":0,"token":"t\"1","account_type":["1008007",true]}
    yield bytes([0, 3, 2]) + string(b'retCode') + bytes([3]) + int64(0) + bytes([0, 2]) + string(b't"1') \
        + bytes([1, 1, 2, 5]) + int64(1008007) + bytes([6, 1])
    yield bytes([1, 7]) + bytes([2]) + string((b'a' * 95 + b'"\n') * 20) + bytes([0, 0, 1, 0])


def main():
    seen = set()
    for body in test_bodies():
        if body in seen:
            continue
        seen.add(body)
        write('decode_query', body)
        write('decode_batch', body)
    for seed in auth_seeds():
        write('auth', seed)
    for seed in store_seeds():
        write('store', seed)
    for seed in import_line_seeds():
        write('import_line', seed)
    for seed in json_writer_seeds():
        write('json_writer', seed)
    print('%d request bodies from the tests' % len(seen))


if __name__ == '__main__':
    main()
