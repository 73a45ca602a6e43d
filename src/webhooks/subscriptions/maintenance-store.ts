import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryRows } from '../../database/sql.js';
import type { MaintenanceWindow } from './maintenance-windows.js';

export interface MaintenanceRow {
  id: string;
  windows: MaintenanceWindow[] | null;
  inMaintenance: boolean;
  changesAt: Date;
}

/** The maintenance columns of subscriptions, as the engine switches them at a window's start and end. */
@Injectable()
export class MaintenanceStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Subscriptions whose window state changes at or before `now` (through a partial index). */
  async due(now: Date, limit: number): Promise<MaintenanceRow[]> {
    return queryRows<MaintenanceRow>(
      this.dataSource,
      `SELECT id, maintenance_windows AS windows, in_maintenance AS "inMaintenance", maintenance_changes_at AS "changesAt"
         FROM webhook
        WHERE maintenance_changes_at <= $1 AND deleted_at IS NULL
        ORDER BY maintenance_changes_at LIMIT $2`,
      [now, limit],
    );
  }

  /**
   * Writes each subscription's new state, in one statement, unless its row changed meanwhile (a
   * PATCH of its windows, or another instance that switched it first). Answers the ids this call
   * switched.
   */
  async switchStates(
    switches: Array<{ row: MaintenanceRow; inside: boolean; changesAt: Date | null }>,
  ): Promise<string[]> {
    if (switches.length === 0) return [];
    const rows = await queryRows<{ id: string }>(
      this.dataSource,
      `UPDATE webhook w SET in_maintenance = x.inside, maintenance_changes_at = x.changes_at
         FROM unnest($1::uuid[], $2::bool[], $3::timestamptz[], $4::timestamptz[]) AS x(id, inside, changes_at, seen)
        WHERE w.id = x.id AND w.maintenance_changes_at = x.seen
       RETURNING w.id`,
      [
        switches.map((s) => s.row.id),
        switches.map((s) => s.inside),
        switches.map((s) => s.changesAt),
        switches.map((s) => s.row.changesAt),
      ],
    );
    return rows.map((r) => r.id);
  }
}
