import type pg from 'pg';

/** The sealed columns of `webhook` and the field name each is bound to (AES-GCM associated data). */
export const SEALED_WEBHOOK_COLUMNS = [
  ['secret_encrypted', 'secret'],
  ['previous_secret_encrypted', 'previous_secret'],
  ['headers_encrypted', 'headers'],
  ['auth_encrypted', 'auth'],
  ['tls_encrypted', 'tls'],
] as const;

export type SealedColumn = (typeof SEALED_WEBHOOK_COLUMNS)[number][0];

const COLUMNS = SEALED_WEBHOOK_COLUMNS.map(([column]) => column);

/**
 * Every statement of the encryption-key maintenance on `webhook`'s sealed columns (the key
 * check at start and the rotation), on a plain pg client: they run before Nest starts and from
 * a script. The columns' ordinary reads and writes belong to `WebhooksService`.
 */
export const SealedValuesStore = {
  /** The oldest subscription's signing secret, to try a key on before the database knows any. */
  async oldestSecret(client: pg.ClientBase): Promise<{ id: string; sealed: string } | undefined> {
    const { rows } = await client.query<{ id: string; secret_encrypted: string }>(
      'SELECT id, secret_encrypted FROM webhook ORDER BY created_at LIMIT 1',
    );
    return rows[0] ? { id: rows[0].id, sealed: rows[0].secret_encrypted } : undefined;
  },

  /** The key ids stored values are sealed under (`v2` values carry one), with how many each. */
  async keyIdsInUse(client: pg.ClientBase): Promise<Array<{ keyId: string; values: number }>> {
    const { rows } = await client.query<{ key_id: string; n: string }>(
      `SELECT split_part(v, '.', 2) AS key_id, count(*) AS n
         FROM webhook, LATERAL (VALUES ${COLUMNS.map((column) => `(${column})`).join(', ')}) AS s(v)
        WHERE v LIKE 'v2.%' GROUP BY 1`,
    );
    return rows.map((r) => ({ keyId: r.key_id, values: Number(r.n) }));
  },

  /** The next batch of subscriptions after `after` (by id), locked until the transaction ends. */
  async lockBatch(
    client: pg.ClientBase,
    after: string,
    batchSize: number,
  ): Promise<Array<{ id: string } & Record<SealedColumn, string | null>>> {
    const { rows } = await client.query<{ id: string } & Record<SealedColumn, string | null>>(
      `SELECT id, ${COLUMNS.join(', ')} FROM webhook WHERE id > $1 ORDER BY id LIMIT $2 FOR UPDATE`,
      [after, batchSize],
    );
    return rows;
  },

  /** New seals of a subscription's values; `updated_at` is kept (the plaintexts do not change). */
  async reseal(client: pg.ClientBase, id: string, changes: Array<[SealedColumn, string]>): Promise<void> {
    await client.query(
      `UPDATE webhook SET ${changes.map(([column], i) => `${column} = $${i + 2}`).join(', ')} WHERE id = $1`,
      [id, ...changes.map(([, value]) => value)],
    );
  },

  /** How many subscriptions hold a value not sealed under `keyId`. */
  async countNotSealedUnder(client: pg.ClientBase, keyId: string): Promise<number> {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM webhook WHERE ${COLUMNS.map((c) => `(${c} IS NOT NULL AND ${c} NOT LIKE $1)`).join(' OR ')}`,
      [`v2.${keyId}.%`],
    );
    return Number(rows[0].n);
  },
};
