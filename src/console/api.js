/*
 * pushbind console: signing and calling the public API. Signs every call in
 * the browser (TPNS Signature over TimeStamp + AccessId + body, HMAC-SHA256
 * through WebCrypto), so the console can do nothing a back end holding the
 * same key cannot.
 *
 * The SecretKey lives only in `session` (as a non-extractable CryptoKey): not
 * in storage, a cookie or the URL. A reload signs out, and console.js signs
 * out when the page is left or idle. Loaded before
 * the view (view.js, actions.js, console.js), which shares these names as
 * plain scripts do.
 */
'use strict';

const QUERY = '/v3/device/account/query';
const BATCH = '/v3/device/account/batchoperate';
const APP = '/pushbind/v1/app';
const FIND = '/pushbind/v1/account/find';
const SKEW_SECONDS = 60; /* a clock further off than this is named when auth fails */

const E_AUTH = 1008003, E_STORE = 1008004, E_TOKEN = 1008006, E_PARAM = 1008007;
const E_RATE = 1008028, E_NO_BINDING = 10110008;

/* Signed in: {accessId, key, limits, bindings, typesUsed (as the last find answered)}; null when signed out. */
let session = null;

/* ---- Signing and calling the API ----------------------------------------- */

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');
}

async function importKey(secret) {
  return crypto.subtle.importKey('raw', new TextEncoder().encode(secret), {name: 'HMAC', hash: 'SHA-256'},
                                 false, ['sign']);
}

/* docs/API.md: Sign = base64(hex_lowercase(HMAC-SHA256(SecretKey, TimeStamp + AccessId + body))). */
async function signature(key, timestamp, accessId, body) {
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(timestamp + accessId + body));
  return btoa(hex(mac));
}

class ApiError extends Error {
  /* `unanswered`: no HTTP answer at all (the server is down or unreachable); `answer`: the refusal's body. */
  constructor(message, code, unanswered, answer) {
    super(message);
    this.code = code;
    this.unanswered = !!unanswered;
    this.answer = answer;
  }
}

/* The sentence for a failed sign-in or call, naming what to check. */
function authMessage(serverDate) {
  if (serverDate) {
    const skew = Math.round((Date.now() - serverDate.getTime()) / 1000);
    if (Math.abs(skew) > SKEW_SECONDS) {
      const way = skew > 0 ? 'ahead of' : 'behind';
      return 'This computer\'s clock is ' + describeSeconds(Math.abs(skew)) + ' ' + way + ' the server\'s. ' +
             'Signed requests carry the time and the server refuses one outside its window (600 s unless ' +
             '--timestamp-window says otherwise): set this computer\'s clock right (NTP), then sign in again.';
    }
  }
  return 'The server refused the key (1008003 auth failure): check the AccessId and the SecretKey ' +
         '(the key `pushbind app add` printed for that app), and that the app exists on this server ' +
         '(`pushbind app list`).';
}

function describeSeconds(s) {
  if (s < 120) return s + ' seconds';
  if (s < 7200) return Math.round(s / 60) + ' minutes';
  if (s < 172800) return Math.round(s / 3600) + ' hours';
  return Math.round(s / 86400) + ' days';
}

function requestMessage(code, answer) {
  switch (code) {
  case E_AUTH: return null; /* authMessage() knows more */
  case E_STORE: return 'The server could not reach its store (1008004); nothing was changed. Try again, and ' +
                       'check /healthz and the server log.';
  case E_RATE: return 'This app is over its rate limit (1008028); wait a moment and try again.';
  case E_PARAM: return 'The server refused the request as a whole (1008007 invalid parameter): a list is ' +
                       'longer than its limit or a value is out of range.';
  default: return 'The server answered ' + code + ' (' + ((answer && (answer.err_msg || answer.errMsg)) || '?') + ').';
  }
}

/* Sends a signed request; resolves to the parsed answer, or throws ApiError with a sentence. */
async function call(method, path, payload) {
  if (!session) throw new ApiError('Not signed in.');
  const body = payload === undefined ? '' : JSON.stringify(payload);
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers = {
    'AccessId': session.accessId,
    'TimeStamp': timestamp,
    'Sign': await signature(session.key, timestamp, session.accessId, body),
  };
  if (body) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(path, {method, headers, body: body || undefined, cache: 'no-store',
                                  credentials: 'omit', referrerPolicy: 'no-referrer'});
  } catch (e) {
    throw new ApiError('The server did not answer (' + e.message + '). Is pushbind running, and is this its address?',
                       undefined, true);
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch (e) {
    answer = null;
  }
  if (response.status !== 200 || !answer || typeof answer !== 'object') {
    throw new ApiError('The server answered HTTP ' + response.status + ' to ' + path +
                       (response.status === 404 ? ': is this server new enough to have it?' : '.'));
  }
  const code = answer.ret_code !== undefined ? answer.ret_code : answer.retCode;
  if (code === E_AUTH) {
    const date = response.headers.get('Date');
    throw new ApiError(authMessage(date ? new Date(date) : null), code);
  }
  if (code !== 0 && code !== 1008026 && code !== 1008027) {
    throw new ApiError(requestMessage(code, answer), code, false, answer);
  }
  return answer;
}

/* ---- Queries -------------------------------------------------------------- */

/* Runs queries of at most the server's max_query_items; returns the entries in input order. */
async function query(kind, items) {
  const size = Math.max(1, (session.limits && session.limits.max_query_items) || 100);
  const entries = [];
  for (let i = 0; i < items.length; i += size) {
    const chunk = items.slice(i, i + size);
    const body = kind === 'account'
      ? {operator_type: 1, account_list: chunk.map((a) => accountItem(a.account, a.account_type)), with_info: true}
      : {operator_type: 2, token_list: chunk, with_info: true};
    const answer = await call('POST', QUERY, body);
    const list = (kind === 'account' ? answer.account_tokens : answer.token_accounts) || [];
    chunk.forEach((item, j) => entries.push(toEntry(kind, item, list[j], (answer.result || [])[j])));
  }
  return entries;
}

/*
 * Looks accounts up; an item whose account_type is '' is found under every
 * type the app uses (findNames()), the others are queried under their type.
 * Returns, in input order, the entries found; a name found under no type
 * gives one entry with code E_NO_BINDING and `tried`, the app's types that
 * were looked under.
 */
async function findAccounts(items) {
  const names = items.filter((item) => item.account_type === '');
  const typed = items.filter((item) => item.account_type !== '');
  const byName = await findNames(names.map((item) => item.account));
  const queried = typed.length ? await query('account', typed) : [];
  const entries = [];
  let n = 0, q = 0;
  for (const item of items) {
    if (item.account_type === '') entries.push(...byName[n++]);
    else entries.push(queried[q++]);
  }
  return entries;
}

/*
 * POST /pushbind/v1/account/find for `names`, in requests that stay within
 * the server's max_query_items lookups (names × the app's types): the answer
 * names the app's types, so the next request is sized by them, and a
 * request refused for their number is sent again smaller. Returns, per
 * name, its entries: one per type it holds tokens under, or one without a
 * type saying why none.
 */
async function findNames(names) {
  const max = Math.max(1, (session.limits && session.limits.max_query_items) || 100);
  let typesUsed = session.typesUsed;
  const result = [];
  for (let i = 0; i < names.length;) {
    const size = Math.floor(max / Math.max(1, typesUsed));
    if (size < 1) {
      throw new ApiError('This app uses more than ' + max + ' account types: looking a name up under all of them ' +
                         'is more than the server\'s ' + max + ' lookups a request. Give the type.');
    }
    const chunk = names.slice(i, i + size);
    let answer;
    try {
      answer = await call('POST', FIND, {account_list: chunk.map((account) => ({account}))});
    } catch (e) {
      const types = e.answer && e.answer.account_types;
      if (e.code !== E_PARAM || !Array.isArray(types) || types.length <= Math.max(1, typesUsed)) throw e;
      typesUsed = types.length; /* the app uses more types than last seen: smaller requests */
      continue;
    }
    const tried = Array.isArray(answer.account_types) ? answer.account_types : [];
    typesUsed = tried.length;
    if (session) session.typesUsed = typesUsed;
    chunk.forEach((account, j) => {
      const code = Number((answer.result || [])[j]);
      const found = ((answer.found || [])[j] || {}).account_tokens || [];
      result.push(found.length
        ? found.map((e) => toEntry('account', {account, account_type: e.account_type || 0}, e, 0))
        : [{kind: 'account', account, account_type: '', code, tokens: [], tried}]);
    });
    i += chunk.length;
  }
  return result;
}

function accountItem(account, type) {
  return type ? {account, account_type: type} : {account};
}

/* One queried item as the view keeps it; the with_info fields when the server sent them. */
function toEntry(kind, item, answer, code) {
  answer = answer || {};
  code = Number(code === undefined ? 0 : code);
  if (kind === 'account') {
    const info = Array.isArray(answer.token_info) ? answer.token_info : [];
    const tokens = (answer.token_list || []).map((token, i) => {
      const extra = info[i] && info[i].token === token ? info[i] : {};
      return {token, platform: extra.platform, bind_time: extra.bind_time, last_bind_time: extra.last_bind_time};
    });
    return {kind, account: item.account, account_type: item.account_type || 0, code, tokens};
  }
  const accounts = (answer.account_list || []).map((a) => ({
    account: a.account, account_type: a.account_type || 0, bind_time: a.bind_time, last_bind_time: a.last_bind_time,
  }));
  return {kind, token: item, code, platform: answer.platform, accounts};
}

/* ---- Binding and unbinding exact pairs ------------------------------------ */

/* Pairs {token, account, account_type} as op 1–3 token_accounts, one element per token. */
function byToken(pairs) {
  const tokens = new Map();
  for (const p of pairs) {
    if (!tokens.has(p.token)) tokens.set(p.token, {token: p.token, account_list: []});
    tokens.get(p.token).account_list.push(accountItem(p.account, p.account_type));
  }
  return Array.from(tokens.values());
}

/*
 * Sends op `op` (1 bind, 3 unbind) for exactly these pairs, in requests of at
 * most max_batch_items tokens, with `platform` when given. Returns the
 * pairs' tokens whose item the server refused, with its code.
 */
async function sendPairs(op, pairs, platform) {
  const size = Math.max(1, (session.limits && session.limits.max_batch_items) || 20);
  const items = byToken(pairs);
  const refused = [];
  for (let i = 0; i < items.length; i += size) {
    const chunk = items.slice(i, i + size);
    const body = {operator_type: op, token_accounts: chunk};
    if (platform) body.platform = platform;
    const answer = await call('POST', BATCH, body);
    chunk.forEach((item, j) => {
      const code = Number((answer.result || [])[j]);
      if (code !== 0) refused.push({token: item.token, code});
    });
  }
  return refused;
}

/* Unbinds exactly these pairs (op 3): never "whatever the server holds" (op 4/5). */
async function unbindPairs(pairs) {
  return sendPairs(3, pairs);
}

/* Binds these pairs again (op 1), one request group per platform, so each token keeps its own. */
async function rebindPairs(pairs) {
  const platforms = new Map();
  for (const p of pairs) {
    const key = p.platform || '';
    if (!platforms.has(key)) platforms.set(key, []);
    platforms.get(key).push(p);
  }
  const refused = [];
  for (const [platform, group] of platforms) refused.push(...await sendPairs(1, group, platform));
  return refused;
}
