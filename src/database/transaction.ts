import { Injectable } from '@nestjs/common';
import type pg from 'pg';
import { DataSource, type EntityManager } from 'typeorm';
import { prepared } from './sql.js';

/** One unit of work: its manager, and callbacks that run only once it has committed. */
export interface Tx {
  manager: EntityManager;
  /**
   * Plain SQL on the transaction's own connection, as a named statement (see `prepared`),
   * answering the rows: the domain's hot writes go this way (no query runner, no entity
   * metadata). Errors are pg's (the error filter maps them).
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  afterCommit(callback: () => void): void;
}

@Injectable()
export class TransactionRunner {
  constructor(private readonly dataSource: DataSource) {}

  /** `onCommitted` runs first of all after the commit (the benchmark stamps commit times with it). */
  async run<T>(work: (tx: Tx) => Promise<T>, onCommitted?: () => void): Promise<T> {
    const callbacks: Array<() => void> = [];
    const result = await this.dataSource.transaction((manager) => {
      const client = (manager.queryRunner as unknown as { databaseConnection: pg.PoolClient }).databaseConnection;
      return work({
        manager,
        query: async <T>(sql: string, params?: unknown[]) => (await client.query(prepared(sql, params))).rows as T[],
        afterCommit: (callback) => callbacks.push(callback),
      });
    });
    onCommitted?.();
    for (const callback of callbacks) callback();
    return result;
  }
}

/**
 * Writes back a row loaded (and locked) in this transaction. TypeORM's `save` would first read
 * the row again to diff it; this is one UPDATE of every column.
 */
export async function writeBack<T extends { id: string }>(tx: Tx, entity: new () => T, row: T): Promise<void> {
  const { id, ...columns } = row;
  await tx.manager.update(entity, { id } as never, columns as never);
}
