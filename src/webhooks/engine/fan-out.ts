import { pgPool, prepared, queryRows } from '../../database/sql.js';
import { randomUUID } from 'node:crypto';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import type { Tx } from '../../database/transaction.js';
import {
  envelopeJson,
  type OutboxPlan,
  OutboxService,
  type PlannedEvent,
  type RecordedEvent,
} from '../../events/outbox.service.js';
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
const LIVE_SUBSCRIPTIONS = `SELECT w.event_types, w.filters, (w.paused OR w.status = 'disabled') AS holding, w.in_maintenance, w.coalesce,
         w.delivery_mode, ${WEBHOOK_RUNTIME_COLUMNS}
    FROM webhook w WHERE w.tenant_id = $1 AND w.enabled AND w.deleted_at IS NULL
   ORDER BY w.id`;
const SUBSCRIPTIONS = `${LIVE_SUBSCRIPTIONS} FOR KEY SHARE OF w`;

/** A digest of SUBSCRIPTIONS' rows (CTE `source`): the same rows give the same text in every session of the pool. */
const DIGEST = (source: string) =>
  `SELECT coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t.webhook_id)), '') FROM ${source} t`;

/** The tenant's live subscriptions with their digest, read outside any transaction to plan fan-outs. */
const CACHED_SUBSCRIPTIONS = `WITH s AS (${LIVE_SUBSCRIPTIONS}) SELECT s.*, (${DIGEST('s')}) AS fanout_digest FROM s`;

/** Tenants whose subscriptions are kept for planning (the oldest entry goes first beyond this). */
const MAX_CACHED_TENANTS = 10_000;

/** Whether the claim takes this subscription's due deliveries now (not paused, disabled or in a maintenance window). */
const sendsNow = (subscription: Pick<SubscriptionRow, 'holding' | 'in_maintenance'>) =>
  !subscription.holding && !subscription.in_maintenance;

interface CachedSubscriptions {
  rows: SubscriptionRow[];
  digest: string;
}

/**
 * In the transaction that records events: one delivery per enabled subscription of the tenant
 * whose types and filters match (an operational event never goes to the subscription it is about). A paused or disabled subscription's deliveries are created
 * due as usual and held by the claim, which passes over that subscription until it is resumed or
 * re-enabled: resuming a backlog rewrites none of its rows.
 *
 * When this instance runs the dispatcher and has room, a delivery is created already leased to
 * it and handed over right after the commit: the first attempt needs no claim round trip. The
 * lease makes that as safe as a claim: if this instance dies, the lease expires and any
 * instance sends it. Ordered subscriptions always go through the claim, which checks order.
 */
@Injectable()
export class FanOut implements OnModuleInit {
  private readonly pool: pg.Pool;
  /** Per tenant, its live subscriptions as last read, to plan a create's fan-out (see `plan`). */
  private readonly cache = new Map<string, Promise<CachedSubscriptions>>();

  constructor(
    private readonly outbox: OutboxService,
    private readonly signal: DeliverySignal,
    private readonly dispatcher: Dispatcher,
    private readonly feedSignal: FeedSignal,
    @Inject(DeliveryRepository) private readonly deliveries: DeliveryRepository,
    dataSource: DataSource,
  ) {
    this.pool = pgPool(dataSource);
  }

  onModuleInit(): void {
    // The tenant's subscriptions are read (and key-share locked) by the statement that records the events.
    this.outbox.addListener({
      prefetch: SUBSCRIPTIONS,
      onRecorded: async (tx, events, subscriptions) => {
        await this.createDeliveries(tx, events, subscriptions as SubscriptionRow[]);
      },
      plan: (tenantId, events) => this.plan(tenantId, events),
    });
  }

  /**
   * A create's fan-out planned from the tenant's cached subscriptions, as CTEs of the statement
   * that records it: that statement key-share locks the tenant's live subscriptions as the
   * ordinary fan-out does and checks that they are, to the byte, the cached ones (a digest of the
   * same select); if not, it writes nothing and the create goes the ordinary way. So the
   * deliveries are those the ordinary fan-out would have created from the same rows. Only plain
   * pushes are planned: a match that is pulled, ordered or coalesced (feed positions, the open
   * delivery probe, superseding) takes the ordinary way.
   */
  private async plan(tenantId: string, events: PlannedEvent[]): Promise<OutboxPlan | undefined> {
    const cached = this.cached(tenantId);
    const { rows: subscriptions, digest } = await cached;
    const room = new Map<string, number>();
    const rows: Array<Omit<NewDelivery, 'eventSequence'> & { event: PlannedEvent; subscription: SubscriptionRow }> = [];
    for (const event of events) {
      for (const subscription of subscriptions) {
        if (!reaches(subscription, event)) continue;
        if (
          subscription.delivery_mode === 'pull' ||
          subscription.ordered ||
          subscription.coalesce?.eventTypes.includes(event.type)
        )
          return undefined;
        const roomFor = () =>
          room.get(subscription.webhook_id) ??
          this.dispatcher.roomForDirectHandOver(webhookRuntimeFromRow(subscription));
        // Inside a maintenance window a delivery is due as usual but the claim holds it until the window ends.
        const direct = !subscription.holding && !subscription.in_maintenance && roomFor() > 0;
        if (direct) room.set(subscription.webhook_id, roomFor() - 1);
        rows.push({
          id: randomUUID(),
          webhookId: subscription.webhook_id,
          eventId: event.id,
          eventType: event.type,
          aggregateId: event.aggregateId,
          // Held (paused or disabled) deliveries are due as usual: the claim passes over their subscription until it sends again.
          dueInMs: 0,
          awaiting: false,
          leased: direct,
          feedPosition: null,
          event,
          subscription,
        });
      }
    }
    const createdAt = events[0].createdAt;
    const inserts = rows.length
      ? this.deliveries.fanOutCtes(tenantId, createdAt, rows, this.dispatcher.leaseMs)
      : { ctes: [], result: 'NULL::json' };
    return {
      ctes: [
        { name: 'fanout_subscriptions', sql: SUBSCRIPTIONS, params: [tenantId] },
        { name: 'fanout_fresh', sql: `SELECT (${DIGEST('fanout_subscriptions')}) = $1::text AS ok`, params: [digest] },
        ...inserts.ctes,
      ],
      holds: '(SELECT ok FROM fanout_fresh)',
      result: inserts.result,
      committed: (recorded, result) => {
        const attempts = new Map((result as Array<[string, string]> | null) ?? []);
        const sequences = new Map(recorded.map((e) => [e.id, e.sequence]));
        const bodies = new Map<string, string>();
        const handOver: ClaimedDelivery[] = [];
        for (const row of rows) {
          if (!row.leased) continue;
          const event = row.event;
          let body = bodies.get(event.id);
          if (body === undefined) {
            body = envelopeJson({ ...event, sequence: sequences.get(event.id)!, dataJson: JSON.stringify(event.data) });
            bodies.set(event.id, body);
          }
          handOver.push({
            id: row.id,
            tenantId,
            webhookId: row.webhookId,
            eventId: event.id,
            eventType: event.type,
            aggregateId: event.aggregateId,
            attemptId: attempts.get(row.id)!,
            attemptCount: 0,
            retryBase: 0,
            trigger: 'auto',
            createdAt,
            body,
            bodyIsEnvelope: true,
            bodyVersion: event.apiVersion,
            webhook: webhookRuntimeFromRow(row.subscription),
          });
        }
        if (handOver.length > 0) this.dispatcher.takeOver(handOver);
        if (rows.some((r) => !r.leased && sendsNow(r.subscription))) this.signal.wake();
      },
      stale: () => {
        if (this.cache.get(tenantId) === cached) this.cache.delete(tenantId);
      },
    };
  }

  /** The tenant's cached subscriptions, read once (concurrent first reads share it). */
  private cached(tenantId: string): Promise<CachedSubscriptions> {
    let entry = this.cache.get(tenantId);
    if (entry === undefined) {
      if (this.cache.size >= MAX_CACHED_TENANTS) this.cache.delete(this.cache.keys().next().value!);
      entry = this.pool
        .query<SubscriptionRow & { fanout_digest: string }>(prepared(CACHED_SUBSCRIPTIONS, [tenantId]))
        .then(({ rows }) => ({
          digest: rows[0]?.fanout_digest ?? '',
          rows: rows.map(({ fanout_digest: _, ...row }) => row),
        }));
      const settled = entry;
      settled.catch(() => {
        if (this.cache.get(tenantId) === settled) this.cache.delete(tenantId);
      });
      this.cache.set(tenantId, entry);
    }
    return entry;
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
    let due = false;
    for (const event of events) {
      for (const subscription of subscriptions) {
        if (!reaches(subscription, event)) continue;
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
          // A feed delivery is never due (the ERP reads the feed), nor one awaiting its predecessor.
          // A held one (paused or disabled) is due as usual: the claim passes over its subscription
          // until it sends again, so resuming rewrites no delivery.
          dueInMs: pull || awaiting ? null : coalesced ? subscription.coalesce!.windowMs : 0,
          awaiting,
          leased: direct,
          feedPosition: null,
        });
        // Only what can go now wakes the claim: not a held subscription's, nor a feed's or a follower's.
        if (!direct && !pull && !awaiting && sendsNow(subscription)) due = true;
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
    if (due) tx.afterCommit(() => this.signal.wake());
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

/** Whether fan-out makes a delivery of this event for this subscription (its types and filters). */
function reaches(subscription: SubscriptionRow, event: PlannedEvent): boolean {
  // An operational event is never sent to the subscription it is about.
  if (event.aggregateType === 'webhook' && event.aggregateId === subscription.webhook_id) return false;
  return matchesEventTypes(subscription.event_types, event.type) && matchesFilters(subscription.filters, event.data);
}
