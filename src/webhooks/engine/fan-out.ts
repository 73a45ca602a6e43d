import { queryRows } from '../../database/sql.js';
import { randomUUID } from 'node:crypto';
import { Injectable, type OnModuleInit } from '@nestjs/common';
import type { Tx } from '../../database/transaction.js';
import { envelopeJson, OutboxService, type RecordedEvent } from '../../events/outbox.service.js';
import type { Coalesce } from '../subscriptions/coalesce.js';
import { type Filters, matchesEventTypes, matchesFilters } from '../subscriptions/filters.js';
import { DeliverySignal, FeedSignal } from './delivery-signal.js';
import { type ClaimedDelivery, WEBHOOK_RUNTIME_COLUMNS, webhookRuntimeFromRow } from '../deliveries/delivery-store.js';
import { Dispatcher } from './dispatcher.js';

interface SubscriptionRow extends Record<string, any> {
  webhook_id: string;
  event_types: string[];
  filters: Filters;
  holding: boolean;
  ordered: boolean;
  delivery_mode: 'push' | 'pull';
  coalesce: Coalesce | null;
}

/**
 * In the transaction that records events: one delivery per enabled subscription of the tenant
 * whose types and filters match. A paused or disabled subscription's deliveries are created
 * held (no due time) and go out when it is resumed or re-enabled.
 *
 * When this instance runs the dispatcher and has room, a delivery is created already leased to
 * it and handed over right after the commit: the first attempt needs no claim round trip. The
 * lease makes that as safe as a claim: if this instance dies, the lease expires and any
 * instance sends it. Ordered subscriptions always go through the claim, which checks order.
 */
@Injectable()
export class FanOut implements OnModuleInit {
  constructor(
    private readonly outbox: OutboxService,
    private readonly signal: DeliverySignal,
    private readonly dispatcher: Dispatcher,
    private readonly feedSignal: FeedSignal,
  ) {}

  onModuleInit(): void {
    this.outbox.addListener(async (tx, events) => {
      await this.createDeliveries(tx, events);
    });
  }

  async createDeliveries(tx: Tx, events: RecordedEvent[]): Promise<number> {
    const subscriptions: SubscriptionRow[] = await tx.manager.query(
      `SELECT w.event_types, w.filters, (w.paused OR w.status = 'disabled') AS holding, w.ordered, w.coalesce, w.delivery_mode, ${WEBHOOK_RUNTIME_COLUMNS}
         FROM webhook w WHERE w.tenant_id = $1 AND w.enabled AND w.deleted_at IS NULL`,
      [events[0].tenantId],
    );
    if (subscriptions.length === 0) return 0;
    const tenantId = events[0].tenantId;
    const createdAt = events[0].createdAt;
    let room = this.dispatcher.roomForDirectHandOver();
    const rows = {
      ids: [] as string[],
      webhooks: [] as string[],
      events: [] as string[],
      types: [] as string[],
      aggregates: [] as string[],
      sequences: [] as number[],
      held: [] as boolean[],
      leased: [] as boolean[],
      dueAt: [] as Array<Date | null>,
      feedPositions: [] as Array<number | null>,
    };
    /** Pull subscriptions: how many of this batch's deliveries join each feed, and at which rows. */
    const feeds = new Map<string, number[]>();
    const superseding: Array<{ webhookId: string; aggregateId: string; sequence: number; types: string[] }> = [];
    const handOver: ClaimedDelivery[] = [];
    const bodies = new Map<string, string>();
    for (const event of events) {
      for (const subscription of subscriptions) {
        if (
          !matchesEventTypes(subscription.event_types, event.type) ||
          !matchesFilters(subscription.filters, event.data)
        )
          continue;
        const id = randomUUID();
        const pull = subscription.delivery_mode === 'pull';
        const coalesced = subscription.coalesce?.eventTypes.includes(event.type) ?? false;
        const direct = !pull && !subscription.holding && !subscription.ordered && !coalesced && room > 0;
        if (pull) {
          const at = feeds.get(subscription.webhook_id) ?? [];
          at.push(rows.ids.length);
          feeds.set(subscription.webhook_id, at);
        }
        if (coalesced) {
          superseding.push({
            webhookId: subscription.webhook_id,
            aggregateId: event.aggregateId,
            sequence: event.sequence,
            types: subscription.coalesce!.eventTypes,
          });
        }
        // A feed's deliveries are never due: the ERP reads them.
        rows.dueAt.push(
          subscription.holding || pull
            ? null
            : new Date(createdAt.getTime() + (coalesced ? subscription.coalesce!.windowMs : 0)),
        );
        rows.feedPositions.push(null);
        rows.ids.push(id);
        rows.webhooks.push(subscription.webhook_id);
        rows.events.push(event.id);
        rows.types.push(event.type);
        rows.aggregates.push(event.aggregateId);
        rows.sequences.push(event.sequence);
        rows.held.push(subscription.holding || pull);
        rows.leased.push(direct);
        if (!direct) continue;
        room -= 1;
        let body = bodies.get(event.id);
        if (body === undefined) {
          // Byte for byte what the claim builds from the stored row (json keeps the text as written).
          body = envelopeJson({ ...event, dataJson: JSON.stringify(event.data) });
          bodies.set(event.id, body);
        }
        handOver.push({
          id,
          tenantId,
          webhookId: subscription.webhook_id,
          eventId: event.id,
          eventType: event.type,
          attemptCount: 0,
          retryBase: 0,
          trigger: 'auto',
          createdAt,
          body,
          bodyIsEnvelope: true,
          bodyVersion: event.apiVersion,
          webhook: webhookRuntimeFromRow(subscription),
        });
      }
    }
    if (rows.ids.length === 0) return 0;
    if (feeds.size > 0) await this.takeFeedPositions(tx, feeds, rows.feedPositions);
    await tx.manager.query(
      `INSERT INTO delivery (id, tenant_id, webhook_id, event_id, event_type, aggregate_id, event_sequence, status,
                             next_attempt_at, lease_expires_at, leased_by, created_at, updated_at, feed_position)
       SELECT i, $1, w, e, t, a, s, 'pending', due,
              CASE WHEN l THEN now() + $10 * interval '1 millisecond' END, CASE WHEN l THEN $11 END, $8, $8, f
         FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::uuid[], $7::int[], $9::bool[], $12::timestamptz[], $13::bigint[])
              AS x(i, w, e, t, a, s, l, due, f)`,
      [
        tenantId,
        rows.ids,
        rows.webhooks,
        rows.events,
        rows.types,
        rows.aggregates,
        rows.sequences,
        createdAt,
        rows.leased,
        this.dispatcher.leaseMs,
        this.dispatcher.instanceId,
        rows.dueAt,
        rows.feedPositions,
      ],
    );
    // Coalescing: a covered delivery still waiting for its window gives way to the newest one of
    // its aggregate. It stays in the audit as superseded.
    for (const s of superseding) {
      await tx.manager.query(
        `UPDATE delivery SET status = 'superseded', next_attempt_at = NULL, updated_at = now()
          WHERE webhook_id = $1 AND aggregate_id = $2 AND event_type = ANY($3::text[]) AND event_sequence < $4
            AND status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at < now())`,
        [s.webhookId, s.aggregateId, s.types, s.sequence],
      );
    }
    if (handOver.length > 0) tx.afterCommit(() => this.dispatcher.takeOver(handOver));
    if (feeds.size > 0) tx.afterCommit(() => this.feedSignal.wake([...feeds.keys()]));
    if (rows.leased.some((leased, i) => !leased && !rows.held[i])) tx.afterCommit(() => this.signal.wake());
    return rows.ids.length;
  }

  /**
   * A feed's positions are taken from its subscription row, locked until this transaction ends:
   * a later transaction waits and takes higher numbers, so positions are in commit order and a
   * reader that has seen position n has seen everything before it. Rows are locked in id order.
   */
  private async takeFeedPositions(
    tx: Tx,
    feeds: Map<string, number[]>,
    positions: Array<number | null>,
  ): Promise<void> {
    const ids = [...feeds.keys()].sort();
    if (ids.length > 1)
      await tx.manager.query(`SELECT 1 FROM webhook WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`, [ids]);
    const heads = await queryRows<{ id: string; head: string }>(
      tx.manager,
      `UPDATE webhook w SET feed_head = w.feed_head + x.n FROM unnest($1::uuid[], $2::int[]) AS x(id, n) WHERE w.id = x.id RETURNING w.id, w.feed_head AS head`,
      [ids, ids.map((id) => feeds.get(id)!.length)],
    );
    for (const { id, head } of heads) {
      const at = feeds.get(id)!;
      const first = Number(head) - at.length + 1;
      at.forEach((row, i) => (positions[row] = first + i));
    }
  }
}
