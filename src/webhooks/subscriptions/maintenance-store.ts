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
   * Writes the new state unless the row changed meanwhile (a PATCH of its windows, or another
   * instance that switched it first). Answers whether this call switched it.
   */
  async switchState(row: MaintenanceRow, inside: boolean, changesAt: Date | null): Promise<boolean> {
    const rows = await queryRows<{ id: string }>(
      this.dataSource,
      `UPDATE webhook SET in_maintenance = $2, maintenance_changes_at = $3
        WHERE id = $1 AND maintenance_changes_at = $4 RETURNING id`,
      [row.id, inside, changesAt, row.changesAt],
    );
    return rows.length > 0;
  }
}
