import { Injectable } from '@nestjs/common';
import { monotonicFactory } from 'ulid';
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
export type OutboxListener = (tx: Tx, events: RecordedEvent[]) => Promise<void>;

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
    this.listeners.push(listener);
  }

  onCommitted(listener: (events: RecordedEvent[]) => void): void {
    this.committedListeners.push(listener);
  }

  /**
   * Records a change's events, in order, in the transaction that made the change. The caller
   * holds the aggregate's row lock, so reading the last sequence here cannot race.
   */
  async record(tx: Tx, tenantId: string, changes: DomainEvent[]): Promise<RecordedEvent[]> {
    if (changes.length === 0) return [];
    const aggregateIds = [...new Set(changes.map((c) => c.aggregateId))];
    // One backward probe of (aggregate_id, sequence) per aggregate, whatever the planner thinks of the table.
    const rows: Array<{ aggregate_id: string; last: number | null }> = await tx.manager.query(
      `SELECT a.id AS aggregate_id, (SELECT max(e.sequence) FROM event e WHERE e.aggregate_id = a.id)::int AS last
         FROM unnest($1::uuid[]) AS a(id)`,
      [aggregateIds],
    );
    const last = new Map(rows.map((r) => [r.aggregate_id, r.last ?? 0]));
    const createdAt = new Date();
    const events: RecordedEvent[] = changes.map((change) => {
      const sequence = (last.get(change.aggregateId) ?? 0) + 1;
      last.set(change.aggregateId, sequence);
      return { ...change, id: newEventId(), tenantId, sequence, apiVersion: API_VERSION, createdAt };
    });

    const params: unknown[] = [];
    const values = events.map((e) => {
      const base = params.length;
      params.push(
        e.id,
        tenantId,
        e.type,
        e.aggregateType,
        e.aggregateId,
        e.sequence,
        e.apiVersion,
        JSON.stringify(e.data),
        createdAt,
      );
      return `(${Array.from({ length: 9 }, (_, i) => `$${base + i + 1}`).join(', ')})`;
    });
    await tx.manager.query(
      `INSERT INTO event (id, tenant_id, type, aggregate_type, aggregate_id, sequence, api_version, data, created_at)
       VALUES ${values.join(', ')}`,
      params,
    );
    for (const listener of this.listeners) await listener(tx, events);
    tx.afterCommit(() => {
      for (const listener of this.committedListeners) listener(events);
    });
    return events;
  }
}
