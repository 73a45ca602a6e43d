import { ConflictException, Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { catalogEntry } from '../../events/event-catalog.js';
import { API_VERSION, type Envelope, type EventType } from '../../events/event-types.js';
import { newEventId } from '../../events/outbox.service.js';
import { attemptView, type AttemptView } from '../deliveries/delivery-view.js';
import type { Webhook } from '../subscriptions/webhook.entity.js';
import { WebhooksService } from '../subscriptions/webhooks.service.js';
import { DeliveryStore, type WebhookRuntime } from '../deliveries/delivery-store.js';
import { RequestComposer } from '../transport/request-composer.js';
import { renderForSubscription, TransformError } from '../formats/payload-renderer.js';
import { ReceiverClient } from '../transport/receiver-client.js';
import type { AttemptOutcome } from '../transport/sender.js';

/**
 * "Send test event": one attempt now, answered with its outcome; sent even when the
 * subscription is paused or disabled, never retried, never counted toward health.
 */
@Injectable()
export class TestSender {
  constructor(
    private readonly dataSource: DataSource,
    private readonly webhooks: WebhooksService,
    @Inject(ReceiverClient) private readonly receivers: ReceiverClient,
    @Inject(RequestComposer) private readonly composer: RequestComposer,
    @Inject(DeliveryStore) private readonly store: DeliveryStore,
  ) {}

  async send(
    tenantId: string,
    webhookId: string,
    eventType: EventType = 'webhook.test',
  ): Promise<AttemptView & { deliveryId: string }> {
    const webhook = await this.webhooks.find(tenantId, webhookId);
    if (webhook.deliveryMode === 'pull')
      throw new ConflictException(`webhook ${webhookId} is a pull feed: it has no endpoint to send a test event to`);
    const now = new Date();
    const envelope: Envelope = {
      ...catalogEntry(eventType).example,
      id: newEventId(),
      createdAt: now.toISOString(),
      tenantId,
      apiVersion: API_VERSION,
    };
    if (eventType === 'webhook.test') envelope.data = { message: 'This is a test event from Waybill.', webhookId };
    const envelopeBody = JSON.stringify(envelope);
    const runtime = runtimeOf(webhook);
    let body = '';
    let auditHeaders: Record<string, string> = {};
    let outcome: AttemptOutcome;
    try {
      const rendered = await renderForSubscription(runtime, envelopeBody, API_VERSION, {
        nextControlNumber: () => this.store.nextControlNumber(webhookId),
        now,
      });
      body = rendered.body;
      const composed = this.composer.compose(runtime, envelope.id, body, now, rendered.contentType);
      auditHeaders = composed.auditHeaders;
      outcome = await this.receivers.deliver(runtime, composed.outgoing);
    } catch (error) {
      if (!(error instanceof TransformError)) throw error;
      outcome = {
        startedAt: now,
        durationMs: 0,
        responseStatus: null,
        responseHeaders: null,
        responseBody: null,
        errorClass: 'transform_error',
        errorMessage: error.message,
      };
    }
    const delivered = outcome.responseStatus !== null && outcome.responseStatus >= 200 && outcome.responseStatus < 300;

    return this.dataSource.transaction(async (manager) => {
      const [delivery] = await manager.query(
        `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, payload, status, next_trigger, attempt_count,
                               last_attempt_at, last_response_status, last_error_class, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'test', 1, $7, $8, $9, $7, now()) RETURNING id`,
        [
          tenantId,
          webhookId,
          envelope.id,
          eventType,
          envelopeBody,
          delivered ? 'delivered' : 'failed',
          outcome.startedAt,
          outcome.responseStatus,
          outcome.errorClass,
        ],
      );
      const [attempt] = await manager.query(
        `INSERT INTO delivery_attempt (delivery_id, tenant_id, webhook_id, number, trigger, started_at, duration_ms, url,
                                       request_headers, request_body, response_status, response_headers, response_body, error_class, error_message)
         VALUES ($1, $2, $3, 1, 'test', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *`,
        [
          delivery.id,
          tenantId,
          webhookId,
          outcome.startedAt,
          outcome.durationMs,
          webhook.url,
          auditHeaders,
          body,
          outcome.responseStatus,
          outcome.responseHeaders,
          outcome.responseBody,
          outcome.errorClass,
          outcome.errorMessage,
        ],
      );
      return { deliveryId: delivery.id as string, ...attemptView(attempt) };
    });
  }
}

export function runtimeOf(webhook: Webhook): WebhookRuntime {
  return {
    id: webhook.id,
    url: webhook.url ?? '',
    timeoutMs: webhook.timeoutMs,
    maxConcurrency: webhook.maxConcurrency,
    rateLimitPerSecond: webhook.rateLimitPerSecond,
    retrySchedule: webhook.retrySchedule,
    version: webhook.updatedAt.toISOString(),
    secretEncrypted: webhook.secretEncrypted,
    previousSecretEncrypted: webhook.previousSecretEncrypted,
    previousSecretExpiresAt: webhook.previousSecretExpiresAt,
    headersEncrypted: webhook.headersEncrypted,
    apiVersion: webhook.apiVersion,
    payloadFormat: webhook.payloadFormat,
    payloadOptions: webhook.payloadOptions,
    authType: webhook.authType,
    authEncrypted: webhook.authEncrypted,
    tlsEncrypted: webhook.tlsEncrypted,
  };
}
