import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/** One unit of work: its manager, and callbacks that run only once it has committed. */
export interface Tx {
  manager: EntityManager;
  afterCommit(callback: () => void): void;
}

@Injectable()
export class TransactionRunner {
  constructor(private readonly dataSource: DataSource) {}

  /** `onCommitted` runs first of all after the commit (the benchmark stamps commit times with it). */
  async run<T>(work: (tx: Tx) => Promise<T>, onCommitted?: () => void): Promise<T> {
    const callbacks: Array<() => void> = [];
    const result = await this.dataSource.transaction((manager) =>
      work({ manager, afterCommit: (callback) => callbacks.push(callback) }),
    );
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
