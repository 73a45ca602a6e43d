import { STATUS_CODES } from 'node:http';
import { storableText } from '../deliveries/storable.js';

/** A reason is one line of at most this many characters (longer ones end in "…"). */
export const REASON_MAX_LENGTH = 300;

/** What an attempt got back, as far as the reason is concerned. */
export interface Answer {
  /** Null when nothing answered (refused, timed out, blocked, not sent). */
  responseStatus: number | null;
  responseHeaders?: Record<string, string> | null;
  responseBody?: string | null;
  /** Why nothing (usable) answered: the attempt's own error message. */
  errorMessage?: string | null;
}

/**
 * The one line an admin reads to know why an attempt ended as it did, taken from the answer:
 * RFC 9457 problem details (`detail`, else `title`), an OData v4 or v2 error (`error.message`,
 * `error.message.value`, JSON or XML), a SOAP 1.1 or 1.2 fault (`faultstring`, `Reason/Text`), a
 * JSON `message` / `error_description` / `error` (or the first of `errors[].message`), an HTML
 * page's title, else the first line of the text. When the body says nothing usable: the status
 * line ("503 Service Unavailable"); when nothing answered: the attempt's error message.
 */
export function reasonOf(answer: Answer): string {
  if (answer.responseStatus === null) return oneLine(answer.errorMessage ?? '') || 'no answer';
  const statusLine = `${answer.responseStatus} ${STATUS_CODES[answer.responseStatus] ?? 'Unknown Status'}`.trim();
  const body = (answer.responseBody ?? '').trim();
  if (!body) return statusLine;
  const contentType = headerValue(answer.responseHeaders, 'content-type').toLowerCase();
  const found = looksLikeJson(body, contentType)
    ? fromJson(body)
    : looksLikeXml(body, contentType)
      ? fromXml(body)
      : firstLine(body);
  return oneLine(found ?? '') || statusLine;
}

function headerValue(headers: Record<string, string> | null | undefined, name: string): string {
  if (!headers) return '';
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return '';
}

const looksLikeJson = (body: string, contentType: string) => /[/+]json\b/.test(contentType) || /^[[{]/.test(body);

const looksLikeXml = (body: string, contentType: string) =>
  /[/+](xml|html)\b/.test(contentType) || body.startsWith('<');

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() ? value : undefined);

/** JSON bodies; undefined when it is not JSON at all (then it is read as text), null when it names no reason. */
function fromJson(body: string): string | null | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return firstLine(body);
  }
  if (Array.isArray(parsed)) parsed = parsed[0];
  if (typeof parsed !== 'object' || parsed === null) return text(parsed) ?? null;
  const o = parsed as Record<string, unknown>;
  // RFC 9457 / RFC 7807 problem details: the occurrence's detail, else the problem type's title.
  if (text(o.detail)) return text(o.detail);
  // OData v4 `{ error: { code, message } }`, v2 `{ error: { message: { lang, value } } }`, v3 `odata.error`.
  for (const error of [o.error, o['odata.error']]) {
    if (typeof error !== 'object' || error === null) continue;
    const e = error as Record<string, unknown>;
    const message = e.message;
    const found =
      text(message) ??
      (typeof message === 'object' && message !== null
        ? text((message as Record<string, unknown>).value)
        : undefined) ??
      text(e.error_description) ??
      text(e.description);
    if (found) return found;
  }
  if (text(o.title) && (o.type !== undefined || o.status !== undefined)) return text(o.title);
  const plain =
    text(o.message) ??
    text(o.Message) ??
    text(o.error_description) ??
    text(o.error) ??
    text(o.title) ??
    text(o.description);
  if (plain) return plain;
  if (Array.isArray(o.errors)) {
    for (const item of o.errors) {
      const found =
        text(item) ??
        (typeof item === 'object' && item !== null ? text((item as { message?: unknown }).message) : undefined);
      if (found) return found;
    }
  }
  return null;
}

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: ' ' };

/** Markup removed and entities decoded. Every pattern here stops at the next `<`, so the work is linear in the body. */
function decodeXmlText(value: string): string {
  return value
    .replaceAll('<![CDATA[', '')
    .replaceAll(']]>', '')
    .replace(/<[^<>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (whole, name: string) => {
      if (name[0] === '#') {
        const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return ENTITIES[name.toLowerCase()] ?? whole;
    });
}

/**
 * The text of the first element with this local name (any namespace prefix). One search for the
 * opening tag and one for the closing tag after it: a body full of unclosed tags costs no more
 * than a clean one.
 */
function elementText(body: string, localName: string): string | undefined {
  const open = new RegExp(`<(?:[\\w.-]{1,64}:)?${localName}(?:\\s[^<>]{0,1000})?>`, 'i').exec(body);
  if (!open) return undefined;
  const rest = body.slice(open.index + open[0].length);
  const close = new RegExp(`</(?:[\\w.-]{1,64}:)?${localName}\\s{0,20}>`, 'i').exec(rest);
  return close ? text(decodeXmlText(rest.slice(0, close.index))) : undefined;
}

/** SOAP faults, OData v2 XML errors (SAP Gateway's default), HTML error pages; else the first line. */
function fromXml(body: string): string | undefined {
  const soap =
    elementText(body, 'faultstring') ??
    (/<(?:[\w.-]{1,64}:)?Fault[\s>]/i.test(body) ? elementText(body, 'Text') : undefined);
  if (soap) return soap;
  if (/<(?:[\w.-]{1,64}:)?error[\s>]/i.test(body)) {
    const odata = elementText(body, 'message');
    if (odata) return odata;
  }
  const title = elementText(body, 'title') ?? elementText(body, 'h1');
  if (title) return title;
  return firstLine(decodeXmlText(body.replace(/<\/?(p|div|br|h\d|li|tr)\b[^<>]*>/gi, '\n')));
}

function firstLine(value: string): string | undefined {
  for (const line of value.split(/\r?\n|\r/)) if (line.trim()) return line;
  return undefined;
}

/**
 * Whitespace and control characters collapsed to single spaces, cut on a code-point boundary. Lone
 * surrogates (a body can spell them as `\ud800` or `&#xD800;`) are dropped: the reason also
 * travels in the health transaction (`lastFailureReason`, `delivery.failed`), whose json
 * PostgreSQL would refuse whole.
 */
export function oneLine(value: string): string {
  const flat = storableText(value.replace(/[\s\p{Cc}]+/gu, ' '))
    .replace(/ {2,}/g, ' ')
    .trim();
  const points = Array.from(flat);
  return points.length <= REASON_MAX_LENGTH ? flat : `${points.slice(0, REASON_MAX_LENGTH - 1).join('')}…`;
}
