const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FORBIDDEN = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'content-type',
  'user-agent',
  // Receiver credentials belong in `auth`: a custom one would be sent beside them and win.
  'authorization',
]);

/** A name Waybill sets itself (or that belongs in `auth`): never taken from custom headers. */
export function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return FORBIDDEN.has(lower) || lower.startsWith('webhook-');
}
export const MAX_CUSTOM_HEADERS = 20;

/** Problems with a subscription's custom headers (empty when they may be sent). */
export function customHeaderProblems(headers: unknown): string[] {
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    return ['must be an object of header names to string values'];
  }
  const problems: string[] = [];
  const entries = Object.entries(headers);
  if (entries.length > MAX_CUSTOM_HEADERS) problems.push(`may have at most ${MAX_CUSTOM_HEADERS} headers`);
  for (const [name, value] of entries) {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name)) problems.push(`"${name}" is not a valid header name`);
    else if (lower === 'authorization')
      problems.push(`"${name}" is reserved: receiver credentials belong in auth (basic, bearer or OAuth2)`);
    else if (isReservedHeader(lower)) problems.push(`"${name}" is set by Waybill and cannot be overridden`);
    if (typeof value !== 'string' || /[\r\n\0]/.test(value) || value.length > 4096) {
      problems.push(`"${name}" must have a single-line string value of at most 4096 characters`);
    }
  }
  return problems;
}
