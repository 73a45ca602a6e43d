import pg from 'pg';
import { SEALED_WEBHOOK_COLUMNS, type SealedColumn, SealedValuesStore } from '../subscriptions/sealed-values.store.js';
import { SecretBox, webhookField } from './secret-box.js';

/** The start refused: the message names ENCRYPTION_KEY and says what to do. */
export class EncryptionKeyMismatch extends Error {}

/**
 * Every statement on `encryption_key`: the keys this database has known (id and fingerprint,
 * never the key). Checked at every start, before anything is served:
 * - an empty registry (first start, or the first after an upgrade) records ENCRYPTION_KEY, once
 *   a stored secret, if any, opens with the keys given;
 * - a known, unretired ENCRYPTION_KEY starts;
 * - an unknown ENCRYPTION_KEY starts only beside a known key in ENCRYPTION_KEYS_PREVIOUS (a
 *   rotation), and is recorded;
 * - anything else is refused, so an instance with another key never writes secrets the others
 *   cannot read.
 */
export async function checkEncryptionKey(
  databaseUrl: string,
  box: SecretBox,
): Promise<{ registered: 'first' | 'rotation' | null }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    // Instances starting together with different keys: one registers first, the other is refused.
    await client.query('LOCK TABLE encryption_key IN EXCLUSIVE MODE');
    const { rows } = await client.query<{ key_id: string; fingerprint: string; retired_at: Date | null }>(
      'SELECT key_id, fingerprint, retired_at FROM encryption_key',
    );
    const current = box.current;
    const known = new Map(rows.map((r) => [r.key_id, r]));
    let registered: 'first' | 'rotation' | null = null;
    const mine = known.get(current.id);
    if (mine) {
      if (mine.fingerprint !== current.fingerprint)
        throw new EncryptionKeyMismatch(`ENCRYPTION_KEY does not match the fingerprint stored for key ${current.id}`);
      if (mine.retired_at)
        throw new EncryptionKeyMismatch(
          `ENCRYPTION_KEY is key ${current.id}, retired on ${mine.retired_at.toISOString()} after a rotation: set ENCRYPTION_KEY to the current key`,
        );
    } else if (rows.length === 0) {
      await opensStoredSecret(client, box);
      registered = 'first';
    } else if (box.previous.some((k) => known.get(k.id)?.fingerprint === k.fingerprint)) {
      registered = 'rotation';
    } else {
      const ids = rows.filter((r) => !r.retired_at).map((r) => r.key_id);
      throw new EncryptionKeyMismatch(
        `ENCRYPTION_KEY (key ${current.id}) is not the key this database's secrets are sealed with (key ${ids.join(', ')}). ` +
          'Set ENCRYPTION_KEY to that key; to change keys, set the new one as ENCRYPTION_KEY, the old one in ENCRYPTION_KEYS_PREVIOUS, and run npm run rotate-encryption-key.',
      );
    }
    await holdsEveryKeyInUse(client, box, rows);
    if (registered)
      await client.query(
        'INSERT INTO encryption_key (key_id, fingerprint) VALUES ($1, $2) ON CONFLICT (key_id) DO NOTHING',
        [current.id, current.fingerprint],
      );
    await client.query('COMMIT');
    return { registered };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * A start must hold (as ENCRYPTION_KEY or in ENCRYPTION_KEYS_PREVIOUS) every key that may have
 * sealed something: each key the registry has not retired (a rotation to a newer key has
 * started: instances with it write under it), and each key stored values are sealed under (an
 * instance that kept running with a key after it was retired). Otherwise the start would serve,
 * then answer 500 to every reveal and fail every push of those subscriptions.
 */
async function holdsEveryKeyInUse(
  client: pg.Client,
  box: SecretBox,
  registry: Array<{ key_id: string; retired_at: Date | null }>,
): Promise<void> {
  const held = new Set(box.keys.map((k) => k.id));
  const unretired = registry.filter((r) => !r.retired_at && !held.has(r.key_id)).map((r) => r.key_id);
  if (unretired.length)
    throw new EncryptionKeyMismatch(
      `key ${unretired.join(', ')} is in use in this database (a rotation registered it and has not retired it), ` +
        `but it is neither ENCRYPTION_KEY (key ${box.current.id}) nor in ENCRYPTION_KEYS_PREVIOUS: what it sealed could not be read. ` +
        'Start with that key as ENCRYPTION_KEY and this one in ENCRYPTION_KEYS_PREVIOUS; to roll back, keep this key and add that one to ENCRYPTION_KEYS_PREVIOUS, then run npm run rotate-encryption-key.',
    );
  const unreadable = (await SealedValuesStore.keyIdsInUse(client)).filter((r) => !held.has(r.keyId));
  if (unreadable.length)
    throw new EncryptionKeyMismatch(
      `${unreadable.map((r) => `${r.values} stored values are sealed under key ${r.keyId}`).join(', ')}, ` +
        `which is neither ENCRYPTION_KEY (key ${box.current.id}) nor in ENCRYPTION_KEYS_PREVIOUS: add it to ENCRYPTION_KEYS_PREVIOUS, ` +
        'then run npm run rotate-encryption-key to re-seal them under ENCRYPTION_KEY.',
    );
}

/** Before trusting a key with an empty registry: one stored secret (if any) must open with it. */
async function opensStoredSecret(client: pg.Client, box: SecretBox): Promise<void> {
  const oldest = await SealedValuesStore.oldestSecret(client);
  if (!oldest) return;
  try {
    box.decrypt(oldest.sealed, webhookField(oldest.id, 'secret'));
  } catch {
    throw new EncryptionKeyMismatch(
      'ENCRYPTION_KEY does not open the signing secrets already stored in this database: set ENCRYPTION_KEY to the key they were sealed with (or add it to ENCRYPTION_KEYS_PREVIOUS)',
    );
  }
}

/** After a rotation left nothing sealed under them: keys other than the current one are retired. */
export async function retireOtherKeys(client: pg.ClientBase, currentId: string): Promise<string[]> {
  const { rows } = await client.query<{ key_id: string }>(
    'UPDATE encryption_key SET retired_at = now() WHERE key_id <> $1 AND retired_at IS NULL RETURNING key_id',
    [currentId],
  );
  return rows.map((r) => r.key_id);
}

/**
 * Seals every stored secret again under the current key, a batch of subscriptions per
 * transaction with their rows locked (a concurrent PATCH waits, nothing is lost), skipping what
 * is already sealed under it: safe with the service running, and resumable (a second run only
 * does what is left). The rows' `updated_at` is kept: the plaintexts do not change, so the
 * delivery engine has nothing to reload. Once nothing is sealed under another key, the other
 * keys are retired.
 */
export async function resealUnderCurrentKey(
  databaseUrl: string,
  box: SecretBox,
  log: (message: string) => void,
  batchSize = 200,
): Promise<{ resealed: number; rows: number; retired: string[] }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let after = '00000000-0000-0000-0000-000000000000';
  let resealed = 0;
  let rowsDone = 0;
  try {
    for (;;) {
      await client.query('BEGIN');
      const rows = await SealedValuesStore.lockBatch(client, after, batchSize);
      for (const row of rows) {
        const changes: Array<[SealedColumn, string]> = [];
        for (const [column, field] of SEALED_WEBHOOK_COLUMNS) {
          const sealed = row[column];
          if (!sealed || SecretBox.keyIdOf(sealed) === box.current.id) continue;
          const binding = webhookField(row.id, field);
          changes.push([column, box.encrypt(box.decrypt(sealed, binding), binding)]);
        }
        if (changes.length === 0) continue;
        await SealedValuesStore.reseal(client, row.id, changes);
        resealed += changes.length;
      }
      await client.query('COMMIT');
      rowsDone += rows.length;
      if (rows.length) log(`re-sealed ${resealed} values in ${rowsDone} subscriptions so far`);
      if (rows.length < batchSize) break;
      after = rows[rows.length - 1].id;
    }
    const left = await SealedValuesStore.countNotSealedUnder(client, box.current.id);
    const retired = left === 0 ? await retireOtherKeys(client, box.current.id) : [];
    return { resealed, rows: rowsDone, retired };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}
