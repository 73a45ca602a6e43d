import type pg from 'pg';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs SQL and answers its rows. TypeORM answers an UPDATE or DELETE as `[rows, rowCount]` and
 * anything else as the rows; this hides the difference (rows are objects, never arrays).
 */
export async function queryRows<T = Record<string, any>>(
  db: DataSource | EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const result: unknown = await db.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}

/** The number of rows an UPDATE or DELETE touched. */
export async function affectedRows(
  db: DataSource | EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<number> {
  const result: unknown = await db.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && typeof result[1] === 'number') return result[1];
  return Array.isArray(result) ? result.length : 0;
}

/**
 * The pg pool under the data source. Hot paths (authentication, the domain's writes) query it
 * directly: no query runner, no entity metadata, one pool checkout per statement or transaction.
 */
export function pgPool(dataSource: DataSource): pg.Pool {
  return (dataSource.driver as unknown as { master: pg.Pool }).master;
}

/** One parameterized statement ($1…$n), e.g. a change to run as a CTE of the statement that records its events. */
export interface Statement {
  sql: string;
  params: unknown[];
}
