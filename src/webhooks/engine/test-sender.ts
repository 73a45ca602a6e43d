import { ConflictException, Inject, Injectable } from '@nestjs/common';
import { catalogEntry } from '../../events/event-catalog.js';
import { API_VERSION, type Envelope, type EventType } from '../../events/event-types.js';
import { newEventId } from '../../events/outbox.service.js';
import { DeliveryRepository } from '../deliveries/delivery.repository.js';
import { attemptView, type AttemptView } from '../deliveries/delivery-view.js';
import { runtimeOf } from '../subscriptions/webhook-runtime.js';
import { WebhooksService } from '../subscriptions/webhooks.service.js';
import { AttemptPipeline } from './attempt.js';

/**
 * "Send test event": one attempt now through the same pipeline as every push, answered with its
 * outcome; sent even when the subscription is paused or disabled, never retried, never counted
 * toward health.
 */
@Injectable()
export class TestSender {
  constructor(
    private readonly webhooks: WebhooksService,
    private readonly pipeline: AttemptPipeline,
    @Inject(DeliveryRepository) private readonly deliveries: DeliveryRepository,
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
    // The answer shows the body as sent, so the attempt keeps it even when it is the stored envelope.
    const { outcome, auditHeaders, auditBody, reason } = await this.pipeline.run(
      {
        webhook: runtime,
        eventId: envelope.id,
        envelope: envelopeBody,
        envelopeVersion: API_VERSION,
        envelopeIsStored: false,
      },
      now,
    );
    const delivered = outcome.responseStatus !== null && outcome.responseStatus >= 200 && outcome.responseStatus < 300;
    const { deliveryId, attempt } = await this.deliveries.recordTestSend({
      tenantId,
      webhookId,
      eventId: envelope.id,
      eventType,
      envelope: envelopeBody,
      attempt: {
        startedAt: outcome.startedAt,
        durationMs: outcome.durationMs,
        url: runtime.url,
        requestHeaders: auditHeaders,
        requestBody: auditBody,
        responseStatus: outcome.responseStatus,
        responseHeaders: outcome.responseHeaders,
        responseBody: outcome.responseBody,
        errorClass: outcome.errorClass,
        errorMessage: outcome.errorMessage,
        reason,
        status: delivered ? 'delivered' : 'failed',
      },
    });
    return { deliveryId, ...attemptView(attempt) };
  }
}
