import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { notFound } from '../common/ids.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, type Page, toPage } from '../common/pagination.js';
import type { Envelope } from './event-types.js';
import type { ListEventsQuery } from './events.dto.js';
import { type RecordedEvent, toEnvelope } from './outbox.service.js';

interface EventRow {
  id: string;
  position: string;
  tenant_id: string;
  type: RecordedEvent['type'];
  aggregate_type: RecordedEvent['aggregateType'];
  aggregate_id: string;
  sequence: number;
  api_version: string;
  data: Record<string, unknown>;
  created_at: Date;
}

export function eventFromRow(row: EventRow): RecordedEvent {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    type: row.type,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    sequence: row.sequence,
    apiVersion: row.api_version,
    data: row.data,
    createdAt: row.created_at,
  };
}

@Injectable()
export class EventsService {
  constructor(private readonly dataSource: DataSource) {}

  async list(tenantId: string, query: ListEventsQuery): Promise<Page<Envelope>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeCursor(query.cursor);
    const params: unknown[] = [tenantId];
    const where = ['tenant_id = $1'];
    if (query.type) where.push(`type = $${params.push(query.type)}`);
    if (query.aggregateId) where.push(`aggregate_id = $${params.push(query.aggregateId)}::uuid`);
    if (after) where.push(`position < $${params.push(after.key)}::bigint`);
    const rows: EventRow[] = await this.dataSource.query(
      `SELECT * FROM event WHERE ${where.join(' AND ')} ORDER BY position DESC LIMIT ${limit + 1}`,
      params,
    );
    return toPage(
      rows,
      limit,
      (r) => ({ key: r.position, id: r.id }),
      (r) => toEnvelope(eventFromRow(r)),
    );
  }

  async get(tenantId: string, id: string): Promise<Envelope> {
    // Not an event id at all (a NUL PostgreSQL cannot even compare, say): unknown like any other.
    if (!/^evt_[0-9A-Za-z_-]{1,100}$/.test(id)) throw notFound('event', id);
    const rows: EventRow[] = await this.dataSource.query(`SELECT * FROM event WHERE tenant_id = $1 AND id = $2`, [
      tenantId,
      id,
    ]);
    if (rows.length === 0) throw notFound('event', id);
    return toEnvelope(eventFromRow(rows[0]));
  }
}
