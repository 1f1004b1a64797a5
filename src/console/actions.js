/*
 * pushbind console: what changes bindings. Unbinding behind a confirmation
 * that lists the pairs, and sending exactly those pairs (op 3), so a binding
 * made meanwhile survives; undo of the last unbind; bind, asking for the
 * type and naming the limit that refused it; CSV export of what is shown.
 */
'use strict';

/* The pairs the last unbind removed, for Undo; null when there is nothing to undo. */
let lastUnbind = null;

/* ---- The confirmation dialog ------------------------------------------------ */

let confirmAction = null;
let confirmReturn = null;

function askConfirm(title, text, lines, okText, action) {
  confirmAction = action;
  confirmReturn = document.activeElement;
  $('confirm-title').textContent = title;
  $('confirm-text').textContent = text;
  $('confirm-ok').textContent = okText;
  $('confirm-list').replaceChildren(...lines.map((line) => el('li', line)));
  $('confirm').showModal();
  $('confirm-cancel').focus();
}

function closeConfirm() {
  confirmAction = null;
  if ($('confirm').open) $('confirm').close();
}

/* Focuses the first element of `keys` (data-focus values, or ids starting with '#') still in the page. */
function focusFirst(...keys) {
  for (const key of keys) {
    const node = key.startsWith('#') ? $(key.slice(1)) : document.querySelector('[data-focus="' + CSS.escape(key) + '"]');
    if (node && !node.hidden && !node.disabled) {
      node.focus();
      return;
    }
  }
}

/* ---- Unbind ------------------------------------------------------------------ */

function pairLine(p) {
  return 'token ' + p.token + ' — account ' + accountLabel(p.account, p.account_type);
}

function confirmUnbindPair(pair) {
  askConfirm('Unbind one binding?', 'This binding will go:', [pairLine(pair)], 'Unbind',
             () => unbind([pair], entryKeyOfPair(pair)));
}

/* The pairs an entry shows, as {token, platform, account, account_type}. */
function shownPairs(entry) {
  return entry.kind === 'account'
    ? entry.tokens.map((t) => ({token: t.token, platform: t.platform, account: entry.account, account_type: entry.account_type}))
    : entry.accounts.map((a) => ({token: entry.token, platform: entry.platform, account: a.account, account_type: a.account_type}));
}

function confirmUnbindAll(entry) {
  const pairs = shownPairs(entry);
  const what = entry.kind === 'account'
    ? 'Account ' + accountLabel(entry.account, entry.account_type) + ' will lose these ' + plural(pairs.length, 'token', 'tokens')
    : 'Token ' + entry.token + ' will lose these ' + plural(pairs.length, 'account', 'accounts');
  askConfirm('Unbind ' + plural(pairs.length, 'binding', 'bindings') + '?',
             what + ' — exactly these: one bound after this list was shown stays.',
             entry.kind === 'account' ? pairs.map((p) => p.token) : pairs.map((p) => accountLabel(p.account, p.account_type)),
             'Unbind ' + number(pairs.length), () => unbind(pairs, 'entry|' + entryKey(entry)));
}

function entryKeyOfPair(p) {
  return shown && shown.kind === 'token' ? 'entry|t|' + p.token : 'entry|a|' + p.account_type + '|' + p.account;
}

async function unbind(pairs, entryFocus) {
  const status = $('status');
  setMessage(status, 'Unbinding…');
  try {
    const refused = await unbindPairs(pairs);
    const gone = pairs.filter((p) => !refused.some((r) => r.token === p.token));
    for (const p of gone) dropPair(p);
    render();
    offerUndo(gone);
    if (refused.length) {
      setMessage(status, 'The server refused to unbind from ' + refused.map((r) => r.token + ' (' + r.code + ')').join(', ') +
                 '; those stay. ' + plural(gone.length, 'binding', 'bindings') + ' unbound.', 'error');
    } else {
      setMessage(status, pairs.length === 1
        ? 'Unbound ' + accountLabel(pairs[0].account, pairs[0].account_type) + ' from ' + pairs[0].token + '.'
        : 'Unbound the ' + plural(pairs.length, 'binding', 'bindings') + ' shown.', 'done');
    }
    refreshCount();
    focusFirst('#undo', entryFocus, '#find-value');
  } catch (e) {
    failed(e);
    focusFirst(entryFocus, '#find-value');
  }
}

/* The view after an unbind answered "0": what the server now holds of what was shown. */
function dropPair(p) {
  for (const e of shown.entries) {
    if (e.kind === 'account' && sameAccount(e, p.account, p.account_type)) e.tokens = e.tokens.filter((t) => t.token !== p.token);
    if (e.kind === 'token' && e.token === p.token) e.accounts = e.accounts.filter((a) => !sameAccount(a, p.account, p.account_type));
    if (e.code === 0 && (e.kind === 'account' ? e.tokens : e.accounts).length === 0) e.code = E_NO_BINDING;
  }
}

function sameAccount(a, account, type) {
  return a.account === account && Number(a.account_type || 0) === Number(type || 0);
}

/* ---- Undo -------------------------------------------------------------------- */

function offerUndo(pairs) {
  lastUnbind = pairs.length ? pairs : null;
  $('undo').hidden = !lastUnbind;
  if (lastUnbind) $('undo').textContent = 'Undo: bind ' + (pairs.length === 1 ? 'it' : 'the ' + number(pairs.length)) + ' again';
}

/* Binds the last unbind's pairs again, each token with its platform; their bind times start anew. */
async function undoUnbind() {
  const pairs = lastUnbind;
  if (!pairs) return;
  offerUndo([]);
  const status = $('status');
  setMessage(status, 'Binding ' + plural(pairs.length, 'pair', 'pairs') + ' again…');
  try {
    const refused = await rebindPairs(pairs);
    await refreshShown();
    setMessage(status, refused.length
      ? 'The server refused to bind again ' + refused.map((r) => r.token + ' (' + r.code + ')').join(', ') + '.'
      : 'Bound ' + plural(pairs.length, 'pair', 'pairs') + ' again, with their platforms. Their bind times start now: ' +
        'the API cannot set a binding\'s times.', refused.length ? 'error' : 'done');
    refreshCount();
  } catch (e) {
    failed(e);
  }
  focusFirst(entryKeyOfPair(pairs[0]), '#find-value');
}

/* ---- Bind ------------------------------------------------------------------------ */

async function bind(event) {
  event.preventDefault();
  const status = $('status');
  const token = $('bind-token').value.trim();
  const account = $('bind-account').value.trim();
  const type = parseType($('bind-type').value);
  if (!token || !account) {
    setMessage(status, 'To bind, give both a token and an account.', 'error');
    (token ? $('bind-account') : $('bind-token')).focus();
    return;
  }
  if (type === '' || type === null) {
    setMessage(status, 'Choose the account\'s type (a name from the list, such as 1005 e-mail, or any number): ' +
               'the same name under another type is another account.', 'error');
    $('bind-type').focus();
    return;
  }
  $('bind-button').disabled = true;
  setMessage(status, 'Looking for ' + account + ' under every type this app uses…');
  try {
    const found = (await findAccounts([{account, account_type: ''}])).filter((e) => e.code === 0);
    const elsewhere = found.filter((e) => Number(e.account_type) !== type);
    if (elsewhere.length && elsewhere.length === found.length) {
      askConfirm('Make a second account?', account + ' has no tokens as ' + typeLabel(type) + ', but exists as:',
                 elsewhere.map((e) => typeLabel(e.account_type) + ' — ' + plural(e.tokens.length, 'token', 'tokens')),
                 'Bind as ' + typeLabel(type), () => sendBind(token, account, type));
      return;
    }
    await sendBind(token, account, type);
  } catch (e) {
    failed(e);
  } finally {
    $('bind-button').disabled = false;
  }
}

async function sendBind(token, account, type) {
  const status = $('status');
  try {
    const answer = await call('POST', BATCH, {operator_type: 1, token_accounts: [{token, account_list: [accountItem(account, type)]}]});
    const item = Number((answer.result || [])[0]);
    if (item !== 0) {
      setMessage(status, await bindRefusal(item, token, account, type), 'error');
      $('bind-token').focus();
      return;
    }
    /* Show the account as the server now has it. */
    await showLookup({kind: 'account', text: account, type: String(type)});
    setFragment(shown.lookup, true);
    setMessage(status, 'Bound ' + accountLabel(account, type) + ' to ' + token + '.', 'done');
    $('bind-token').value = '';
    refreshCount();
  } catch (e) {
    failed(e);
  }
  $('bind-token').focus();
}

/* Why the server refused a bind, with the numbers of the limit it hit. */
async function bindRefusal(code, token, account, type) {
  const l = session.limits;
  if (code === E_TOKEN) return 'Not bound: not a valid token (1008006): 1 to ' + l.max_token_bytes + ' bytes of printable ASCII, no spaces.';
  if (code !== E_PARAM) return 'Not bound: the server answered ' + code + '.';
  const [byAccount] = await query('account', [{account, account_type: type}]);
  const [byToken] = await query('token', [token]);
  const reasons = [];
  if (byAccount.tokens.length >= l.max_tokens_per_account) {
    reasons.push('account ' + accountLabel(account, type) + ' already has ' + number(byAccount.tokens.length) + ' of ' +
                 number(l.max_tokens_per_account) + ' tokens (the tokens-per-account limit)');
  }
  if (byToken.accounts.length >= l.max_accounts_per_token) {
    reasons.push('token ' + token + ' already has ' + number(byToken.accounts.length) + ' of ' +
                 number(l.max_accounts_per_token) + ' accounts (the accounts-per-token limit)');
  }
  if (reasons.length) return 'Not bound (1008007): ' + reasons.join(', and ') + '. Unbind one first.';
  return 'Not bound (1008007): the account is not valid (1 to ' + l.max_account_bytes + ' bytes of UTF-8, no control characters).';
}

/* ---- CSV ----------------------------------------------------------------------- */

/* RFC 4180 quoting; a cell a spreadsheet would read as a formula gets a leading quote. */
function csvCell(value) {
  let s = value === undefined || value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = '\'' + s;
  return /[",\r\n]/.test(s) || s !== s.trim() ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function iso(seconds) {
  return typeof seconds === 'number' && isFinite(seconds) ? new Date(seconds * 1000).toISOString() : '';
}

/* What is shown, in the server's order (binding order) whatever the view's. */
function csv() {
  const rows = [['account', 'account_type', 'token', 'platform', 'bind_time', 'last_bind_time', 'status']];
  for (const e of shown.entries) {
    if (e.kind === 'account') {
      if (!e.tokens.length) rows.push([e.account, e.account_type || 0, '', '', '', '', e.code]);
      for (const t of e.tokens) rows.push([e.account, e.account_type || 0, t.token, t.platform, iso(t.bind_time), iso(t.last_bind_time), 0]);
    } else {
      if (!e.accounts.length) rows.push(['', '', e.token, e.platform, '', '', e.code]);
      for (const a of e.accounts) rows.push([a.account, a.account_type || 0, e.token, e.platform, iso(a.bind_time), iso(a.last_bind_time), 0]);
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
