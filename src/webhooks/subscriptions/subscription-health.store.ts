import { Injectable } from '@nestjs/common';
import { queryRows } from '../../database/sql.js';
import type { Tx } from '../../database/transaction.js';
import type { HealthState, HealthStatus } from '../engine/health.js';

export interface HealthRow extends HealthState {
  id: string;
}

/** A locked subscription: its health, and who it is (what operational events name). */
export interface LockedHealthRow extends HealthRow {
  tenantId: string;
  name: string;
  url: string | null;
  /** Deleted (an answer that was on the wire came back after the DELETE). */
  deleted: boolean;
}

/** The health columns of subscriptions, read and written in the recorder's health transaction. */
@Injectable()
export class SubscriptionHealthStore {
  /**
   * Locks the subscriptions (in id order, so two recorders never deadlock) and answers their health.
   * FOR NO KEY UPDATE does not conflict with the KEY SHARE locks fan-out's foreign keys take.
   */
  async lock(tx: Tx, ids: string[]): Promise<LockedHealthRow[]> {
    const rows = await queryRows<LockedHealthRow>(
      tx.manager,
      `SELECT id, tenant_id AS "tenantId", name, url, status, disabled_reason AS "disabledReason",
              consecutive_failures AS "consecutiveFailures", failing_since AS "failingSince",
              last_success_at AS "lastSuccessAt", last_failure_at AS "lastFailureAt",
              last_failure_reason AS "lastFailureReason", deleted_at IS NOT NULL AS deleted
         FROM webhook WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE`,
      [ids],
    );
    return rows.map((r) => ({ ...r, status: r.status as HealthStatus }));
  }

  async write(tx: Tx, rows: HealthRow[]): Promise<void> {
    if (rows.length === 0) return;
    await tx.manager.query(
      `UPDATE webhook w
          SET status = h.status, disabled_reason = h.disabled_reason, consecutive_failures = h.consecutive_failures,
              failing_since = h.failing_since, last_success_at = h.last_success_at, last_failure_at = h.last_failure_at,
              last_failure_reason = h.last_failure_reason
         FROM json_to_recordset($1::json) AS h(id uuid, status text, disabled_reason text, consecutive_failures int,
              failing_since timestamptz, last_success_at timestamptz, last_failure_at timestamptz, last_failure_reason text)
        WHERE w.id = h.id`,
      [
        JSON.stringify(
          rows.map((h) => ({
            id: h.id,
            status: h.status,
            disabled_reason: h.disabledReason,
            consecutive_failures: h.consecutiveFailures,
            failing_since: h.failingSince,
            last_success_at: h.lastSuccessAt,
            last_failure_at: h.lastFailureAt,
            last_failure_reason: h.lastFailureReason ?? null,
          })),
        ),
      ],
    );
  }
}
