import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { conflict } from '../../common/errors.js';
import { notFound } from '../../common/ids.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage } from '../../common/pagination.js';
import { DeliverySignal } from '../engine/delivery-signal.js';
import { AUDIT_BODY_LIMIT } from '../transport/sender.js';
import { WebhooksService } from '../subscriptions/webhooks.service.js';
import type { ListDeliveriesQuery } from './deliveries.dto.js';
import { DELIVERY_REFERS_TO_EVENT, DeliveryRepository } from './delivery.repository.js';
import { EventsService } from '../../events/events.service.js';
import { attemptView, deliveryView } from './delivery-view.js';

/** Rows deleted per statement while pruning, so the prune never holds long locks. */
const PRUNE_CHUNK = 5_000;

/** The delivery log, redeliver and replay, and the audit's retention. */
@Injectable()
export class DeliveriesService implements OnModuleInit {
  private readonly logger = new Logger(DeliveriesService.name);

  constructor(
    @Inject(DeliveryRepository) private readonly deliveries: DeliveryRepository,
    private readonly webhooks: WebhooksService,
    private readonly signal: DeliverySignal,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly events: EventsService,
  ) {}

  /** Event retention keeps every event a delivery still refers to (it can be redelivered; its detail shows it). */
  onModuleInit(): void {
    this.events.keepWhile(DELIVERY_REFERS_TO_EVENT);
  }

  async list(tenantId: string, query: ListDeliveriesQuery) {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeCursor(query.cursor);
    const rows = await this.deliveries.list(
      tenantId,
      {
        webhookId: query.webhookId,
        status: query.status,
        eventType: query.eventType,
        since: query.since,
        before: after ? { createdAt: after.key, id: after.id } : undefined,
      },
      limit,
    );
    return toPage(rows, limit, (r) => ({ key: r.createdKey, id: r.id }), deliveryView);
  }

  async get(tenantId: string, id: string) {
    const delivery = await this.deliveries.find(tenantId, id);
    if (!delivery) throw notFound('delivery', id);
    const attempts = await this.deliveries.attemptsOf(id);
    // Attempts of an envelope do not store it: it is the event, rebuilt here byte for byte.
    const sentBody = delivery.payload ?? delivery.envelope?.slice(0, AUDIT_BODY_LIMIT) ?? null;
    return {
      ...deliveryView(delivery),
      attempts: attempts.map((a) => ({ ...attemptView(a), requestBody: a.requestBody ?? sentBody })),
    };
  }

  /** Queues one more attempt now (trigger manual); on failure the retry schedule starts again. */
  async redeliver(tenantId: string, id: string) {
    const row = await this.deliveries.redeliver(tenantId, id);
    if (!row) {
      switch (await this.deliveries.redeliverRefusal(tenantId, id)) {
        case 'not_found':
          throw notFound('delivery', id);
        case 'deleted':
          throw conflict('its webhook subscription was deleted; nothing can be sent to it');
        case 'pull':
          throw conflict('its subscription is a pull feed: the ERP reads it again until it acknowledges');
        case 'in_flight':
          throw conflict('the delivery is being sent right now; try again when the attempt is recorded');
      }
    }
    this.signal.wake();
    return deliveryView(row);
  }

  /** Re-queues the subscription's failed deliveries created in [since, until). */
  async replay(tenantId: string, webhookId: string, since: string, until?: string) {
    const webhook = await this.webhooks.find(tenantId, webhookId);
    if (webhook.deliveryMode === 'pull')
      throw conflict('this subscription is a pull feed: nothing is pushed to replay');
    const replayed = await this.deliveries.replayFailed(tenantId, webhookId, since, until ?? null);
    if (replayed) this.signal.wake();
    return { replayed };
  }

  /** The audit keeps AUDIT_RETENTION_DAYS: older attempts, and finished deliveries, go. */
  @Cron(CronExpression.EVERY_HOUR, { name: 'audit-retention' })
  async pruneAudit(): Promise<{ attempts: number; deliveries: number }> {
    if (this.config.role === 'api') return { attempts: 0, deliveries: 0 };
    const days = this.config.auditRetentionDays;
    let attempts = 0;
    for (let after = '0'; ;) {
      const chunk = await this.deliveries.pruneAttempts(days, PRUNE_CHUNK, after);
      attempts += chunk.deleted;
      if (chunk.deleted === 0 || chunk.last === null) break;
      after = chunk.last;
    }
    const deliveries = await this.inChunks(() => this.deliveries.pruneDeliveries(days, PRUNE_CHUNK));
    if (attempts || deliveries)
      this.logger.log(`pruned ${attempts} attempts and ${deliveries} deliveries older than ${days} days`);
    return { attempts, deliveries };
  }

  private async inChunks(prune: () => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const count = await prune();
      total += count;
      if (count < PRUNE_CHUNK) return total;
    }
  }
}
