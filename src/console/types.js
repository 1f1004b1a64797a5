/*
 * pushbind console: account types and the lines a person types or pastes.
 *
 * An account is a name and a type; the same name under two types is two
 * accounts. TYPES names the types a support person meets; any other number
 * is still accepted and shown as "type N". Loaded first: api.js and the
 * view use these names.
 */
'use strict';

/* TPNS's account types that have a name here, in the order a list offers them. */
const TYPES = [
  {type: 0, name: 'no type (default)'},
  {type: 1, name: 'custom'},
  {type: 1002, name: 'phone number'},
  {type: 1005, name: 'e-mail'},
];

/* The types a lookup "under any known type" tries: every named one. */
const KNOWN_TYPES = TYPES.map((t) => t.type);

const MAX_TYPE = 2147483647;

/* "e-mail" for 1005; null for a number without a name. */
function typeName(type) {
  const found = TYPES.find((t) => t.type === Number(type || 0));
  return found ? found.name : null;
}

/* "1005 e-mail", or "type 7" for a number without a name. */
function typeLabel(type) {
  const n = Number(type || 0);
  const name = typeName(n);
  return name ? n + ' ' + name : 'type ' + n;
}

/*
 * A type as typed: "1005", "1005 e-mail" (as the list offers it) or a name
 * ("e-mail"). Returns the number, '' for an empty field, or null when it is
 * neither.
 */
function parseType(text) {
  text = String(text || '').trim();
  if (text === '') return '';
  const number = /^([0-9]{1,10})(\s.*)?$/.exec(text);
  if (number) return Number(number[1]) <= MAX_TYPE ? Number(number[1]) : null;
  const named = TYPES.find((t) => t.name.toLowerCase() === text.toLowerCase());
  return named ? named.type : null;
}

/*
 * One line of the Find box, read as an account. The formats:
 *   bob@example.com            the name; the type comes from the type field
 *   1005,bob@example.com       TYPE,NAME (a CSV row: type first)
 *   bob@example.com<TAB>1005   NAME<TAB>TYPE (two spreadsheet columns)
 * So a name that itself starts with digits and a comma ("12,34") is written
 * with its type in front ("0,12,34"). Returns {account, account_type} where
 * account_type is '' when the line names none, or {error} for a bad type.
 */
function parseAccountLine(line) {
  const tab = line.lastIndexOf('\t');
  if (tab >= 0) {
    const type = parseType(line.slice(tab + 1));
    const account = line.slice(0, tab).trim();
    if (type === null || type === '') return {error: 'after the tab comes the account type (a number)'};
    return {account, account_type: type};
  }
  const csv = /^([0-9]{1,10}),(.*)$/.exec(line);
  if (csv) {
    const type = parseType(csv[1]);
    if (type === null) return {error: 'the account type is at most ' + MAX_TYPE};
    return {account: csv[2].trim(), account_type: type};
  }
  return {account: line, account_type: ''};
}

/* The Find box's text as trimmed, non-empty lines. */
function lines(text) {
  return String(text || '').split(/\r?\n/).map((s) => s.trim()).filter((s) => s);
}
