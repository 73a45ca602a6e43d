/**
 * Text as PostgreSQL can store it. `text` and `jsonb` refuse NUL, and `jsonb` refuses a lone
 * UTF-16 surrogate ("Unicode low surrogate must follow a high surrogate"), which a cut in the
 * middle of an emoji or a receiver's odd JSON would leave behind.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function storableText(text: string): string {
  // Nearly every text is storable as it is: two scans without a copy instead of two replaces.
  if (text.isWellFormed() && !text.includes('\u0000')) return text;
  return text.replace(LONE_SURROGATE, '').replaceAll('\u0000', '');
}

/** At most `limit` UTF-16 units, never ending inside a surrogate pair. */
export function cutText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const end = /[\uD800-\uDBFF]/.test(text[limit - 1]) ? limit - 1 : limit;
  return text.slice(0, end);
}

export function storableHeaders(headers: Record<string, string> | null): Record<string, string> | null {
  if (!headers) return headers;
  const clean: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) clean[storableText(name)] = storableText(String(value));
  return clean;
}
