import { Injectable } from '@nestjs/common';
import { randomFillSync } from 'node:crypto';
import type pg from 'pg';
import { DataSource } from 'typeorm';
import { monotonicFactory } from 'ulid';
import { pgPool, prepared, type Statement } from '../database/sql.js';
import { TransactionRunner, type Tx } from '../database/transaction.js';
import { API_VERSION, type AggregateType, type Envelope, type RecordedEventType } from './event-types.js';

/** A change's event, before it is recorded. */
export interface DomainEvent {
  type: RecordedEventType;
  aggregateType: AggregateType;
  aggregateId: string;
  data: Record<string, unknown>;
}

export interface RecordedEvent extends DomainEvent {
  id: string;
  tenantId: string;
  sequence: number;
  apiVersion: string;
  createdAt: Date;
}

/** Runs inside the recording transaction (e.g. webhook fan-out): what it writes commits or rolls back with the change. */
export interface OutboxListener {
  /**
   * A SELECT whose only parameter, $1, is the tenant id: the recording statement runs it too (as
   * a CTE, locking clauses allowed) and hands its rows to `onRecorded`, so the listener's read
   * costs no round trip of its own. At most one listener may prefetch.
   */
  prefetch?: string;
  onRecorded(tx: Tx, events: RecordedEvent[], prefetched: Array<Record<string, any>>): Promise<void>;
  /**
   * What `onRecorded` would write for these events, planned without reading in the transaction
   * (from a cache), so that a change needing no reads of its own (a create) is recorded in one
   * statement, outside any explicit transaction. Undefined: this change takes the ordinary way.
   */
  plan?(tenantId: string, events: PlannedEvent[]): Promise<OutboxPlan | undefined>;
}

/** An event about to be recorded by one statement: its sequence is the statement's to take. */
export type PlannedEvent = Omit<RecordedEvent, 'sequence'>;

/** A listener's writes as CTEs of the statement that records the events. */
export interface OutboxPlan {
  /**
   * Named statements run as CTEs, each with its parameters numbered from $1; they may read
   * `recorded` (id, sequence: the events as inserted) and the CTEs before them.
   */
  ctes: Array<Statement & { name: string }>;
  /**
   * A boolean expression over those CTEs: whether what the plan was made from still holds,
   * under the locks the CTEs take. False rolls the whole statement back (nothing is written)
   * and the change is recorded the ordinary way.
   */
  holds: string;
  /** An expression over those CTEs whose value is handed to `committed`. */
  result: string;
  /** Runs once the statement has committed. */
  committed(events: RecordedEvent[], result: unknown): void;
  /** The plan did not hold: whatever it was made from is out of date. */
  stale(): void;
}

/** SQLSTATE of waybill_stale_plan(): an OutboxPlan that no longer held rolled its statement back. */
const STALE_PLAN = 'WB001';

/**
 * ulid's own PRNG asks the system for one byte per character (16 getRandomValues calls an id,
 * 3 % of a create's CPU); the same bytes (byte / 256), drawn 4 KiB at a time.
 */
const randomBytes = new Uint8Array(4096);
let randomAt = randomBytes.length;
const nextUlid = monotonicFactory(() => {
  if (randomAt === randomBytes.length) {
    randomFillSync(randomBytes);
    randomAt = 0;
  }
  return randomBytes[randomAt++] / 256;
});
export const newEventId = () => `evt_${nextUlid()}`;

/**
 * The envelope as sent, from an event row whose `data` is read as text (`data::text`): the
 * stored JSON is spliced in as it is, never parsed and printed again, so every reader gets the
 * same bytes (the sender signs them; the audit shows them).
 */
export function envelopeJson(row: {
  id: string;
  type: string;
  apiVersion: string;
  createdAt: Date;
  tenantId: string;
  sequence: number;
  dataJson: string;
}): string {
  return (
    `{"id":${JSON.stringify(row.id)},"type":${JSON.stringify(row.type)},"apiVersion":${JSON.stringify(row.apiVersion)},` +
    `"createdAt":${JSON.stringify(row.createdAt.toISOString())},"tenantId":${JSON.stringify(row.tenantId)},` +
    `"sequence":${row.sequence},"data":${row.dataJson}}`
  );
}

/** The select list for an event row joined as `alias`; `envelopeFromRow` turns it into the envelope text. */
export const envelopeColumns = (alias: string) =>
  `${alias}.id AS ev_id, ${alias}.type AS ev_type, ${alias}.api_version AS ev_api_version, ${alias}.created_at AS ev_created_at, ` +
  `${alias}.tenant_id AS ev_tenant_id, ${alias}.sequence AS ev_sequence, ${alias}.data::text AS ev_data`;

/** The envelope text of a row selected with `envelopeColumns`, or null when no event was joined. */
export function envelopeFromRow(row: Record<string, any>): string | null {
  if (row.ev_data === null || row.ev_data === undefined) return null;
  return envelopeJson({
    id: row.ev_id,
    type: row.ev_type,
    apiVersion: row.ev_api_version,
    createdAt: row.ev_created_at,
    tenantId: row.ev_tenant_id,
    sequence: row.ev_sequence,
    dataJson: row.ev_data,
  });
}

export function toEnvelope(event: RecordedEvent): Envelope {
  return {
    id: event.id,
    type: event.type,
    apiVersion: event.apiVersion,
    createdAt: event.createdAt.toISOString(),
    tenantId: event.tenantId,
    sequence: event.sequence,
    data: event.data,
  };
}

@Injectable()
export class OutboxService {
  private readonly listeners: OutboxListener[] = [];
  private readonly committedListeners: Array<(events: RecordedEvent[]) => void> = [];
  private readonly pool: pg.Pool;

  constructor(
    dataSource: DataSource,
    private readonly transactions: TransactionRunner,
  ) {
    this.pool = pgPool(dataSource);
  }

  addListener(listener: OutboxListener): void {
    if (listener.prefetch && this.listeners.some((l) => l.prefetch))
      throw new Error('only one outbox listener may prefetch');
    this.listeners.push(listener);
  }

  onCommitted(listener: (events: RecordedEvent[]) => void): void {
    this.committedListeners.push(listener);
  }

  /**
   * Records a change's events, in order, in the transaction that made the change, in one
   * statement: each event's sequence is the aggregate's last one plus its place in this change
   * (the caller holds the aggregate's row lock, or the aggregate is new, so this cannot race).
   * `change`, the statements that make the change (INSERTs or UPDATEs of the aggregate's rows),
   * run in the same statement as CTEs: the change and its events cost one round trip.
   */
  /**
   * Records a change that reads nothing first (a create) with its events and everything the
   * listeners write for them in one statement on its own (autocommit): one round trip, no
   * BEGIN or COMMIT. Each listener plans its writes beforehand (from a cache) and the statement
   * checks, under the listener's locks, that the plan still holds; when it does not (or a
   * listener cannot plan), nothing is written by it and the change is recorded the ordinary way
   * in a transaction. Either way the change and its events commit together or not at all.
   */
  async recordAlone(tenantId: string, changes: DomainEvent[], ...change: Statement[]): Promise<RecordedEvent[]> {
    const batch = this.newBatch(changes);
    const plans = await this.plan(tenantId, changes, batch);
    if (plans) {
      const params: unknown[] = [];
      const ctes = change.map((statement, i) => `change${i} AS (${shift(statement, params)})`);
      ctes.push(`recorded AS (${this.insertEvents(tenantId, changes, batch, params)})`);
      for (const plan of plans) for (const cte of plan.ctes) ctes.push(`${cte.name} AS (${shift(cte, params)})`);
      const holds = plans.map((plan) => `(${plan.holds})`).join(' AND ') || 'true';
      const sql = `WITH ${ctes.join(', ')}
        SELECT CASE WHEN ${holds} THEN true ELSE waybill_stale_plan() END AS held,
               (SELECT json_agg(json_build_array(id, sequence)) FROM recorded) AS recorded_sequences
               ${plans.map((plan, i) => `, ${plan.result} AS plan${i}`).join('')}`;
      try {
        const [row] = (await this.pool.query<Record<string, any>>(prepared(sql, params))).rows;
        const events = this.recordedEvents(tenantId, changes, batch, new Map(row.recorded_sequences));
        plans.forEach((plan, i) => plan.committed(events, row[`plan${i}`]));
        for (const listener of this.committedListeners) listener(events);
        return events;
      } catch (error) {
        if ((error as { code?: string }).code !== STALE_PLAN) throw error;
        for (const plan of plans) plan.stale();
      }
    }
    return this.transactions.run((tx) => this.record(tx, tenantId, changes, ...change));
  }

  /** Every listener's plan, or undefined when one of them cannot plan. */
  private async plan(tenantId: string, changes: DomainEvent[], batch: Batch): Promise<OutboxPlan[] | undefined> {
    const planned: PlannedEvent[] = changes.map((c, i) => ({
      ...c,
      id: batch.ids[i],
      tenantId,
      apiVersion: API_VERSION,
      createdAt: batch.createdAt,
    }));
    const plans: OutboxPlan[] = [];
    for (const listener of this.listeners) {
      const plan = await listener.plan?.(tenantId, planned);
      if (!plan) return undefined;
      plans.push(plan);
    }
    return plans;
  }

  private newBatch(changes: DomainEvent[]): Batch {
    const placeInChange = new Map<string, number>();
    const batch: Batch = { createdAt: new Date(), ids: [], places: [] };
    for (const c of changes) {
      const place = (placeInChange.get(c.aggregateId) ?? 0) + 1;
      placeInChange.set(c.aggregateId, place);
      batch.ids.push(newEventId());
      batch.places.push(place);
    }
    return batch;
  }

  /**
   * The INSERT of a batch's events, its parameters appended to `params`: each event's sequence
   * is the aggregate's last one plus its place in this change (the caller holds the aggregate's
   * row lock, or the aggregate is new, so this cannot race).
   */
  private insertEvents(tenantId: string, changes: DomainEvent[], batch: Batch, params: unknown[]): string {
    const p = (value: unknown) => `$${params.push(value)}`;
    return `INSERT INTO event (id, tenant_id, type, aggregate_type, aggregate_id, sequence, api_version, data, created_at)
       SELECT x.id, ${p(tenantId)}, x.type, x.aggregate_type, x.aggregate_id,
              coalesce((SELECT max(e.sequence) FROM event e WHERE e.aggregate_id = x.aggregate_id), 0) + x.place,
              ${p(API_VERSION)}, x.data, ${p(batch.createdAt)}
         FROM unnest(${p(batch.ids)}::text[], ${p(changes.map((c) => c.type))}::text[], ${p(changes.map((c) => c.aggregateType))}::text[],
                     ${p(changes.map((c) => c.aggregateId))}::uuid[], ${p(batch.places)}::int[], ${p(changes.map((c) => JSON.stringify(c.data)))}::json[])
              AS x(id, type, aggregate_type, aggregate_id, place, data)
       RETURNING id, sequence`;
  }

  private recordedEvents(
    tenantId: string,
    changes: DomainEvent[],
    batch: Batch,
    sequences: Map<string, number>,
  ): RecordedEvent[] {
    return changes.map((c, i) => ({
      ...c,
      id: batch.ids[i],
      tenantId,
      sequence: sequences.get(batch.ids[i])!,
      apiVersion: API_VERSION,
      createdAt: batch.createdAt,
    }));
  }

  /**
   * Records a change's events, in order, in the transaction that made the change, in one
   * statement. `change`, the statements that make the change (INSERTs or UPDATEs of the
   * aggregate's rows), run in the same statement as CTEs: the change and its events cost one
   * round trip.
   */
  async record(tx: Tx, tenantId: string, changes: DomainEvent[], ...change: Statement[]): Promise<RecordedEvent[]> {
    if (changes.length === 0) {
      for (const statement of change) await tx.query(statement.sql, statement.params);
      return [];
    }
    const batch = this.newBatch(changes);
    const params: unknown[] = [];
    const ctes = change.map((statement, i) => `change${i} AS (${shift(statement, params)})`);
    const tenantParam = `$${params.push(tenantId)}`;
    const prefetch = this.listeners.find((l) => l.prefetch)?.prefetch;
    const insert = this.insertEvents(tenantId, changes, batch, params);
    let sequences: Map<string, number>;
    let prefetched: Array<Record<string, any>> = [];
    if (prefetch) {
      // One row per prefetched row (or one row of nulls when there is none), each carrying the sequences.
      ctes.push(`recorded AS (${insert})`, `prefetched AS (${prefetch.replace(/\$1\b/g, tenantParam)})`);
      const rows = await tx.query<Record<string, any>>(
        `WITH ${ctes.join(', ')}
         SELECT r.recorded_sequences, p.*
           FROM (SELECT json_agg(json_build_array(id, sequence)) AS recorded_sequences FROM recorded) r
           LEFT JOIN (SELECT true AS prefetched_row, prefetched.* FROM prefetched) p ON true`,
        params,
      );
      sequences = new Map(rows[0].recorded_sequences as Array<[string, number]>);
      prefetched = rows.filter((row) => row.prefetched_row === true);
      for (const row of prefetched) {
        delete row.recorded_sequences;
        delete row.prefetched_row;
      }
    } else {
      const rows = await tx.query<{ id: string; sequence: number }>(
        (ctes.length ? `WITH ${ctes.join(', ')} ` : '') + insert,
        params,
      );
      sequences = new Map(rows.map((r) => [r.id, r.sequence]));
    }
    const events = this.recordedEvents(tenantId, changes, batch, sequences);
    for (const listener of this.listeners) await listener.onRecorded(tx, events, listener.prefetch ? prefetched : []);
    tx.afterCommit(() => {
      for (const listener of this.committedListeners) listener(events);
    });
    return events;
  }
}

interface Batch {
  createdAt: Date;
  ids: string[];
  places: number[];
}

/** A statement's text with its parameters ($1…) renumbered to follow those already in `params`, to which its own are appended. */
function shift(statement: Statement, params: unknown[]): string {
  const offset = params.length;
  params.push(...statement.params);
  if (offset === 0) return statement.sql;
  let byOffset = shifted.get(statement.sql);
  if (byOffset === undefined) {
    if (shifted.size >= 1_000) shifted.clear();
    shifted.set(statement.sql, (byOffset = []));
  }
  return (byOffset[offset] ??= statement.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`));
}

/** Statement texts as renumbered by `shift`, by offset (the texts are the callers' constants). */
const shifted = new Map<string, string[]>();
