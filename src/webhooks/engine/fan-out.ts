import { queryRows } from '../../database/sql.js';
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Tx } from '../../database/transaction.js';
import { envelopeJson, OutboxService, type RecordedEvent } from '../../events/outbox.service.js';
import type { Coalesce } from '../subscriptions/coalesce.js';
import { type Filters, matchesEventTypes, matchesFilters } from '../subscriptions/filters.js';
import { DeliverySignal, FeedSignal } from './delivery-signal.js';
import type { ClaimedDelivery, NewDelivery } from '../deliveries/delivery.rows.js';
import { DeliveryRepository } from '../deliveries/delivery.repository.js';
import {
  WEBHOOK_RUNTIME_COLUMNS,
  webhookRuntimeFromRow,
  type WebhookRuntimeRow,
} from '../subscriptions/webhook-runtime.js';
import { Dispatcher } from './dispatcher.js';

interface SubscriptionRow extends WebhookRuntimeRow {
  event_types: string[];
  filters: Filters;
  holding: boolean;
  in_maintenance: boolean;
  delivery_mode: 'push' | 'pull';
  coalesce: Coalesce | null;
}

/**
 * The tenant's live subscriptions ($1), for fan-out. KEY SHARE: a change that moves a
 * subscription's held deliveries (pause, resume, re-enable, push ↔ pull, delete) locks its row
 * FOR UPDATE, so it waits for the recording transaction and then sees its deliveries, and fan-out
 * reads the subscription as that change left it.
 */
const SUBSCRIPTIONS = `SELECT w.event_types, w.filters, (w.paused OR w.status = 'disabled') AS holding, w.in_maintenance, w.coalesce,
         w.delivery_mode, ${WEBHOOK_RUNTIME_COLUMNS}
    FROM webhook w WHERE w.tenant_id = $1 AND w.enabled AND w.deleted_at IS NULL
   ORDER BY w.id FOR KEY SHARE OF w`;

/**
 * In the transaction that records events: one delivery per enabled subscription of the tenant
 * whose types and filters match (an operational event never goes to the subscription it is about). A paused or disabled subscription's deliveries are created
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
    @Inject(DeliveryRepository) private readonly deliveries: DeliveryRepository,
  ) {}

  onModuleInit(): void {
    // The tenant's subscriptions are read (and key-share locked) by the statement that records the events.
    this.outbox.addListener({
      prefetch: SUBSCRIPTIONS,
      onRecorded: async (tx, events, subscriptions) => {
        await this.createDeliveries(tx, events, subscriptions as SubscriptionRow[]);
      },
    });
  }

  /** `subscriptions`: the tenant's, as SUBSCRIPTIONS reads them in this transaction. */
  async createDeliveries(tx: Tx, events: RecordedEvent[], subscriptions: SubscriptionRow[]): Promise<number> {
    if (subscriptions.length === 0) return 0;
    const tenantId = events[0].tenantId;
    const createdAt = events[0].createdAt;
    const room = new Map<string, number>();
    const roomFor = (subscription: SubscriptionRow) => {
      let left = room.get(subscription.webhook_id);
      if (left === undefined) {
        left = this.dispatcher.roomForDirectHandOver(webhookRuntimeFromRow(subscription));
        room.set(subscription.webhook_id, left);
      }
      return left;
    };
    const opened = await this.openAggregates(tx, subscriptions, events);
    const rows: NewDelivery[] = [];
    /** Pull subscriptions: how many of this batch's deliveries join each feed, and at which rows. */
    const feeds = new Map<string, number[]>();
    const superseding: Array<{ webhookId: string; aggregateId: string; sequence: number; eventTypes: string[] }> = [];
    const handOver: ClaimedDelivery[] = [];
    const bodies = new Map<string, string>();
    for (const event of events) {
      for (const subscription of subscriptions) {
        // An operational event is never sent to the subscription it is about.
        if (event.aggregateType === 'webhook' && event.aggregateId === subscription.webhook_id) continue;
        if (
          !matchesEventTypes(subscription.event_types, event.type) ||
          !matchesFilters(subscription.filters, event.data)
        )
          continue;
        const id = randomUUID();
        const pull = subscription.delivery_mode === 'pull';
        const coalesced = subscription.coalesce?.eventTypes.includes(event.type) ?? false;
        // An ordered subscription's delivery behind an open one of its aggregate awaits it, with no due time.
        const pair = `${subscription.webhook_id}/${event.aggregateId}`;
        const awaiting = !pull && subscription.ordered && opened.has(pair);
        if (!pull && subscription.ordered) opened.add(pair);
        // Inside a maintenance window a delivery is due as usual but the claim holds it until the window ends.
        const direct =
          !pull &&
          !subscription.holding &&
          !subscription.in_maintenance &&
          !subscription.ordered &&
          !coalesced &&
          roomFor(subscription) > 0;
        if (pull) {
          const at = feeds.get(subscription.webhook_id) ?? [];
          at.push(rows.length);
          feeds.set(subscription.webhook_id, at);
        }
        if (coalesced) {
          superseding.push({
            webhookId: subscription.webhook_id,
            aggregateId: event.aggregateId,
            sequence: event.sequence,
            eventTypes: subscription.coalesce!.eventTypes,
          });
        }
        rows.push({
          id,
          webhookId: subscription.webhook_id,
          eventId: event.id,
          eventType: event.type,
          aggregateId: event.aggregateId,
          eventSequence: event.sequence,
          // A held or feed delivery is never due: resuming releases it, the ERP reads a feed.
          dueInMs: subscription.holding || pull || awaiting ? null : coalesced ? subscription.coalesce!.windowMs : 0,
          awaiting,
          leased: direct,
          feedPosition: null,
        });
        if (!direct) continue;
        room.set(subscription.webhook_id, roomFor(subscription) - 1);
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
          aggregateId: event.aggregateId,
          attemptId: '',
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
    if (rows.length === 0) return 0;
    if (feeds.size > 0) await this.takeFeedPositions(tx, feeds, rows);
    const attempts = await this.deliveries.insertFanOut(tx, tenantId, createdAt, rows, this.dispatcher.leaseMs);
    for (const delivery of handOver) delivery.attemptId = attempts.get(delivery.id)!;
    for (const covered of superseding) await this.deliveries.supersedeOlder(tx, covered);
    // A superseded delivery may have been the one its followers awaited.
    const orderedCovered = superseding.filter((c) => subscriptions.find((s) => s.webhook_id === c.webhookId)?.ordered);
    if (orderedCovered.length > 0) await this.deliveries.releaseFollowers(tx, orderedCovered);
    if (handOver.length > 0) tx.afterCommit(() => this.dispatcher.takeOver(handOver));
    if (feeds.size > 0) tx.afterCommit(() => this.feedSignal.wake([...feeds.keys()]));
    if (rows.some((r) => !r.leased && r.dueInMs !== null)) tx.afterCommit(() => this.signal.wake());
    return rows.length;
  }

  /** Ordered push subscriptions: the (subscription, aggregate) pairs of these events that have an open delivery. */
  private async openAggregates(
    tx: Tx,
    subscriptions: SubscriptionRow[],
    events: RecordedEvent[],
  ): Promise<Set<string>> {
    const ordered = subscriptions.filter((s) => s.ordered && s.delivery_mode === 'push');
    if (ordered.length === 0) return new Set();
    const pairs = new Map<string, { webhookId: string; aggregateId: string }>();
    // An aggregate whose first event is in this batch (a create) has no delivery anywhere yet.
    const isNew = new Set(events.filter((e) => e.sequence === 1).map((e) => e.aggregateId));
    for (const event of events)
      for (const s of isNew.has(event.aggregateId) ? [] : ordered)
        if (matchesEventTypes(s.event_types, event.type) && matchesFilters(s.filters, event.data))
          pairs.set(`${s.webhook_id}/${event.aggregateId}`, {
            webhookId: s.webhook_id,
            aggregateId: event.aggregateId,
          });
    return this.deliveries.pairsWithOpenDelivery(tx, [...pairs.values()]);
  }

  /**
   * A feed's positions are taken from its subscription row, locked until this transaction ends:
   * a later transaction waits and takes higher numbers, so positions are in commit order and a
   * reader that has seen position n has seen everything before it. Rows are locked in id order.
   */
  private async takeFeedPositions(tx: Tx, feeds: Map<string, number[]>, rows: NewDelivery[]): Promise<void> {
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
      at.forEach((row, i) => (rows[row].feedPosition = first + i));
    }
  }
}
