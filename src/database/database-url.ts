import type { LoggerService } from '@nestjs/common';
import type { AppConfig } from '../config/config.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { runMigrations } from './migrate.js';

export interface ResolvedDatabase {
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

/** DATABASE_URL when set, otherwise an embedded cluster under DATA_DIR; migrated either way. */
export async function prepareDatabase(config: AppConfig, logger: LoggerService): Promise<ResolvedDatabase> {
  let database: ResolvedDatabase;
  if (config.databaseUrl) {
    database = { url: config.databaseUrl, embedded: false, stop: async () => undefined };
  } else {
    const started = Date.now();
    const handle = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      port: config.embeddedPostgresPort,
      log: (message) => {
        logger.debug?.(message, 'EmbeddedPostgres');
      },
    });
    logger.log(
      `embedded PostgreSQL ready on 127.0.0.1:${config.embeddedPostgresPort} in ${Date.now() - started} ms (data: ${handle.dataDirectory})`,
      'Database',
    );
    database = { url: handle.url, embedded: true, stop: () => handle.stop() };
  }
  try {
    const applied = await runMigrations(database.url);
    if (applied.length) logger.log(`applied migrations: ${applied.join(', ')}`, 'Database');
  } catch (error) {
    await database.stop();
    throw error;
  }
  return database;
}
