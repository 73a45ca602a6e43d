import { Inject, Injectable, Logger } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { conflict } from '../../common/errors.js';
import { notFound } from '../../common/ids.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, toPage } from '../../common/pagination.js';
import { affectedRows, queryRows } from '../../database/sql.js';
import { envelopeColumns, envelopeFromRow } from '../../events/outbox.service.js';
import { DeliverySignal } from '../engine/delivery-signal.js';
import { AUDIT_BODY_LIMIT } from '../transport/sender.js';
import { WebhooksService } from '../subscriptions/webhooks.service.js';
import type { DeliveryStatus, ListDeliveriesQuery } from './deliveries.dto.js';
import { attemptView, deliveryView } from './delivery-view.js';

/** "delivering" is a pending row under an unexpired lease; "pending" is one without. */
function statusCondition(status: DeliveryStatus): string {
  switch (status) {
    case 'delivering':
      return `status = 'pending' AND lease_expires_at > now()`;
    case 'pending':
      return `status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at <= now())`;
    default:
      return `status = '${status}'`;
  }
}

/** Rows deleted per statement while pruning, so the prune never holds long locks. */
const PRUNE_CHUNK = 5_000;

@Injectable()
export class DeliveriesService {
  private readonly logger = new Logger(DeliveriesService.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly webhooks: WebhooksService,
    private readonly signal: DeliverySignal,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async list(tenantId: string, query: ListDeliveriesQuery) {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeCursor(query.cursor);
    const params: unknown[] = [tenantId];
    const where = ['tenant_id = $1'];
    if (query.webhookId) where.push(`webhook_id = $${params.push(query.webhookId)}::uuid`);
    if (query.status) where.push(statusCondition(query.status));
    if (query.eventType) where.push(`event_type = $${params.push(query.eventType)}`);
    if (query.since) where.push(`created_at >= $${params.push(query.since)}::timestamptz`);
    if (after)
      where.push(`(created_at, id) < ($${params.push(after.key)}::timestamptz, $${params.push(after.id)}::uuid)`);
    const rows: Array<Record<string, any>> = await this.dataSource.query(
      `SELECT * FROM delivery WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`,
      params,
    );
    return toPage(rows, limit, (r) => ({ key: (r.created_at as Date).toISOString(), id: r.id }), deliveryView);
  }

  async get(tenantId: string, id: string) {
    const [row] = await this.dataSource.query(
      `SELECT d.*, d.payload::text AS payload_text, ${envelopeColumns('ev')}
         FROM delivery d LEFT JOIN event ev ON ev.id = d.event_id
        WHERE d.id = $1 AND d.tenant_id = $2`,
      [id, tenantId],
    );
    if (!row) throw notFound('delivery', id);
    const attempts = await this.dataSource.query(
      `SELECT * FROM delivery_attempt WHERE delivery_id = $1 ORDER BY number, id`,
      [id],
    );
    // Attempts of an envelope do not store it: it is the event, rebuilt here byte for byte.
    const sentBody = row.payload_text ?? envelopeFromRow(row)?.slice(0, AUDIT_BODY_LIMIT) ?? null;
    return {
      ...deliveryView(row),
      attempts: attempts.map((a: Record<string, any>) => ({
        ...attemptView(a),
        requestBody: a.request_body ?? sentBody,
      })),
    };
  }

  /** Queues one more attempt now (trigger manual); on failure the retry schedule starts again. */
  async redeliver(tenantId: string, id: string) {
    const rows = await queryRows(
      this.dataSource,
      `UPDATE delivery d SET status = 'pending', next_attempt_at = now(), next_trigger = 'manual', retry_base = d.attempt_count, updated_at = now()
         FROM webhook w
        WHERE d.id = $1 AND d.tenant_id = $2 AND w.id = d.webhook_id AND w.deleted_at IS NULL AND w.delivery_mode = 'push'
          AND NOT (d.status = 'pending' AND d.lease_expires_at > now())
        RETURNING d.*`,
      [id, tenantId],
    );
    if (rows.length === 0) {
      const [row] = await this.dataSource.query(
        `SELECT d.status, w.deleted_at, w.delivery_mode FROM delivery d JOIN webhook w ON w.id = d.webhook_id WHERE d.id = $1 AND d.tenant_id = $2`,
        [id, tenantId],
      );
      if (!row) throw notFound('delivery', id);
      if (row.deleted_at) throw conflict('its webhook subscription was deleted; nothing can be sent to it');
      if (row.delivery_mode === 'pull')
        throw conflict('its subscription is a pull feed: the ERP reads it again until it acknowledges');
      throw conflict('the delivery is being sent right now; try again when the attempt is recorded');
    }
    this.signal.wake();
    return deliveryView(rows[0]);
  }

  /** Re-queues the subscription's failed deliveries created in [since, until). */
  async replay(tenantId: string, webhookId: string, since: string, until?: string) {
    const webhook = await this.webhooks.find(tenantId, webhookId);
    if (webhook.deliveryMode === 'pull')
      throw conflict('this subscription is a pull feed: nothing is pushed to replay');
    const rows = await queryRows(
      this.dataSource,
      `UPDATE delivery SET status = 'pending', next_attempt_at = now(), next_trigger = 'replay', retry_base = attempt_count, updated_at = now()
        WHERE tenant_id = $1 AND webhook_id = $2 AND status = 'failed' AND created_at >= $3::timestamptz
          AND ($4::timestamptz IS NULL OR created_at < $4::timestamptz)
        RETURNING id`,
      [tenantId, webhookId, since, until ?? null],
    );
    if (rows.length) this.signal.wake();
    return { replayed: rows.length };
  }

  /** The audit keeps AUDIT_RETENTION_DAYS: older attempts, and finished deliveries, go. */
  @Cron(CronExpression.EVERY_HOUR, { name: 'audit-retention' })
  async pruneAudit(): Promise<{ attempts: number; deliveries: number }> {
    if (this.config.role === 'api') return { attempts: 0, deliveries: 0 };
    const days = this.config.auditRetentionDays;
    const attempts = await this.deleteInChunks(
      `DELETE FROM delivery_attempt WHERE id IN (
         SELECT id FROM delivery_attempt WHERE started_at < now() - $1 * interval '1 day' LIMIT ${PRUNE_CHUNK})`,
      days,
    );
    const deliveries = await this.deleteInChunks(
      `DELETE FROM delivery WHERE id IN (
         SELECT id FROM delivery WHERE status IN ('delivered', 'failed', 'discarded', 'superseded')
            AND updated_at < now() - $1 * interval '1 day' LIMIT ${PRUNE_CHUNK})`,
      days,
    );
    if (attempts || deliveries)
      this.logger.log(`pruned ${attempts} attempts and ${deliveries} deliveries older than ${days} days`);
    return { attempts, deliveries };
  }

  private async deleteInChunks(sql: string, days: number): Promise<number> {
    let total = 0;
    for (;;) {
      const count = await affectedRows(this.dataSource, sql, [days]);
      total += count;
      if (count < PRUNE_CHUNK) return total;
    }
  }
}
