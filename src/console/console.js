/*
 * pushbind console: the view. Sign in and out, find, show, unbind behind a
 * confirmation, bind and export, through api.js's call() and query().
 *
 * Text from the server is only ever put into the page with textContent.
 */
'use strict';

const MAX_PASTE = 1000;

/* What the results show: {kind: 'account'|'token', entries: [...]}. */
let shown = null;

const $ = (id) => document.getElementById(id);

/* An element with text (never HTML) and attributes. */
function el(tag, text, attrs) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  return node;
}

function number(n) {
  return Number(n).toLocaleString('en-US');
}

function plural(n, one, many) {
  return number(n) + ' ' + (n === 1 ? one : many);
}

/* ---- Sign in and out ---------------------------------------------------- */

function setMessage(node, text, kind) {
  node.textContent = text || '';
  node.className = 'message' + (kind ? ' ' + kind : '');
}

async function signIn(event) {
  event.preventDefault();
  const message = $('signin-message');
  const accessId = $('access-id').value.trim();
  const secret = $('secret-key').value.trim();
  if (!/^[0-9]{1,20}$/.test(accessId)) {
    setMessage(message, 'The AccessId is a number, such as 1500001048.', 'error');
    $('access-id').focus();
    return;
  }
  if (!secret) {
    setMessage(message, 'Enter the app\'s SecretKey.', 'error');
    $('secret-key').focus();
    return;
  }
  if (!window.crypto || !crypto.subtle) {
    setMessage(message, 'This browser offers no WebCrypto on this page: browsers give it only to HTTPS pages ' +
               'and to localhost. Serve pushbind with --tls-cert and --tls-key, or reach it through a tunnel ' +
               'to localhost (ssh -L 8080:127.0.0.1:8080 HOST).', 'error');
    return;
  }
  $('signin-button').disabled = true;
  setMessage(message, 'Signing in…');
  try {
    session = {accessId, key: await importKey(secret), limits: null, bindings: null};
    const app = await call('GET', APP);
    session.limits = app.limits || {};
    session.bindings = app.bindings;
    $('secret-key').value = '';
    setMessage(message, '');
    showSignedIn();
  } catch (e) {
    session = null;
    setMessage(message, e.message, 'error');
    $('secret-key').focus();
  } finally {
    $('signin-button').disabled = false;
  }
}

function showSignedIn() {
  $('signin').hidden = true;
  $('work').hidden = false;
  $('who').hidden = false;
  $('signout').hidden = false;
  renderWho();
  const l = session.limits;
  $('limits').textContent = 'Limits on this server: ' + number(l.max_tokens_per_account) + ' tokens per account, ' +
    number(l.max_accounts_per_token) + ' accounts per token, ' + number(l.max_query_items) + ' items per query, ' +
    number(l.max_list_items) + ' per unbind list.';
  $('find-value').focus();
}

function renderWho() {
  $('who').textContent = 'App ' + session.accessId +
    (session.bindings === null || session.bindings === undefined ? '' : ' · ' + plural(session.bindings, 'binding', 'bindings'));
}

async function refreshCount() {
  try {
    const app = await call('GET', APP);
    session.bindings = app.bindings;
    renderWho();
  } catch (e) {
    /* the count is a convenience: a failure here is told by the next real call */
  }
}

function signOut() {
  session = null;
  shown = null;
  $('results').replaceChildren();
  setMessage($('status'), '');
  $('export').disabled = true;
  for (const id of ['find-value', 'paste', 'bind-token', 'bind-account', 'access-id', 'secret-key']) $(id).value = '';
  $('work').hidden = true;
  $('who').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  setMessage($('signin-message'), 'Signed out: the key is forgotten.');
  $('access-id').focus();
}

/* ---- Find --------------------------------------------------------------- */

function findBy() {
  return document.querySelector('input[name="find-by"]:checked').value;
}

function onFindByChange() {
  const byAccount = findBy() === 'account';
  $('find-value-label').textContent = byAccount ? 'Account' : 'Token';
  $('find-type-field').hidden = !byAccount;
}

function accountType(input) {
  const text = input.value.trim();
  if (text === '') return 0;
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) > 2147483647) return null;
  return Number(text);
}

async function find(event) {
  event.preventDefault();
  const status = $('status');
  const kind = findBy();
  const type = accountType($('find-type'));
  if (kind === 'account' && type === null) {
    setMessage(status, 'account_type is a whole number from 0 to 2147483647 (0 when unsure).', 'error');
    $('find-type').focus();
    return;
  }
  const pasted = $('paste-details').open ? $('paste').value.split(/\r?\n/).map((s) => s.trim()).filter((s) => s) : [];
  const single = $('find-value').value.trim();
  const values = pasted.length ? pasted : single ? [single] : [];
  if (!values.length) {
    setMessage(status, 'Type an ' + kind + ' to find' + ($('paste-details').open ? ', or paste some' : '') + '.', 'error');
    (pasted.length || !$('paste-details').open ? $('find-value') : $('paste')).focus();
    return;
  }
  if (values.length > MAX_PASTE) {
    setMessage(status, 'At most ' + number(MAX_PASTE) + ' at a time; you pasted ' + number(values.length) + '.', 'error');
    return;
  }
  const unique = Array.from(new Set(values));
  const items = kind === 'account' ? unique.map((account) => ({account, account_type: type})) : unique;
  setMessage(status, 'Looking up ' + plural(items.length, kind, kind + 's') + '…');
  $('find-button').disabled = true;
  try {
    shown = {kind, entries: await query(kind, items)};
    render();
    const found = shown.entries.filter((e) => e.code === 0).length;
    setMessage(status, plural(items.length, kind, kind + 's') + ' looked up; ' + number(found) + ' with bindings.');
    status.scrollIntoView({block: 'nearest'});
  } catch (e) {
    setMessage(status, e.message, 'error');
  } finally {
    $('find-button').disabled = false;
  }
}

/* ---- Showing results ---------------------------------------------------- */

function timeCell(seconds, label) {
  const td = el('td', null, {'data-label': label});
  if (typeof seconds !== 'number' || !isFinite(seconds)) {
    td.textContent = '—';
    return td;
  }
  const when = new Date(seconds * 1000);
  td.append(el('time', ago(seconds), {datetime: when.toISOString(), title: when.toISOString()}));
  return td;
}

function ago(seconds) {
  const d = Math.round(Date.now() / 1000 - seconds);
  if (d < 0) return 'in ' + describeSeconds(-d);
  if (d < 45) return 'just now';
  const units = [[60, 'minute'], [3600, 'hour'], [86400, 'day'], [2592000, 'month'], [31536000, 'year']];
  let unit = units[0];
  for (const u of units) if (d >= u[0] * 0.9) unit = u;
  const n = Math.max(1, Math.round(d / unit[0]));
  return n + ' ' + unit[1] + (n === 1 ? '' : 's') + ' ago';
}

function entryNote(entry) {
  switch (entry.code) {
  case 0: return null;
  case E_NO_BINDING:
    return entry.kind === 'account'
      ? 'No tokens are bound to this account' + (entry.account_type ? ' under account_type ' + entry.account_type : ' (account_type 0)') +
        '. The same name under another account_type is a different account.'
      : 'No accounts are bound to this token.';
  case E_TOKEN:
    return 'Not a valid token (1008006): a token is 1 to ' + ((session.limits && session.limits.max_token_bytes) || 256) +
           ' bytes of printable ASCII, without spaces.';
  case E_PARAM:
    return 'Not a valid account (1008007): an account is 1 to ' + ((session.limits && session.limits.max_account_bytes) || 128) +
           ' bytes of UTF-8 without control characters.';
  default: return 'The server answered ' + entry.code + ' for this item.';
  }
}

function ordered(list) {
  return $('newest').checked ? list.slice().reverse() : list;
}

function render() {
  const box = $('results');
  box.replaceChildren();
  $('export').disabled = !shown || !shown.entries.length;
  if (!shown) return;
  for (const entry of shown.entries) box.append(entry.kind === 'account' ? renderAccount(entry) : renderToken(entry));
}

function unbindButton(text, label, handler, extraClass) {
  const b = el('button', text, {type: 'button', class: 'small danger' + (extraClass ? ' ' + extraClass : ''), 'aria-label': label});
  b.addEventListener('click', handler);
  return b;
}

function renderAccount(entry) {
  const box = el('article', null, {class: 'entry'});
  const head = el('div', null, {class: 'entry-head'});
  const title = el('h3');
  title.append('Account ', el('span', entry.account, {class: 'value'}), entry.account_type ? ' (type ' + entry.account_type + ')' : '');
  const max = session.limits.max_tokens_per_account;
  head.append(title, el('span', number(entry.tokens.length) + ' of ' + number(max) + ' tokens', {class: 'count'}));
  if (entry.tokens.length) {
    head.append(unbindButton('Unbind all tokens', 'Unbind all tokens of account ' + entry.account,
                             () => confirmUnbindAccount(entry)));
  }
  box.append(head);
  const note = entryNote(entry);
  if (note) box.append(el('p', note, {class: 'note'}));
  if (!entry.tokens.length) return box;
  const table = el('table');
  const hr = el('tr');
  for (const h of ['Token', 'Platform', 'Bound', 'Last bound', '']) hr.append(el('th', h, {scope: 'col'}));
  table.append(el('thead'), el('tbody'));
  table.tHead.append(hr);
  for (const t of ordered(entry.tokens)) {
    const tr = el('tr');
    tr.append(el('td', t.token, {class: 'value', 'data-label': 'Token'}),
              el('td', t.platform || '—', {'data-label': 'Platform'}),
              timeCell(t.bind_time, 'Bound'), timeCell(t.last_bind_time, 'Last bound'));
    const td = el('td');
    td.append(unbindButton('Unbind', 'Unbind token ' + t.token + ' from account ' + entry.account,
                           () => confirmUnbindPair(t.token, entry.account, entry.account_type)));
    tr.append(td);
    table.tBodies[0].append(tr);
  }
  box.append(table);
  return box;
}

function renderToken(entry) {
  const box = el('article', null, {class: 'entry'});
  const head = el('div', null, {class: 'entry-head'});
  const title = el('h3');
  title.append('Token ', el('span', entry.token, {class: 'value'}), entry.platform ? ' (' + entry.platform + ')' : '');
  const max = session.limits.max_accounts_per_token;
  head.append(title, el('span', number(entry.accounts.length) + ' of ' + number(max) + ' accounts', {class: 'count'}));
  if (entry.accounts.length) {
    head.append(unbindButton('Unbind all accounts', 'Unbind all accounts of token ' + entry.token,
                             () => confirmUnbindToken(entry)));
  }
  box.append(head);
  const note = entryNote(entry);
  if (note) box.append(el('p', note, {class: 'note'}));
  if (!entry.accounts.length) return box;
  const table = el('table');
  const hr = el('tr');
  for (const h of ['Account', 'Type', 'Bound', 'Last bound', '']) hr.append(el('th', h, {scope: 'col'}));
  table.append(el('thead'), el('tbody'));
  table.tHead.append(hr);
  for (const a of ordered(entry.accounts)) {
    const tr = el('tr');
    tr.append(el('td', a.account, {class: 'value', 'data-label': 'Account'}),
              el('td', a.account_type, {'data-label': 'Type'}),
              timeCell(a.bind_time, 'Bound'), timeCell(a.last_bind_time, 'Last bound'));
    const td = el('td');
    td.append(unbindButton('Unbind', 'Unbind account ' + a.account + ' from token ' + entry.token,
                           () => confirmUnbindPair(entry.token, a.account, a.account_type)));
    tr.append(td);
    table.tBodies[0].append(tr);
  }
  box.append(table);
  return box;
}

/* ---- Fix: unbind behind a confirmation, bind ----------------------------- */

let confirmAction = null;
let confirmReturn = null;

function askConfirm(title, text, lines, action) {
  confirmAction = action;
  confirmReturn = document.activeElement;
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  const list = $('confirm-list');
  list.replaceChildren(...lines.map((line) => el('li', line)));
  $('confirm').showModal();
  $('confirm-cancel').focus();
}

function closeConfirm() {
  confirmAction = null;
  if ($('confirm').open) $('confirm').close();
}

function accountLabel(account, type) {
  return type ? account + ' (type ' + type + ')' : account;
}

function confirmUnbindPair(token, account, type) {
  askConfirm('Unbind one binding?', 'This binding will go:', ['token ' + token + ' — account ' + accountLabel(account, type)],
          () => unbind({operator_type: 3, token_accounts: [{token, account_list: [accountItem(account, type)]}]},
                       () => dropPair(token, account, type), 'Unbound ' + accountLabel(account, type) + ' from ' + token + '.'));
}

function confirmUnbindToken(entry) {
  askConfirm('Unbind every account of this token?', 'Token ' + entry.token + ' will lose ' +
          plural(entry.accounts.length, 'account', 'accounts') + ':', entry.accounts.map((a) => accountLabel(a.account, a.account_type)),
          () => unbind({operator_type: 4, token_list: [entry.token]}, () => dropToken(entry.token),
                       'Token ' + entry.token + ' has no accounts now.'));
}

function confirmUnbindAccount(entry) {
  askConfirm('Unbind every token of this account?', 'Account ' + accountLabel(entry.account, entry.account_type) + ' will lose ' +
          plural(entry.tokens.length, 'token', 'tokens') + ':', entry.tokens.map((t) => t.token),
          () => unbind({operator_type: 5, account_list: [accountItem(entry.account, entry.account_type)]},
                       () => dropAccount(entry.account, entry.account_type),
                       'Account ' + accountLabel(entry.account, entry.account_type) + ' has no tokens now.'));
}

async function unbind(body, apply, done) {
  const status = $('status');
  setMessage(status, 'Unbinding…');
  try {
    const answer = await call('POST', BATCH, body);
    const item = Number((answer.result || [])[0]);
    if (item !== 0) {
      setMessage(status, 'The server refused this unbind (' + item + '); nothing changed.', 'error');
      return;
    }
    apply();
    render();
    setMessage(status, done, 'done');
    refreshCount();
  } catch (e) {
    setMessage(status, e.message, 'error');
  }
}

function sameAccount(a, account, type) {
  return a.account === account && (a.account_type || 0) === (type || 0);
}

/* The view after an unbind answered "0": what the server now holds. */
function dropPair(token, account, type) {
  for (const e of shown.entries) {
    if (e.kind === 'account' && sameAccount(e, account, type)) e.tokens = e.tokens.filter((t) => t.token !== token);
    if (e.kind === 'token' && e.token === token) e.accounts = e.accounts.filter((a) => !sameAccount(a, account, type));
    markEmpty(e);
  }
}

function dropToken(token) {
  for (const e of shown.entries) {
    if (e.kind === 'token' && e.token === token) e.accounts = [];
    if (e.kind === 'account') e.tokens = e.tokens.filter((t) => t.token !== token);
    markEmpty(e);
  }
}

function dropAccount(account, type) {
  for (const e of shown.entries) {
    if (e.kind === 'account' && sameAccount(e, account, type)) e.tokens = [];
    if (e.kind === 'token') e.accounts = e.accounts.filter((a) => !sameAccount(a, account, type));
    markEmpty(e);
  }
}

function markEmpty(e) {
  if (e.code === 0 && (e.kind === 'account' ? e.tokens : e.accounts).length === 0) e.code = E_NO_BINDING;
}

async function bind(event) {
  event.preventDefault();
  const status = $('status');
  const token = $('bind-token').value.trim();
  const account = $('bind-account').value.trim();
  const type = accountType($('bind-type'));
  if (!token || !account) {
    setMessage(status, 'To bind, give both a token and an account.', 'error');
    (token ? $('bind-account') : $('bind-token')).focus();
    return;
  }
  if (type === null) {
    setMessage(status, 'account_type is a whole number from 0 to 2147483647 (0 when unsure).', 'error');
    $('bind-type').focus();
    return;
  }
  $('bind-button').disabled = true;
  try {
    const answer = await call('POST', BATCH, {operator_type: 1, token_accounts: [{token, account_list: [accountItem(account, type)]}]});
    const item = Number((answer.result || [])[0]);
    if (item !== 0) {
      setMessage(status, bindRefusal(item), 'error');
      return;
    }
    /* Show the account as the server now has it. */
    shown = {kind: 'account', entries: await query('account', [{account, account_type: type}])};
    render();
    setMessage(status, 'Bound ' + accountLabel(account, type) + ' to ' + token + '.', 'done');
    $('bind-token').value = '';
    refreshCount();
  } catch (e) {
    setMessage(status, e.message, 'error');
  } finally {
    $('bind-button').disabled = false;
  }
}

function bindRefusal(code) {
  const l = session.limits;
  if (code === E_TOKEN) return 'Not bound: not a valid token (1008006): 1 to ' + l.max_token_bytes + ' bytes of printable ASCII, no spaces.';
  if (code === E_PARAM) {
    return 'Not bound (1008007): the account is not valid (1 to ' + l.max_account_bytes + ' bytes of UTF-8), or the ' +
           'token already has ' + l.max_accounts_per_token + ' accounts, or the account ' + l.max_tokens_per_account + ' tokens.';
  }
  return 'Not bound: the server answered ' + code + '.';
}

/* ---- CSV ----------------------------------------------------------------- */

/* RFC 4180 quoting; a cell a spreadsheet would read as a formula gets a leading quote. */
function csvCell(value) {
  let s = value === undefined || value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = '\'' + s;
  return /[",\r\n]/.test(s) || s !== s.trim() ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function iso(seconds) {
  return typeof seconds === 'number' && isFinite(seconds) ? new Date(seconds * 1000).toISOString() : '';
}

function csv() {
  const rows = [['account', 'account_type', 'token', 'platform', 'bind_time', 'last_bind_time', 'status']];
  for (const e of shown.entries) {
    if (e.kind === 'account') {
      if (!e.tokens.length) rows.push([e.account, e.account_type || 0, '', '', '', '', e.code]);
      for (const t of ordered(e.tokens)) rows.push([e.account, e.account_type || 0, t.token, t.platform, iso(t.bind_time), iso(t.last_bind_time), 0]);
    } else {
      if (!e.accounts.length) rows.push(['', '', e.token, e.platform, '', '', e.code]);
      for (const a of ordered(e.accounts)) rows.push([a.account, a.account_type || 0, e.token, e.platform, iso(a.bind_time), iso(a.last_bind_time), 0]);
    }
  }
  return rows.map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

function exportCsv() {
  if (!shown) return;
  const url = URL.createObjectURL(new Blob([csv()], {type: 'text/csv;charset=utf-8'}));
  const a = el('a', null, {href: url, download: 'pushbind-' + session.accessId + '-' + shown.kind + 's.csv'});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/* ---- Wiring ---------------------------------------------------------------- */

document.addEventListener('DOMContentLoaded', () => {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('find-form').addEventListener('submit', find);
  $('bind-form').addEventListener('submit', bind);
  for (const r of document.querySelectorAll('input[name="find-by"]')) r.addEventListener('change', onFindByChange);
  $('newest').addEventListener('change', render);
  $('export').addEventListener('click', exportCsv);
  $('confirm-cancel').addEventListener('click', closeConfirm);
  $('confirm-ok').addEventListener('click', () => {
    const action = confirmAction;
    closeConfirm();
    if (action) action();
  });
  /* Escape closes a <dialog> by itself; this puts focus back where it was. */
  $('confirm').addEventListener('close', () => {
    confirmAction = null;
    if (confirmReturn && document.contains(confirmReturn)) confirmReturn.focus();
    else $('find-value').focus();
  });
  onFindByChange();
  $('access-id').focus();
});
