/*
 * pushbind console: showing what the server answered. The results with their
 * times (relative and local), newest registration first, a summary with a
 * filter for many lines, copy buttons, and a click on a token or an account
 * to look it up. Buttons that change something call actions.js.
 *
 * Text from the server is only ever put into the page with textContent.
 */
'use strict';

/* What the results show: {kind, entries, lookup, asOf, stale}; null before a lookup. */
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

function setMessage(node, text, kind) {
  node.textContent = text || '';
  node.className = 'message' + (kind ? ' ' + kind : '');
}

/* "bob (1005 e-mail)"; a name of type 0, the default, alone. */
function accountLabel(account, type) {
  return Number(type || 0) ? account + ' (' + typeLabel(type) + ')' : account;
}

/* ---- Times ---------------------------------------------------------------- */

function pad(n) {
  return String(n).padStart(2, '0');
}

/* "2026-12-03 14:05" in this computer's time zone. */
function localTime(date) {
  return date.getFullYear() + '-' + pad(date.getMonth() + 1) + '-' + pad(date.getDate()) + ' ' +
         pad(date.getHours()) + ':' + pad(date.getMinutes());
}

/* "03:12" (or "03:12:05" with seconds) in this computer's time zone. */
function clock(date, seconds) {
  return pad(date.getHours()) + ':' + pad(date.getMinutes()) + (seconds ? ':' + pad(date.getSeconds()) : '');
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

/* A time as "3 days ago" beside its local date; the tooltip is UTC, as server logs are. */
function timeCell(seconds, label) {
  const td = el('td', null, {'data-label': label});
  if (typeof seconds !== 'number' || !isFinite(seconds)) {
    td.textContent = '—';
    return td;
  }
  const when = new Date(seconds * 1000);
  td.append(el('time', ago(seconds), {datetime: when.toISOString(), title: when.toISOString()}),
            el('span', localTime(when), {class: 'abs'}));
  return td;
}

/* Newest registration (last_bind_time) first unless unticked; ties keep the later-bound first. */
function ordered(list) {
  if (!$('newest').checked) return list;
  const last = (x) => (typeof x.last_bind_time === 'number' ? x.last_bind_time : -1);
  return list.map((x, i) => [x, i]).sort((a, b) => last(b[0]) - last(a[0]) || b[1] - a[1]).map((p) => p[0]);
}

/* ---- The summary and its filter -------------------------------------------- */

/* 'found', 'limit' (found, at its binding limit), 'missing' or 'invalid'. */
function entryState(entry) {
  if (entry.code === E_NO_BINDING) return 'missing';
  if (entry.code !== 0) return 'invalid';
  const l = session.limits;
  const full = entry.kind === 'account' ? entry.tokens.length >= l.max_tokens_per_account
                                        : entry.accounts.length >= l.max_accounts_per_token;
  return full ? 'limit' : 'found';
}

/* Whether a filter of the summary shows the entry: "found" counts the ones at a limit too. */
function shownBy(filter, entry) {
  return filter === 'all' || entry.state === filter || (filter === 'found' && entry.state === 'limit');
}

const FILTERS = [['all', 'All'], ['found', 'Found'], ['missing', 'Missing'], ['limit', 'At a limit'], ['invalid', 'Invalid']];

function renderSummary() {
  const box = $('summary');
  box.replaceChildren();
  box.hidden = !shown || shown.entries.length < 2;
  if (box.hidden) return;
  const current = box.dataset.filter || 'all';
  const fieldset = el('fieldset', null, {class: 'row'});
  fieldset.append(el('legend', 'Show'));
  for (const [value, text] of FILTERS) {
    const n = shown.entries.filter((e) => shownBy(value, e)).length;
    if (value !== 'all' && !n) continue;
    const label = el('label');
    const radio = el('input', null, {type: 'radio', name: 'show', value, 'data-focus': 'show|' + value});
    radio.checked = value === current;
    radio.addEventListener('change', () => {
      box.dataset.filter = value;
      render();
    });
    label.append(radio, ' ' + text + ' (' + number(n) + ')');
    fieldset.append(label);
  }
  box.append(fieldset);
}

/* ---- The results ------------------------------------------------------------ */

function render() {
  const focusKey = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.focus : null;
  const box = $('results');
  box.replaceChildren();
  $('export').disabled = !shown || !shown.entries.length;
  $('refresh').disabled = !shown;
  renderAsOf();
  if (!shown) {
    renderSummary();
    return;
  }
  for (const e of shown.entries) e.state = entryState(e);
  const filter = $('summary').dataset.filter || 'all';
  if (!shown.entries.some((e) => shownBy(filter, e))) delete $('summary').dataset.filter;
  renderSummary();
  for (const entry of shown.entries) {
    if (!shownBy($('summary').dataset.filter || 'all', entry)) continue;
    box.append(renderEntry(entry));
  }
  if (focusKey) {
    const again = document.querySelector('[data-focus="' + CSS.escape(focusKey) + '"]');
    if (again) again.focus();
  }
}

/* "as of 03:12", and whether the server stopped answering since. */
function renderAsOf() {
  const stamp = $('asof');
  if (!shown) {
    stamp.textContent = '';
    $('results-panel').classList.remove('stale');
    return;
  }
  stamp.textContent = 'as of ' + clock(shown.asOf, true) +
    (shown.stale ? ' — stale: the server stopped answering at ' + clock(shown.stale, true) : '');
  stamp.title = shown.asOf.toString();
  $('results-panel').classList.toggle('stale', !!shown.stale);
}

function smallButton(text, label, handler, extraClass, focusKey) {
  const b = el('button', text, {type: 'button', class: 'small' + (extraClass ? ' ' + extraClass : ''), 'aria-label': label});
  if (focusKey) b.dataset.focus = focusKey;
  b.addEventListener('click', handler);
  return b;
}

/* Copies text to the clipboard and says so in the status line. */
async function copyText(text, what) {
  try {
    await navigator.clipboard.writeText(text);
    setMessage($('status'), 'Copied ' + what + '.', 'done');
  } catch (e) {
    setMessage($('status'), 'The browser refused the clipboard (' + e.message + '); select the text instead.', 'error');
  }
}

/* A value (token or account) that looks itself up when clicked, and its copy button. */
function valueCell(label, text, lookup, focusKey) {
  const td = el('td', null, {class: 'value', 'data-label': label});
  const link = el('button', text, {type: 'button', class: 'link', title: 'Look up ' + label.toLowerCase() + ' ' + text,
                                   'data-focus': 'look|' + focusKey});
  link.addEventListener('click', lookup);
  td.append(link, smallButton('Copy', 'Copy ' + label.toLowerCase() + ' ' + text, () => copyText(text, label.toLowerCase()),
                              'copy', 'copy|' + focusKey));
  return td;
}

function entryHead(entry, titleNodes, count, allText, allLabel) {
  const head = el('div', null, {class: 'entry-head'});
  const key = entryKey(entry);
  const title = el('h3', null, {tabindex: '-1', 'data-focus': 'entry|' + key});
  title.append(...titleNodes);
  head.append(title, el('span', count, {class: 'count'}));
  const n = entry.kind === 'account' ? entry.tokens.length : entry.accounts.length;
  if (n) head.append(smallButton(allText, allLabel, () => confirmUnbindAll(entry), 'danger', 'all|' + key));
  return head;
}

/* "Unbind these 3 tokens", "Unbind this token". */
function unbindAllText(n, one, many) {
  return n === 1 ? 'Unbind this ' + one : 'Unbind these ' + plural(n, one, many);
}

function entryKey(entry) {
  return entry.kind === 'account' ? 'a|' + entry.account_type + '|' + entry.account : 't|' + entry.token;
}

function copyTitle(text, what) {
  return smallButton('Copy', 'Copy ' + what + ' ' + text, () => copyText(text, what), 'copy', 'copy|' + what + '|' + text);
}

/* One looked-up account or token: its heading, a note, and a row per binding it shows. */
function renderEntry(entry) {
  const byAccount = entry.kind === 'account';
  const box = el('article', null, {class: 'entry ' + entry.state});
  const name = byAccount ? entry.account : entry.token;
  const list = byAccount ? entry.tokens : entry.accounts;
  const [one, many] = byAccount ? ['token', 'tokens'] : ['account', 'accounts'];
  const max = byAccount ? session.limits.max_tokens_per_account : session.limits.max_accounts_per_token;
  const detail = !byAccount ? entry.platform || '' : entry.account_type === '' ? 'any type' : typeLabel(entry.account_type);
  const unbindAll = unbindAllText(list.length, one, many);
  box.append(entryHead(entry, [byAccount ? 'Account ' : 'Token ', el('span', name, {class: 'value'}), ' ',
                               el('span', detail, {class: 'type'}), ' ', copyTitle(name, entry.kind)],
                       number(list.length) + ' of ' + number(max) + ' ' + many, unbindAll, unbindAll + ' from ' + entry.kind + ' ' + name));
  const note = entryNote(entry);
  if (note) box.append(el('p', note, {class: 'note'}));
  const tags = tagsLine(entry);
  if (tags) box.append(tags);
  if (!list.length) return box;
  const rows = ordered(list).map((item) => {
    const pair = byAccount
      ? {token: item.token, platform: item.platform, account: entry.account, account_type: entry.account_type}
      : {token: entry.token, platform: entry.platform, account: item.account, account_type: item.account_type};
    const key = pair.token + '|' + pair.account_type + '|' + pair.account;
    const cells = byAccount
      ? [valueCell('Token', pair.token, () => lookUp('token', pair.token), 'token|' + key),
         el('td', pair.platform || '—', {'data-label': 'Platform'}), tagsCell(item.tags, pair.token)]
      : [valueCell('Account', pair.account, () => lookUp('account', pair.account, pair.account_type), 'account|' + key),
         el('td', typeLabel(pair.account_type), {'data-label': 'Type', title: typeHistory(pair.account_type)})];
    const what = byAccount ? 'token ' + pair.token + ' from account ' + pair.account
                           : 'account ' + pair.account + ' from token ' + pair.token;
    return cells.concat(timeCell(item.last_bind_time, 'Last registered'), timeCell(item.bind_time, 'First bound'),
                        smallButton('Unbind', 'Unbind ' + what, () => confirmUnbindPair(pair), 'danger', 'one|' + key));
  });
  const headings = byAccount ? ['Token', 'Platform', 'Tags'] : ['Account', 'Type'];
  box.append(table(headings.concat('Last registered', 'First bound', ''), rows));
  return box;
}

/* A table of rows of cells; a bare element (a button) gets a cell of its own. */
function table(headings, rows) {
  const t = el('table');
  const hr = el('tr');
  for (const h of headings) hr.append(h ? el('th', h, {scope: 'col'}) : el('td'));
  t.append(el('thead'), el('tbody'));
  t.tHead.append(hr);
  for (const cells of rows) {
    const tr = el('tr');
    for (const c of cells) {
      if (c.tagName === 'TD') {
        tr.append(c);
      } else {
        const td = el('td');
        td.append(c);
        tr.append(td);
      }
    }
    t.tBodies[0].append(tr);
  }
  return t;
}

/* Why a name found under no type has no tokens: the types the server looked under (the app's). */
function triedNote(types) {
  if (!types.length) return 'No tokens are bound to this name: this app has no bindings under any type yet.';
  const shown = types.slice(0, 12).map(typeLabel).join(', ') + (types.length > 12 ? ', …' : '');
  return 'No tokens are bound to this name under any of the ' + plural(types.length, 'type', 'types') +
         ' this app uses (' + shown + '), so it has none at all. Check how it is spelled.';
}

function entryNote(entry) {
  switch (entry.code) {
  case 0:
    return entry.state === 'limit' ? 'At its limit: binding one more is refused.' : null;
  case E_NO_BINDING:
    if (entry.kind === 'token') return 'No accounts are bound to this token.';
    if (entry.tried) return triedNote(entry.tried);
    return 'No tokens are bound to this account under ' + typeLabel(entry.account_type) +
           '. The same name under another type is a different account: leave the type empty to look under every type this app uses.';
  case E_TOKEN:
    return 'Not a valid token (1008006): a token is 1 to ' + ((session.limits && session.limits.max_token_bytes) || 256) +
           ' bytes of printable ASCII, without spaces.';
  case E_PARAM:
    return 'Not a valid account (1008007): an account is 1 to ' + ((session.limits && session.limits.max_account_bytes) || 128) +
           ' bytes of UTF-8 without control characters.';
  default: return 'The server answered ' + entry.code + ' for this item.';
  }
}
