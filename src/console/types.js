/*
 * pushbind console: account types and the lines a person types or pastes.
 *
 * An account is a name and a type; the same name under two types is two
 * accounts. TYPES names the types a support person meets; any other number
 * is still accepted and shown as "type N". Loaded first: api.js and the
 * view use these names.
 */
'use strict';

/*
 * TPNS's account types (docs/API.md, "Account types"), in the order a list
 * offers them: the current table's names, and in `xg` what the older XG table
 * (still in some clients) meant by the same number, where it differs. Numbers
 * only XG named are marked as XG's.
 */
const CUSTOM = Array.from({length: 15}, (_, i) => ({type: i + 2, name: 'custom ' + (i + 2)}));
const TYPES = [
  {type: 0, name: 'no type (default)'},
  {type: 1, name: 'custom', xg: 'mobile'},
  ...CUSTOM.map((t) => t.type === 2 ? {...t, xg: 'e-mail'} : t),
  {type: 991, name: 'QQ number'},
  {type: 992, name: 'QQ number (MD5)'},
  {type: 997, name: 'OAID'},
  {type: 998, name: 'OAID (MD5)'},
  {type: 999, name: 'WeChat UnionID'},
  {type: 1000, name: 'WeChat OpenID (XG)'},
  {type: 1001, name: 'QQ OpenID (XG)'},
  {type: 1002, name: 'phone number', xg: 'Weibo'},
  {type: 1003, name: 'WeChat OpenID', xg: 'Alipay'},
  {type: 1004, name: 'QQ OpenID', xg: 'Taobao'},
  {type: 1005, name: 'e-mail', xg: 'Douban'},
  {type: 1006, name: 'Weibo', xg: 'Facebook'},
  {type: 1007, name: 'Alipay', xg: 'Twitter'},
  {type: 1008, name: 'Taobao', xg: 'Google'},
  {type: 1009, name: 'Douban', xg: 'Baidu'},
  {type: 1010, name: 'Facebook', xg: 'JD'},
  {type: 1011, name: 'Twitter', xg: 'LinkedIn'},
  {type: 1012, name: 'Google'},
  {type: 1013, name: 'Baidu'},
  {type: 1014, name: 'JD'},
  {type: 1015, name: 'LinkedIn'},
  {type: 1999, name: 'others (XG)'},
  {type: 2000, name: 'visitor (XG)'},
];

const MAX_TYPE = 2147483647;

/* "e-mail" for 1005; null for a number without a name. */
function typeName(type) {
  const found = TYPES.find((t) => t.type === Number(type || 0));
  return found ? found.name : null;
}

/* "was Douban in XG's table" for 1005; '' when the number meant nothing else there. */
function typeHistory(type) {
  const found = TYPES.find((t) => t.type === Number(type || 0));
  return found && found.xg ? 'was ' + found.xg + ' in XG\'s table' : '';
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
