"""Checks HTTP answers against docs/openapi.yaml, so that the document and the
server cannot drift apart.

    openapi_check.check('POST', '/v3/device/account/query', 200,
                        'application/json; charset=utf-8', b'{"retCode":0,...}')

raises AssertionError, saying what differs, unless the document describes the
answer: the path is listed (an unknown path must be the documented 404), the
method is listed (another method must be the documented 405), the status is
one of the operation's responses, the media type is one it lists, and the body
validates against that media type's schema. The pbtest harness calls it on
every answer it reads.

Needs PyYAML and jsonschema (Debian: python3-yaml, python3-jsonschema).
"""

import json
import re
import os
import threading
import urllib.parse

import jsonschema
import yaml

DOC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'docs', 'openapi.yaml'))

_lock = threading.Lock()
_doc = None
_validators = {}

BODY_SHOWN = 600


def _resolve(node, root, seen=()):
    """`node` with every local $ref replaced by what it names. Keys beside a
    $ref (OpenAPI 3.1 allows a description there) are kept over the target's."""
    if isinstance(node, list):
        return [_resolve(v, root, seen) for v in node]
    if not isinstance(node, dict):
        return node
    if '$ref' in node:
        ref = node['$ref']
        if not ref.startswith('#/') or ref in seen:
            raise ValueError('%s: unsupported or cyclic $ref %r' % (DOC, ref))
        target = root
        for part in ref[2:].split('/'):
            target = target[part.replace('~1', '/').replace('~0', '~')]
        merged = dict(_resolve(target, root, seen + (ref,)))
        merged.update({k: _resolve(v, root, seen) for k, v in node.items() if k != '$ref'})
        return merged
    return {k: _resolve(v, root, seen) for k, v in node.items()}


def document():
    """The document, loaded once, with its $refs resolved."""
    global _doc
    with _lock:
        if _doc is None:
            with open(DOC, encoding='utf-8') as f:
                raw = yaml.safe_load(f)
            _doc = _resolve(raw, raw)
        return _doc


def _validator(where, schema):
    with _lock:
        v = _validators.get(where)
        if v is None:
            jsonschema.Draft202012Validator.check_schema(schema)
            v = _validators[where] = jsonschema.Draft202012Validator(schema)
        return v


def _response_for(method, path, status):
    """(where, response object) the document gives for this answer; AssertionError when none."""
    doc = document()
    item = doc['paths'].get(path)
    if item is None:  # a templated path: /console/{asset}
        for template, candidate in doc['paths'].items():
            if '{' in template and re.fullmatch(re.sub(r'\\\{[^/]+?\\\}', '[^/]+', re.escape(template)), path):
                path, item = template, candidate
                break
    if item is None:
        if status != 404:
            raise AssertionError('%s %s answered %d, but the path is not in %s: an unknown path must be '
                                 'its documented 404' % (method, path, status, DOC))
        return '#/components/responses/NotFound', doc['components']['responses']['NotFound']
    op = item.get(method.lower())
    if op is None:
        if status != 405:
            raise AssertionError('%s %s answered %d, but %s lists no %s for the path: another method must be '
                                 'its documented 405' % (method, path, status, DOC, method))
        return '#/components/responses/MethodNotAllowed', doc['components']['responses']['MethodNotAllowed']
    response = op['responses'].get(str(status))
    if response is None:
        raise AssertionError('%s %s answered %d, which %s does not describe (it lists %s)'
                             % (method, path, status, DOC, ', '.join(sorted(op['responses']))))
    return '#/paths/%s/%s/responses/%d' % (path.replace('/', '~1'), method.lower(), status), response


def _shown(body):
    text = body[:BODY_SHOWN].decode('utf-8', 'replace')
    return repr(text) + (' …(%d bytes)' % len(body) if len(body) > BODY_SHOWN else '')


def check(method, path, status, content_type, body):
    """Raises AssertionError unless docs/openapi.yaml describes this answer
    (`content_type` is the Content-Type header or None; `body` bytes)."""
    path = urllib.parse.urlsplit(path).path
    where, response = _response_for(method, path, status)
    content = response.get('content')
    if content is None:
        if body:
            raise AssertionError('%s %s answered %d with a body, but %s has no content'
                                 % (method, path, status, where))
        return
    if content_type is None:
        raise AssertionError('%s %s answered %d without Content-Type; %s has %s'
                             % (method, path, status, where, ', '.join(content)))
    media = content_type.split(';')[0].strip().lower()
    if media not in content:
        raise AssertionError('%s %s answered %d as %r; %s has %s'
                             % (method, path, status, content_type, where, ', '.join(content)))
    if method.upper() == 'HEAD':
        if body:
            raise AssertionError('HEAD %s answered a body' % (path,))
        return
    try:
        text = body.decode('utf-8')
        value = json.loads(text) if media == 'application/json' else text
    except ValueError as e:
        raise AssertionError('%s %s answered %d with a body that is not %s (%s): %s'
                             % (method, path, status, media, e, _shown(body)))
    schema_at = '%s/content/%s/schema' % (where, media.replace('/', '~1'))
    error = jsonschema.exceptions.best_match(_validator(schema_at, content[media]['schema']).iter_errors(value))
    if error is not None:
        raise AssertionError('%s %s answered %d, which does not match %s %s: %s (at %s; schema path %s)\n'
                             '  body: %s'
                             % (method, path, status, os.path.basename(DOC), schema_at, error.message,
                                error.json_path, '/'.join(str(p) for p in error.absolute_schema_path),
                                _shown(body)))
