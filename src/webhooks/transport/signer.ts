import { createHmac, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';

/** `whsec_` + base64 of 32 random bytes (the contract allows 24–64). */
export function generateSigningSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

export function signingKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
}

/**
 * Standard Webhooks: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`, one per valid
 * key, space-separated. Same bytes as the `standardwebhooks` library's `sign` (a unit test
 * holds them together); node:crypto's HMAC is several times cheaper per push.
 */
export function signatureHeader(keys: readonly Buffer[], id: string, timestampSeconds: number, body: string): string {
  return keys
    .map((key) => `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest('base64')}`)
    .join(' ');
}
