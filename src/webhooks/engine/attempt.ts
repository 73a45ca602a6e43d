import { Inject, Injectable } from '@nestjs/common';
import { ControlNumbers } from '../formats/control-numbers.js';
import { renderForSubscription, TransformError } from '../formats/payload-renderer.js';
import type { WebhookRuntime } from '../subscriptions/webhook-runtime.js';
import { ReceiverClient } from '../transport/receiver-client.js';
import { RequestComposer } from '../transport/request-composer.js';
import { reasonOf } from '../transport/answer-reason.js';
import { AUDIT_BODY_LIMIT, type AttemptOutcome } from '../transport/sender.js';
import { cutText } from '../deliveries/storable.js';
import type { AttemptVerdict } from './health.js';
import { parseRetryAfter } from './retry-policy.js';

/** What one attempt sends: an event's envelope to a subscription, in the subscription's format. */
export interface AttemptTarget {
  webhook: WebhookRuntime;
  eventId: string;
  /** The envelope as JSON text. */
  envelope: string;
  /** The payload version the envelope is in. */
  envelopeVersion: string;
  /**
   * The audit can rebuild the envelope from the event row: when it is sent as it is stored,
   * the attempt does not keep a copy of it.
   */
  envelopeIsStored: boolean;
}

/** One attempt's outcome, what the audit keeps of its request, and what it means. */
export interface AttemptResult {
  outcome: AttemptOutcome;
  /** The request headers as audited: the signature yes, secrets and credentials never. */
  auditHeaders: Record<string, string>;
  /** The body as audited: null when it is the stored envelope, '' when nothing was sent (the transform failed). */
  auditBody: string | null;
  verdict: AttemptVerdict;
  /** One line read from the answer (or the error): why it went as it did. */
  reason: string;
  /** What a 429/503 asked for, in ms. */
  retryAfterMs: number | undefined;
}

/**
 * How an outcome counts: success, gone (410), permanent (one of the subscription's
 * `permanentStatuses`), throttled (429/503 with Retry-After) or failure.
 */
export function verdictOf(
  outcome: AttemptOutcome,
  retryAfterMs: number | undefined,
  permanentStatuses: readonly number[] = [],
  reason?: string,
): AttemptVerdict {
  const at = outcome.startedAt;
  const status = outcome.responseStatus;
  if (status !== null && status >= 200 && status < 300) return { kind: 'success', at, reason };
  if (status === 410) return { kind: 'gone', at, reason };
  if (status !== null && permanentStatuses.includes(status)) return { kind: 'permanent', at, reason };
  if ((status === 429 || status === 503) && retryAfterMs !== undefined) return { kind: 'throttled', at, reason };
  if (outcome.errorClass === 'aborted') return { kind: 'aborted', at, reason };
  return { kind: 'failure', at, reason };
}

/**
 * One attempt, the same for pushes, redeliveries and test sends: render the body in the
 * subscription's format → compose the signed request → add its credentials and send it over its
 * connections → the verdict. Nothing here throws for a receiver's or a transform's failure: every
 * way an attempt can go is an outcome the audit records.
 */
@Injectable()
export class AttemptPipeline {
  constructor(
    @Inject(RequestComposer) private readonly composer: RequestComposer,
    @Inject(ReceiverClient) private readonly receivers: ReceiverClient,
    private readonly controlNumbers: ControlNumbers,
  ) {}

  /** `abort`: this instance is shutting down; a request in flight ends at once as `aborted`. */
  async run(target: AttemptTarget, now = new Date(), abort?: AbortSignal): Promise<AttemptResult> {
    const { webhook } = target;
    let outcome: AttemptOutcome;
    let auditHeaders: Record<string, string> = {};
    let auditBody: string | null = null;
    try {
      const rendered = await renderForSubscription(webhook, target.envelope, target.envelopeVersion, {
        nextControlNumber: () => this.controlNumbers.next(webhook.id),
        now,
      });
      const sentAsStored =
        target.envelopeIsStored &&
        webhook.payloadFormat === 'envelope' &&
        webhook.apiVersion === target.envelopeVersion;
      if (!sentAsStored) auditBody = cutText(rendered.body, AUDIT_BODY_LIMIT);
      const composed = this.composer.compose(webhook, target.eventId, rendered.body, now, rendered.contentType);
      auditHeaders = composed.auditHeaders;
      outcome = await this.receivers.deliver(webhook, composed.outgoing, abort);
    } catch (error) {
      const transform = error instanceof TransformError;
      if (transform) auditBody = '';
      outcome = {
        startedAt: now,
        durationMs: Math.round(Date.now() - now.getTime()),
        responseStatus: null,
        responseHeaders: null,
        responseBody: null,
        errorClass: transform ? 'transform_error' : 'network',
        errorMessage: transform
          ? error.message
          : `could not prepare the request: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
    const status = outcome.responseStatus;
    const retryAfterMs =
      status === 429 || status === 503
        ? parseRetryAfter(outcome.responseHeaders?.['retry-after'], outcome.startedAt.getTime())
        : undefined;
    const reason = reasonOf(outcome);
    return {
      outcome,
      auditHeaders,
      auditBody,
      verdict: verdictOf(outcome, retryAfterMs, webhook.permanentStatuses, reason),
      reason,
      retryAfterMs,
    };
  }
}
