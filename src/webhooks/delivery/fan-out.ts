import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Tx } from '../../database/transaction.js';
import { OutboxService, type RecordedEvent } from '../../events/outbox.service.js';
import { type Filters, matchesEventTypes, matchesFilters } from '../subscriptions/filters.js';
import { DeliverySignal } from './delivery-signal.js';

interface SubscriptionRow {
  id: string;
  event_types: string[];
  filters: Filters;
  holding: boolean;
}

/**
 * In the transaction that records events: one delivery per enabled subscription of the tenant
 * whose types and filters match. A paused or disabled subscription's deliveries are created
 * held (no due time) and go out when it is resumed or re-enabled.
 */
@Injectable()
export class FanOut implements OnModuleInit {
  constructor(
    private readonly outbox: OutboxService,
    private readonly signal: DeliverySignal,
  ) {}

  onModuleInit(): void {
    this.outbox.addListener(async (tx, events) => {
      await this.createDeliveries(tx, events);
    });
  }

  async createDeliveries(tx: Tx, events: RecordedEvent[]): Promise<number> {
    const subscriptions: SubscriptionRow[] = await tx.manager.query(
      `SELECT id, event_types, filters, (paused OR status = 'disabled') AS holding
         FROM webhook WHERE tenant_id = $1 AND enabled AND deleted_at IS NULL`,
      [events[0].tenantId],
    );
    if (subscriptions.length === 0) return 0;
    const webhookIds: string[] = [];
    const eventIds: string[] = [];
    const types: string[] = [];
    const aggregates: string[] = [];
    const sequences: number[] = [];
    const held: boolean[] = [];
    for (const event of events) {
      for (const subscription of subscriptions) {
        if (!matchesEventTypes(subscription.event_types, event.type) || !matchesFilters(subscription.filters, event.data)) continue;
        webhookIds.push(subscription.id);
        eventIds.push(event.id);
        types.push(event.type);
        aggregates.push(event.aggregateId);
        sequences.push(event.sequence);
        held.push(subscription.holding);
      }
    }
    if (webhookIds.length === 0) return 0;
    await tx.manager.query(
      `INSERT INTO delivery (tenant_id, webhook_id, event_id, event_type, aggregate_id, event_sequence, status, next_attempt_at, created_at, updated_at)
       SELECT $1, w, e, t, a, s, 'pending', CASE WHEN h THEN NULL ELSE $7::timestamptz END, $7, $7
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::uuid[], $6::int[], $8::bool[]) AS x(w, e, t, a, s, h)`,
      [events[0].tenantId, webhookIds, eventIds, types, aggregates, sequences, events[0].createdAt, held],
    );
    if (held.some((h) => !h)) tx.afterCommit(() => this.signal.wake());
    return webhookIds.length;
  }
}
