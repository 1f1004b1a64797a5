/*
 * pushbind console: the session and the lookups. Sign in and out (also when
 * the page is left, restored from the back/forward cache, or idle), the one
 * Find box, deep links (the lookup in the URL fragment, never the key),
 * refresh and staleness, and the wiring of every control.
 *
 * The key lives in api.js's `session` only, never in storage: a reload, a
 * sign-out or leaving the page forgets it. localStorage holds two settings
 * that are not secrets: the idle time and the environment's name.
 */
'use strict';

const MAX_LOOKUP = 1000;
const IDLE_KEY = 'pushbind.idle-seconds';   /* seconds without input before a sign-out; default 900 */
const ENV_KEY = 'pushbind.environment';      /* the name shown beside the app, e.g. "production" */
const IDLE_DEFAULT = 900;
const HEARTBEAT_MS = 30000;

let lastActive = Date.now();

/* ---- Settings ------------------------------------------------------------------ */

function idleSeconds() {
  const n = Number(localStorage.getItem(IDLE_KEY));
  return n > 0 ? n : IDLE_DEFAULT;
}

function describeIdle(s) {
  return s % 60 === 0 ? plural(s / 60, 'minute', 'minutes') : plural(s, 'second', 'seconds');
}

function setUpIdleChoice() {
  const select = $('idle');
  const current = idleSeconds();
  if (!Array.from(select.options).some((o) => Number(o.value) === current)) select.append(el('option', describeIdle(current), {value: current}));
  select.value = String(current);
  select.addEventListener('change', () => localStorage.setItem(IDLE_KEY, select.value));
}

function environment() {
  return (localStorage.getItem(ENV_KEY) || '').trim();
}

/* ---- Sign in and out --------------------------------------------------------------- */

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
  const env = $('environment').value.trim();
  if (env) localStorage.setItem(ENV_KEY, env);
  else localStorage.removeItem(ENV_KEY);
  $('signin-button').disabled = true;
  setMessage(message, 'Signing in…');
  try {
    session = {accessId, key: await importKey(secret), limits: null, bindings: null, typesUsed: 0};
    const app = await call('GET', APP);
    session.limits = app.limits || {};
    session.environment = app.environment || ''; /* serve --environment wins over the name typed here */
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
  $('signout').hidden = false;
  lastActive = Date.now();
  renderWho();
  const l = session.limits;
  $('limits').textContent = 'Limits on this server: ' + plural(l.max_tokens_per_account, 'token', 'tokens') + ' per account, ' +
    plural(l.max_accounts_per_token, 'account', 'accounts') + ' per token, ' + plural(l.max_query_items, 'item', 'items') +
    ' per query, ' + number(l.max_list_items) + ' per unbind list.';
  $('find-value').focus();
  const lookup = fragmentLookup();
  if (lookup) runLookup(lookup, false);
  tagsSignedIn();
}

/* The banner and the tab's title name the app and the environment, so two tabs are not confused. */
function renderWho() {
  const env = (session && session.environment) || environment();
  $('env').textContent = env;
  $('env').hidden = !session || !env;
  $('who').hidden = !session;
  if (!session) {
    document.title = 'pushbind console';
    return;
  }
  $('who').textContent = 'App ' + session.accessId +
    (session.bindings === null || session.bindings === undefined ? '' : ' · ' + plural(session.bindings, 'binding', 'bindings'));
  document.title = (env ? env + ' · ' : '') + 'App ' + session.accessId + ' — pushbind console';
}

/* Refreshes the binding count; also the heartbeat that marks results stale when the server stops answering. */
async function refreshCount() {
  if (!session) return;
  try {
    const app = await call('GET', APP);
    session.bindings = app.bindings;
    renderWho();
  } catch (e) {
    markStale(e);
  }
}

function signOut(why) {
  session = null;
  shown = null;
  lastUnbind = null;
  closeConfirm();
  $('undo').hidden = true;
  render();
  tagsSignedOut();
  setMessage($('status'), '');
  for (const id of ['find-value', 'find-type', 'bind-token', 'bind-account', 'bind-type', 'access-id', 'secret-key']) $(id).value = '';
  updateFindCount();
  $('work').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  renderWho();
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  setMessage($('signin-message'), (why || 'Signed out') + ': the key is forgotten.');
  $('access-id').focus();
}

function checkIdle() {
  if (session && Date.now() - lastActive > idleSeconds() * 1000) {
    signOut('Signed out after ' + describeIdle(idleSeconds()) + ' without activity');
  }
}

/* ---- Find: one box, one line or many ------------------------------------------------- */

function findBy() {
  return document.querySelector('input[name="find-by"]:checked').value;
}

function onFindByChange() {
  const byAccount = findBy() === 'account';
  $('find-value-label').textContent = byAccount ? 'Accounts, one per line' : 'Tokens, one per line';
  $('find-type-field').hidden = !byAccount;
  updateFindCount();
}

/* What the Find box will look up, said under it as it is typed. */
function updateFindCount() {
  const box = $('find-value');
  box.rows = Math.min(8, Math.max(2, box.value.split('\n').length));
  const n = lines(box.value).length;
  const kind = findBy();
  const type = parseType($('find-type').value);
  let text = n ? 'Looks up ' + plural(n, kind, kind + 's') : 'Type or paste ' + kind + 's, one per line.';
  if (n && kind === 'account') {
    text += type === '' ? ' under every type this app uses unless a line names its type'
      : type === null ? '' : ' as ' + typeLabel(type) + ' unless a line names its type';
  }
  $('find-count').textContent = text + (n ? '.' : '');
}

/* The Find form as a lookup: {kind, text, type}. */
function formLookup() {
  return {kind: findBy(), text: $('find-value').value, type: $('find-type').value.trim()};
}

/* A lookup's items, or {error, focus}. */
function lookupItems(lookup) {
  const list = Array.from(new Set(lines(lookup.text)));
  if (!list.length) return {error: 'Type an ' + lookup.kind + ' to find, or paste up to ' + number(MAX_LOOKUP) + '.', focus: 'find-value'};
  if (list.length > MAX_LOOKUP) return {error: 'At most ' + number(MAX_LOOKUP) + ' at a time; there are ' + number(list.length) + '.', focus: 'find-value'};
  if (lookup.kind === 'token') return {items: list};
  const type = parseType(lookup.type);
  if (type === null) {
    return {error: 'The account type is a number from 0 to ' + MAX_TYPE + ' or a name from the list; leave it empty to look under every type this app uses.',
            focus: 'find-type'};
  }
  const items = [];
  for (const [i, line] of list.entries()) {
    const parsed = parseAccountLine(line);
    if (parsed.error) return {error: 'Line ' + (i + 1) + ' (' + line + '): ' + parsed.error + '.', focus: 'find-value'};
    items.push({account: parsed.account, account_type: parsed.account_type === '' ? type : parsed.account_type});
  }
  return {items};
}

async function find(event) {
  event.preventDefault();
  await runLookup(formLookup(), true);
}

/* Looks up, shows, and puts the lookup in the URL fragment (pushed as a history entry when `push`). */
async function runLookup(lookup, push) {
  const status = $('status');
  const parsed = lookupItems(lookup);
  if (parsed.error) {
    setMessage(status, parsed.error, 'error');
    $(parsed.focus).focus();
    return false;
  }
  setMessage(status, 'Looking up ' + plural(parsed.items.length, lookup.kind, lookup.kind + 's') + '…');
  $('find-button').disabled = true;
  try {
    await showLookup(lookup, parsed.items);
    setFragment(lookup, push);
    const found = shown.entries.filter((e) => e.code === 0).length;
    setMessage(status, plural(parsed.items.length, lookup.kind, lookup.kind + 's') + ' looked up; ' +
               number(found) + ' with bindings.');
    return true;
  } catch (e) {
    failed(e);
    return false;
  } finally {
    $('find-button').disabled = false;
  }
}

/* Queries and shows a lookup (items computed from it unless given). */
async function showLookup(lookup, items) {
  items = items || lookupItems(lookup).items;
  const entries = lookup.kind === 'account' ? await findAccounts(items) : await query('token', items);
  await loadTokenTags(entries);
  shown = {kind: lookup.kind, entries, lookup, asOf: new Date(), stale: null};
  fillForm(lookup);
  render();
}

/* Runs the shown lookup again. */
async function refreshShown() {
  if (shown) await showLookup(shown.lookup);
}

/* A click on a token or an account in the results: look it up. */
async function lookUp(kind, value, type) {
  if (await runLookup({kind, text: value, type: kind === 'account' ? String(type || 0) : ''}, true)) {
    focusFirst('entry|' + entryKey(shown.entries[0]), '#find-value');
  }
}

function fillForm(lookup) {
  document.querySelector('input[name="find-by"][value="' + lookup.kind + '"]').checked = true;
  $('find-value').value = lookup.text;
  $('find-type').value = lookup.type || '';
  onFindByChange();
}

/* ---- Deep links: #by=account&type=1005&q=bob%40example.com ---------------------------- */

const MAX_FRAGMENT = 4000;

function setFragment(lookup, push) {
  const params = new URLSearchParams({by: lookup.kind});
  if (lookup.kind === 'account' && lookup.type) params.set('type', lookup.type);
  params.set('q', lookup.text.trim());
  const hash = '#' + params.toString();
  if (hash === location.hash) return;
  if (hash.length > MAX_FRAGMENT) {
    history.replaceState(null, '', location.pathname + location.search);
    return;
  }
  if (push) history.pushState(null, '', hash);
  else history.replaceState(null, '', hash);
}

/* The lookup the URL fragment names, or null. */
function fragmentLookup() {
  const params = new URLSearchParams(location.hash.slice(1));
  const kind = params.get('by');
  if ((kind !== 'account' && kind !== 'token') || !params.get('q')) return null;
  return {kind, text: params.get('q'), type: params.get('type') || ''};
}

/* Back, forward, or an edited fragment: show what it names. */
function onFragmentChange() {
  const lookup = fragmentLookup();
  if (!lookup) return;
  fillForm(lookup);
  if (session && !(shown && JSON.stringify(shown.lookup) === JSON.stringify(lookup))) runLookup(lookup, false);
}

/* ---- Failures and staleness ------------------------------------------------------------ */

/* Says what failed; a server that did not answer makes the shown results stale. */
function failed(e) {
  setMessage($('status'), e.message, 'error');
  markStale(e);
}

function markStale(e) {
  if (e && e.unanswered && shown && !shown.stale) {
    shown.stale = new Date();
    renderAsOf();
  }
}

/* ---- Wiring -------------------------------------------------------------------------------- */

document.addEventListener('DOMContentLoaded', () => {
  /* The type fields offer every named type (types.js), XG's old meaning beside it. */
  for (const t of TYPES) {
    const history = typeHistory(t.type);
    $('account-types').append(el('option', history ? typeLabel(t.type) + ' (' + history + ')' : null,
                                 {value: typeLabel(t.type)}));
  }
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', () => signOut());
  $('find-form').addEventListener('submit', find);
  $('bind-form').addEventListener('submit', bind);
  $('find-value').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $('find-form').requestSubmit();
    }
  });
  for (const id of ['find-value', 'find-type']) $(id).addEventListener('input', updateFindCount);
  for (const r of document.querySelectorAll('input[name="find-by"]')) r.addEventListener('change', onFindByChange);
  $('newest').addEventListener('change', render);
  $('export').addEventListener('click', exportCsv);
  $('refresh').addEventListener('click', async () => {
    setMessage($('status'), 'Refreshing…');
    try {
      await refreshShown();
      setMessage($('status'), 'Refreshed.', 'done');
    } catch (e) {
      failed(e);
    }
    $('refresh').focus();
  });
  $('undo').addEventListener('click', undoUnbind);
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
  /* Leaving the page (or coming back to it from the back/forward cache) signs out: the key never outlives the visit. */
  window.addEventListener('pagehide', () => {
    if (session) signOut('Signed out when the page was left');
  });
  window.addEventListener('pageshow', (e) => {
    if (e.persisted && session) signOut('Signed out when the page was restored');
  });
  window.addEventListener('hashchange', onFragmentChange);
  window.addEventListener('popstate', onFragmentChange);
  for (const type of ['pointerdown', 'keydown', 'input', 'wheel']) {
    document.addEventListener(type, () => { lastActive = Date.now(); }, {capture: true, passive: true});
  }
  setInterval(checkIdle, 1000);
  setInterval(refreshCount, HEARTBEAT_MS);
  setUpIdleChoice();
  $('environment').value = environment();
  const lookup = fragmentLookup();
  if (lookup) {
    fillForm(lookup);
    setMessage($('signin-message'), 'After you sign in, this page looks up ' + lookup.kind + ' ' + lines(lookup.text)[0] +
               (lines(lookup.text).length > 1 ? ' and ' + plural(lines(lookup.text).length - 1, 'more', 'more') : '') + '.');
  }
  onFindByChange();
  $('access-id').focus();
});
