/*
 * pushbind console: tags. A token's tags wherever its details are shown (one
 * POST /pushbind/v1/tag/query op 1 for the tokens a lookup shows), and the
 * tokens of a tag: how many (op 3) and the tokens themselves a page at a time
 * (op 2), "Show more" for the next page, each token a click away from its
 * accounts. A tag looked up is in the URL fragment (#by=tag&q=vip), never the
 * key. Reads only: a read key sees all of it.
 *
 * Hooks the other files call: loadTokenTags() (console.js, for each lookup),
 * tagsLine() and tagsCell() (view.js, in a looked-up entry), tagsSignedIn()
 * and tagsSignedOut() (console.js). It uses api.js's call() and session,
 * view.js's el(), $ and setMessage(), console.js's lookUp().
 */
'use strict';

const TAG_QUERY = '/pushbind/v1/tag/query';
const TAG_QUERY_ITEMS = 1000; /* docs/API.md: the most tokens op 1 takes */
const TAG_PAGE = 100;         /* tokens a page of op 2 */

/* The tag shown: {tag, count, tokens, cursor, asOf}; null before a tag lookup. */
let shownTag = null;

/* ---- A token's tags ---------------------------------------------------------------- */

/*
 * Reads the tags of the tokens `entries` show (api.js's query() entries) and puts
 * them on them: entry.tags for a looked-up token, t.tags for each token of a
 * looked-up account. A tag read the server refuses (its store failed)
 * leaves them unset, so the lookup still shows its bindings; one that does
 * not answer throws.
 */
async function loadTokenTags(entries) {
  const tokens = new Set();
  for (const e of entries) {
    if (e.kind === 'token' && (e.code === 0 || e.code === E_NO_BINDING)) tokens.add(e.token);
    for (const t of e.tokens || []) tokens.add(t.token);
  }
  const list = Array.from(tokens);
  const tags = new Map();
  try {
    for (let i = 0; i < list.length; i += TAG_QUERY_ITEMS) {
      const answer = await call('POST', TAG_QUERY, {operator_type: 1, token_list: list.slice(i, i + TAG_QUERY_ITEMS)});
      for (const t of answer.token_tags || []) tags.set(t.token, t.tag_list || []);
    }
  } catch (e) {
    if (e.unanswered) throw e;
    return;
  }
  for (const e of entries) {
    if (e.kind === 'token') e.tags = tags.get(e.token);
    for (const t of e.tokens || []) t.tags = tags.get(t.token);
  }
}

/* A tag as a button that looks up its tokens. */
function tagButton(tag, focusKey) {
  const b = el('button', tag, {type: 'button', class: 'link tag', title: 'Find the tokens of tag ' + tag,
                               'data-focus': 'tag|' + focusKey + '|' + tag});
  b.addEventListener('click', () => lookUpTag(tag));
  return b;
}

function tagButtons(node, tags, focusKey) {
  if (!tags.length) node.append('none');
  tags.forEach((tag, i) => node.append(i ? ' ' : '', tagButton(tag, focusKey)));
  return node;
}

/* "Tags: vip level:3" under a looked-up token; null for an account, or when the tags could not be read. */
function tagsLine(entry) {
  if (entry.kind !== 'token' || !Array.isArray(entry.tags)) return null;
  const line = el('p', null, {class: 'tags'});
  line.append(el('span', 'Tags: ', {class: 'type'}));
  return tagButtons(line, entry.tags, entry.token);
}

/* The Tags cell of a token's row under a looked-up account. */
function tagsCell(tags, token) {
  const td = el('td', null, {'data-label': 'Tags'});
  if (!Array.isArray(tags)) {
    td.textContent = '—';
    return td;
  }
  return tagButtons(td, tags, token);
}

/* ---- The tokens of a tag ------------------------------------------------------------ */

function tagMessage(e) {
  if (e.code === E_PARAM) {
    return 'Not a valid tag (1008007): a tag is 1 to ' + ((session.limits && session.limits.max_tag_chars) || 50) +
           ' characters, no control characters, no leading or trailing space.';
  }
  return e.message;
}

/* Looks tag `tag` up: its count and its first page; in the URL fragment (pushed as a history entry when `push`). */
async function runTagLookup(tag, push) {
  const status = $('tag-status');
  tag = tag.trim();
  $('tag-value').value = tag;
  if (!tag) {
    setMessage(status, 'Type a tag, such as vip or level:3.', 'error');
    $('tag-value').focus();
    return false;
  }
  setMessage(status, 'Looking up tag ' + tag + '…');
  $('tag-button').disabled = true;
  try {
    const counted = await call('POST', TAG_QUERY, {operator_type: 3, tag_list: [tag]});
    const count = ((counted.tag_counts || [])[0] || {}).count || 0;
    shownTag = {tag, count, tokens: [], cursor: null, asOf: new Date()};
    await nextTagPage();
    setTagFragment(tag, push);
    renderTag();
    setMessage(status, count ? 'Tag ' + tag + ': ' + plural(count, 'token', 'tokens') + '.' : 'No token has tag ' + tag + '.',
               'done');
    return true;
  } catch (e) {
    setMessage(status, tagMessage(e), 'error');
    markStale(e);
    return false;
  } finally {
    $('tag-button').disabled = false;
  }
}

/* Reads the next page of the shown tag's tokens (the first one when none was read). */
async function nextTagPage() {
  const body = {operator_type: 2, tag: shownTag.tag, limit: TAG_PAGE};
  if (shownTag.cursor) body.cursor = shownTag.cursor;
  const page = await call('POST', TAG_QUERY, body);
  shownTag.tokens.push(...(page.token_list || []));
  shownTag.cursor = page.next_cursor || null;
}

/* "Show more": the next page, focus on its first token. */
async function showMoreTokens() {
  const first = shownTag.tokens.length;
  try {
    await nextTagPage();
    renderTag();
    const next = shownTag.tokens[first];
    focusFirst(next === undefined ? 'tagmore' : 'tagtoken|' + next, 'tagmore', 'taghead|' + shownTag.tag);
  } catch (e) {
    setMessage($('tag-status'), tagMessage(e), 'error');
    markStale(e);
  }
}

/* A click on a tag: look it up and move there. */
async function lookUpTag(tag) {
  if (await runTagLookup(tag, true)) focusFirst('taghead|' + tag, '#tag-value');
}

function renderTag() {
  const box = $('tag-results');
  box.replaceChildren();
  if (!shownTag) return;
  const t = shownTag;
  const head = el('div', null, {class: 'entry-head'});
  const title = el('h3', null, {tabindex: '-1', 'data-focus': 'taghead|' + t.tag});
  title.append('Tag ', el('span', t.tag, {class: 'value'}));
  head.append(title, el('span', number(t.tokens.length) + ' of ' + plural(t.count, 'token', 'tokens') + ' shown · as of ' +
                        clock(t.asOf, true), {class: 'count'}));
  box.append(head);
  if (!t.tokens.length) return;
  const list = el('ul', null, {class: 'tag-tokens', 'aria-label': 'Tokens of tag ' + t.tag});
  for (const token of t.tokens) {
    const b = el('button', token, {type: 'button', class: 'link', title: 'Look up token ' + token,
                                   'data-focus': 'tagtoken|' + token});
    b.addEventListener('click', () => lookUp('token', token));
    const li = el('li');
    li.append(b);
    list.append(li);
  }
  box.append(list);
  if (t.cursor) {
    const more = el('button', 'Show ' + TAG_PAGE + ' more', {type: 'button', class: 'secondary', 'data-focus': 'tagmore'});
    more.addEventListener('click', showMoreTokens);
    box.append(more);
  }
}

/* ---- Deep links: #by=tag&q=vip ------------------------------------------------------ */

function setTagFragment(tag, push) {
  const hash = '#' + new URLSearchParams({by: 'tag', q: tag}).toString();
  if (hash === location.hash) return;
  if (push) history.pushState(null, '', hash);
  else history.replaceState(null, '', hash);
}

/* The tag the URL fragment names, or null. */
function fragmentTag() {
  const params = new URLSearchParams(location.hash.slice(1));
  return params.get('by') === 'tag' && params.get('q') ? params.get('q') : null;
}

function onTagFragmentChange() {
  const tag = fragmentTag();
  if (tag === null) return;
  $('tag-value').value = tag;
  if (session && !(shownTag && shownTag.tag === tag)) runTagLookup(tag, false);
}

/* ---- Hooks ------------------------------------------------------------------------------- */

function tagsSignedIn() {
  const tag = fragmentTag();
  if (tag !== null) runTagLookup(tag, false);
}

function tagsSignedOut() {
  shownTag = null;
  $('tag-value').value = '';
  setMessage($('tag-status'), '');
  renderTag();
}

document.addEventListener('DOMContentLoaded', () => {
  $('tag-form').addEventListener('submit', (event) => {
    event.preventDefault();
    runTagLookup($('tag-value').value, true);
  });
  window.addEventListener('hashchange', onTagFragmentChange);
  window.addEventListener('popstate', onTagFragmentChange);
  const tag = fragmentTag();
  if (tag !== null) {
    $('tag-value').value = tag;
    setMessage($('signin-message'), 'After you sign in, this page finds the tokens of tag ' + tag + '.');
  }
});
