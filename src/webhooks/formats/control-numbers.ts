import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { queryRows } from '../../database/sql.js';

/** EDI interchange control numbers: per subscription, increasing, durable across restarts. */
@Injectable()
export class ControlNumbers {
  constructor(private readonly dataSource: DataSource) {}

  async next(webhookId: string): Promise<number> {
    const [row] = await queryRows<{ n: number }>(
      this.dataSource,
      `UPDATE webhook SET edi_control_number = edi_control_number + 1 WHERE id = $1 RETURNING edi_control_number::int AS n`,
      [webhookId],
    );
    return row.n;
  }
}
