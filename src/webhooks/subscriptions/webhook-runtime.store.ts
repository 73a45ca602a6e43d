import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryRows } from '../../database/sql.js';
import {
  WEBHOOK_RUNTIME_COLUMNS,
  type WebhookRuntime,
  webhookRuntimeFromRow,
  type WebhookRuntimeRow,
} from './webhook-runtime.js';

/** A subscription as the engine finds it just before sending: its settings now, and whether it may be sent to. */
export interface CurrentRuntime {
  runtime: WebhookRuntime;
  /** Switched on, not paused, not disabled, not deleted, and pushed to. */
  sendable: boolean;
}

/** Reads subscriptions' current settings for the engine's pre-send check, many in one statement. */
@Injectable()
export class WebhookRuntimeStore {
  constructor(private readonly dataSource: DataSource) {}

  async current(ids: string[]): Promise<Map<string, CurrentRuntime>> {
    const rows = await queryRows<WebhookRuntimeRow & { sendable: boolean }>(
      this.dataSource,
      `SELECT ${WEBHOOK_RUNTIME_COLUMNS},
              (w.enabled AND NOT w.paused AND NOT w.in_maintenance AND w.status <> 'disabled' AND w.deleted_at IS NULL AND w.delivery_mode = 'push') AS sendable
         FROM webhook w WHERE w.id = ANY($1::uuid[])`,
      [ids],
    );
    return new Map(rows.map((r) => [r.webhook_id, { runtime: webhookRuntimeFromRow(r), sendable: r.sendable }]));
  }
}
