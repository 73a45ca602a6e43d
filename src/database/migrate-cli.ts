import { ConfigError, loadConfig } from '../config/config.js';
import { createLogger } from '../config/logger.js';
import { prepareDatabase } from './database-url.js';

/** `npm run migration:run`: migrate DATABASE_URL, or the embedded cluster when it is unset. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config);
  const database = await prepareDatabase(config, logger);
  logger.log('database is up to date', 'Database');
  await database.stop();
}

main().catch((error: unknown) => {
  console.error(
    error instanceof ConfigError
      ? error.message
      : `migration failed: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
