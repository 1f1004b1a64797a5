"""What pushbind answers, as the black-box tests expect it: docs/API.md's codes
and messages, account elements, and whole answers built from item codes.
Imported through pbtest, which re-exports every name here."""

# docs/API.md's code table.
OK = 0
E_PARSE = 1008001
E_MISSING = 1008002
E_AUTH = 1008003
E_STORE = 1008004
E_TOKEN = 1008006
E_PARAM = 1008007
E_PARTIAL = 1008026
E_TOTAL = 1008027
E_NO_BINDING = 10110008

MESSAGES = {
    OK: 'ok',
    E_PARSE: 'parameter parse error',
    E_MISSING: 'missing parameter',
    E_AUTH: 'auth failure',
    E_STORE: 'invoke service error',
    E_TOKEN: 'invalid token',
    E_PARAM: 'invalid parameter',
    E_PARTIAL: 'batch op, partly error',
    E_TOTAL: 'batch op, total error',
    1008028: 'request too fast',
    E_NO_BINDING: 'no token, no account',
}


def acc(name, account_type=0):
    """An account element as the API takes it and answers it: account_type only when not 0."""
    d = {'account': name}
    if account_type:
        d['account_type'] = account_type
    return d


def acc_list(*accounts):
    """acc_list('a', ('b', 1)) -> [{"account": "a"}, {"account": "b", "account_type": 1}]"""
    out = []
    for a in accounts:
        if isinstance(a, dict):
            out.append(a)
        elif isinstance(a, tuple):
            out.append(acc(*a))
        else:
            out.append(acc(a))
    return out


def query_error(code):
    """The whole body of a request-level error on /query."""
    return {'retCode': code, 'errMsg': MESSAGES[code], 'ret_code': code, 'err_msg': MESSAGES[code], 'result': []}


def batch_error(code):
    """The whole body of a request-level error on /batchoperate."""
    return {'ret_code': code, 'err_msg': MESSAGES[code], 'result': []}


def batch_answer(*item_codes):
    """The whole body of a batchoperate answer with these item codes."""
    codes = [int(c) for c in item_codes]
    failed = sum(1 for c in codes if c != 0)
    top = OK if failed == 0 else (E_TOTAL if failed == len(codes) else E_PARTIAL)
    return {'ret_code': top, 'err_msg': MESSAGES[top], 'result': [str(c) for c in codes]}


def top_code(item_codes):
    failed = sum(1 for c in item_codes if int(c) != 0)
    return OK if failed == 0 else (E_TOTAL if failed == len(item_codes) else E_PARTIAL)


def query_answer(key, entries, item_codes):
    """The whole body of a query answer: key is 'account_tokens' or 'token_accounts'."""
    top = top_code(item_codes)
    return {'retCode': top, 'errMsg': MESSAGES[top], 'ret_code': top, 'err_msg': MESSAGES[top],
            'result': [str(c) for c in item_codes], key: entries}
