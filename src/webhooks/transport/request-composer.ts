import { SERVICE_VERSION } from '../../version.js';
import { type SecretBox, webhookField } from './secret-box.js';
import type { WebhookRuntime } from '../subscriptions/webhook-runtime.js';
import type { OutgoingRequest } from './sender.js';
import { signatureHeader, signingKey } from './signer.js';
import { isReservedHeader } from '../subscriptions/custom-headers.js';

export const USER_AGENT = `Waybill-Webhooks/${SERVICE_VERSION}`;
export const REDACTED = '[redacted]';
/** Unsealed secrets of a subscription not sent to for this long are dropped. */
const IDLE_MS = 10 * 60_000;

interface Unsealed {
  version: string;
  usedAt: number;
  key: Buffer;
  previousKey: Buffer | null;
  headers: Record<string, string>;
}

export interface ComposedRequest {
  outgoing: OutgoingRequest;
  /** What the audit keeps: the signature yes, custom header values never. */
  auditHeaders: Record<string, string>;
}

/**
 * Builds one attempt's request: Standard Webhooks headers signed over the body as sent, plus the
 * subscription's own headers. Decrypted secrets are kept per subscription version, so a push
 * costs an HMAC, not a decryption.
 */
export class RequestComposer {
  private readonly unsealed = new Map<string, Unsealed>();
  private forgotAt = Date.now();

  constructor(private readonly box: SecretBox) {}

  compose(
    webhook: WebhookRuntime,
    eventId: string,
    body: string,
    now: Date,
    contentType = 'application/json',
  ): ComposedRequest {
    const secrets = this.unseal(webhook);
    const keys = [secrets.key];
    if (secrets.previousKey && webhook.previousSecretExpiresAt && webhook.previousSecretExpiresAt > now)
      keys.push(secrets.previousKey);
    const timestamp = Math.floor(now.getTime() / 1000);
    const standard = {
      'content-type': contentType,
      'user-agent': USER_AGENT,
      'webhook-id': eventId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': signatureHeader(keys, eventId, timestamp, body),
    };
    const auditHeaders: Record<string, string> = { ...standard };
    for (const name of Object.keys(secrets.headers)) auditHeaders[name.toLowerCase()] = REDACTED;
    // The receiver client adds the credentials when it sends; the audit only says they were there.
    if (webhook.authType !== 'none') auditHeaders.authorization = REDACTED;
    return {
      outgoing: { url: webhook.url, headers: { ...secrets.headers, ...standard }, body, timeoutMs: webhook.timeoutMs },
      auditHeaders,
    };
  }

  private unseal(webhook: WebhookRuntime): Unsealed {
    const cached = this.unsealed.get(webhook.id);
    if (cached && cached.version === webhook.version) {
      cached.usedAt = Date.now();
      return cached;
    }
    const fresh: Unsealed = {
      version: webhook.version,
      usedAt: Date.now(),
      key: signingKey(this.box.decrypt(webhook.secretEncrypted, webhookField(webhook.id, 'secret'))),
      previousKey: webhook.previousSecretEncrypted
        ? signingKey(this.box.decrypt(webhook.previousSecretEncrypted, webhookField(webhook.id, 'previous_secret')))
        : null,
      // Reserved names stored before they were reserved (an Authorization) are never sent.
      headers: webhook.headersEncrypted
        ? Object.fromEntries(
            Object.entries(
              JSON.parse(this.box.decrypt(webhook.headersEncrypted, webhookField(webhook.id, 'headers'))) as Record<
                string,
                string
              >,
            ).filter(([name]) => !isReservedHeader(name)),
          )
        : {},
    };
    this.unsealed.set(webhook.id, fresh);
    return fresh;
  }

  /** Secrets of subscriptions not sent to for `idleMs` are dropped (deleted ones would stay forever). */
  forgetIdle(idleMs = IDLE_MS, now = Date.now()): void {
    if (now - this.forgotAt < Math.min(idleMs, 60_000)) return;
    this.forgotAt = now;
    for (const [id, entry] of this.unsealed) if (now - entry.usedAt >= idleMs) this.unsealed.delete(id);
  }

  /** How many subscriptions' secrets are held unsealed. */
  get size(): number {
    return this.unsealed.size;
  }
}
