import { Inject, Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { queryRows } from '../database/sql.js';
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

/** Events looked at per retention statement. */
const PRUNE_CHUNK = 5_000;

@Injectable()
export class EventsService {
  private readonly logger = new Logger(EventsService.name);
  /** SQL conditions on an event row (`e`) under which it is kept whatever its age: see `keepWhile`. */
  private readonly keepers: Array<(e: string) => string> = [];

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** A module that refers to events (webhook deliveries) keeps the ones it still refers to. */
  keepWhile(condition: (e: string) => string): void {
    this.keepers.push(condition);
  }

  /**
   * Event retention: events older than EVENT_RETENTION_DAYS that nothing refers to any more are
   * deleted, oldest first, in chunks along the position index (events are positioned in the
   * order they are recorded), stopping at the first young event: each chunk is an index range,
   * and only old events still kept are looked at again on the next run. The newest event of each
   * aggregate is kept whatever its age: the next one's sequence follows it (`OutboxService.record`
   * reads the aggregate's last sequence), so a receiver ordering by (aggregate, sequence) never
   * sees a sequence start again at 1. This costs the write path nothing (no counter to keep);
   * the check is one probe of the (aggregate_id, sequence) index per old event.
   */
  @Cron(CronExpression.EVERY_HOUR, { name: 'event-retention' })
  async pruneEvents(days = this.config.eventRetentionDays, chunk = PRUNE_CHUNK): Promise<number> {
    if (this.config.role === 'api') return 0;
    const kept = this.keepers.map((keep) => `AND NOT ${keep('b')}`).join(' ');
    let after = '0';
    let total = 0;
    for (;;) {
      const [row] = await queryRows<{ last: string | null; deleted: number; young: boolean | null }>(
        this.dataSource,
        `WITH batch AS (
           SELECT id, position, tenant_id, created_at FROM event WHERE position > $1::bigint ORDER BY position LIMIT ${Math.floor(chunk)}
         ), gone AS (
           DELETE FROM event e USING batch b
            WHERE e.id = b.id AND b.created_at < now() - $2 * interval '1 day' ${kept}
              AND EXISTS (SELECT 1 FROM event n WHERE n.aggregate_id = e.aggregate_id AND n.sequence > e.sequence)
           RETURNING e.id
         )
         SELECT (SELECT max(position)::text FROM batch) AS last, (SELECT count(*)::int FROM gone) AS deleted,
                (SELECT bool_or(created_at >= now() - $2 * interval '1 day') FROM batch) AS young`,
        [after, days],
      );
      total += row.deleted;
      if (row.last === null || row.young) break;
      after = row.last;
    }
    if (total > 0) this.logger.log(`pruned ${total} events older than ${days} days`);
    return total;
  }

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
