import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/config/logger.js';
import { prepareDatabase, type ResolvedDatabase } from '../src/database/database-url.js';
import { checkEncryptionKey, resealUnderCurrentKey } from '../src/webhooks/transport/key-registry.js';
import { loadSecretBox } from '../src/webhooks/transport/secret-box.js';

/**
 * `npm run rotate-encryption-key`: seals every stored secret again under ENCRYPTION_KEY, reading
 * older ones with ENCRYPTION_KEYS_PREVIOUS. Safe while the service runs; run it again to finish
 * an interrupted rotation. With DATABASE_URL unset it uses the embedded cluster of DATA_DIR: the
 * running service's if it answers, else it starts it.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config);
  const box = loadSecretBox(config, (m) => logger.warn(m, 'Secrets'));
  const database =
    (await runningDatabase(config.dataDir, config.embeddedPostgresPort, config.databaseUrl)) ??
    (await prepareDatabase(config, logger));
  try {
    const { registered } = await checkEncryptionKey(database.url, box);
    if (registered === 'rotation') logger.log(`registered the new ENCRYPTION_KEY (key ${box.current.id})`, 'Rotate');
    const { resealed, rows, retired } = await resealUnderCurrentKey(database.url, box, (m) => logger.log(m, 'Rotate'));
    logger.log(
      `done: ${resealed} sealed values in ${rows} subscriptions re-sealed under key ${box.current.id}` +
        (retired.length
          ? `; retired key ${retired.join(', ')}: remove it from ENCRYPTION_KEYS_PREVIOUS`
          : '; nothing is left under another key'),
      'Rotate',
    );
  } finally {
    await database.stop();
  }
}

/** DATABASE_URL, or the embedded cluster a running service holds (stopping it would pull it from under the service). */
async function runningDatabase(
  dataDir: string,
  port: number,
  databaseUrl: string | undefined,
): Promise<ResolvedDatabase | null> {
  if (databaseUrl) return { url: databaseUrl, embedded: false, stop: async () => undefined };
  const passwordFile = path.join(dataDir, 'postgres-password');
  if (!fs.existsSync(passwordFile)) return null;
  const password = encodeURIComponent(fs.readFileSync(passwordFile, 'utf8').trim());
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/waybill`;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return { url, embedded: true, stop: async () => undefined };
  } catch {
    return null;
  }
}

main().catch((error: unknown) => {
  console.error(
    error instanceof ConfigError
      ? error.message
      : `rotation failed: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
