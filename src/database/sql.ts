import type pg from 'pg';
import type { DataSource, EntityManager } from 'typeorm';

/**
 * Runs SQL and answers its rows. TypeORM answers an UPDATE or DELETE as `[rows, rowCount]` and
 * anything else as the rows; this hides the difference (rows are objects, never arrays).
 */
export async function queryRows<T = Record<string, unknown>>(
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

const statementNames = new Map<string, string>();
/** Named statements are kept per connection by PostgreSQL; a bound on how many texts get one. */
const MAX_NAMED_STATEMENTS = 1_000;

/**
 * A query as a named (prepared) statement: PostgreSQL parses and plans its text once per
 * connection instead of on every call, which on the hot writes is a good part of the
 * database's CPU. Only for fixed texts (a text built per call gets a name per variant, up to a
 * bound, then runs unnamed).
 */
export function prepared(text: string, values: unknown[] = []): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `waybill_${statementNames.size}`;
    statementNames.set(text, name);
  }
  return name === undefined ? { text, values } : { name, text, values };
}
