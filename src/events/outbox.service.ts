import { Injectable } from '@nestjs/common';
import { monotonicFactory } from 'ulid';
import type { Statement } from '../database/sql.js';
import type { Tx } from '../database/transaction.js';
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
}

const nextUlid = monotonicFactory();
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
  async record(tx: Tx, tenantId: string, changes: DomainEvent[], ...change: Statement[]): Promise<RecordedEvent[]> {
    if (changes.length === 0) {
      for (const statement of change) await tx.query(statement.sql, statement.params);
      return [];
    }
    const createdAt = new Date();
    const placeInChange = new Map<string, number>();
    const ids: string[] = [];
    const places: number[] = [];
    for (const c of changes) {
      const place = (placeInChange.get(c.aggregateId) ?? 0) + 1;
      placeInChange.set(c.aggregateId, place);
      ids.push(newEventId());
      places.push(place);
    }
    const params: unknown[] = [];
    // Each change statement numbers its parameters from $1: shifted here to follow the ones before.
    const ctes = change.map((statement, i) => {
      const offset = params.length;
      params.push(...statement.params);
      return `change${i} AS (${statement.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)})`;
    });
    const p = (value: unknown) => `$${params.push(value)}`;
    const tenantParam = p(tenantId);
    const prefetch = this.listeners.find((l) => l.prefetch)?.prefetch;
    const insert = `INSERT INTO event (id, tenant_id, type, aggregate_type, aggregate_id, sequence, api_version, data, created_at)
       SELECT x.id, ${tenantParam}, x.type, x.aggregate_type, x.aggregate_id,
              coalesce((SELECT max(e.sequence) FROM event e WHERE e.aggregate_id = x.aggregate_id), 0) + x.place,
              ${p(API_VERSION)}, x.data, ${p(createdAt)}
         FROM unnest(${p(ids)}::text[], ${p(changes.map((c) => c.type))}::text[], ${p(changes.map((c) => c.aggregateType))}::text[],
                     ${p(changes.map((c) => c.aggregateId))}::uuid[], ${p(places)}::int[], ${p(changes.map((c) => JSON.stringify(c.data)))}::json[])
              AS x(id, type, aggregate_type, aggregate_id, place, data)
       RETURNING id, sequence`;
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
    const events: RecordedEvent[] = changes.map((c, i) => ({
      ...c,
      id: ids[i],
      tenantId,
      sequence: sequences.get(ids[i])!,
      apiVersion: API_VERSION,
      createdAt,
    }));
    for (const listener of this.listeners) await listener.onRecorded(tx, events, listener.prefetch ? prefetched : []);
    tx.afterCommit(() => {
      for (const listener of this.committedListeners) listener(events);
    });
    return events;
  }
}
