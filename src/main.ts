import 'reflect-metadata';
import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { configureApp, createHttpAdapter } from './app.js';
import { AppModule } from './app.module.js';
import { type AppConfig, ConfigError, loadConfig } from './config/config.js';
import { createLogger } from './config/logger.js';
import { prepareDatabase, type ResolvedDatabase } from './database/database-url.js';
import { checkEncryptionKey, EncryptionKeyMismatch } from './webhooks/transport/key-registry.js';
import { loadSecretBox } from './webhooks/transport/secret-box.js';
import { TenancyService } from './tenancy/tenancy.service.js';

function readConfig(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}

/** A start with another encryption key than the database's is refused before anything is served. */
async function checkKeyOrStop(config: AppConfig, database: ResolvedDatabase, logger: LoggerService): Promise<void> {
  const box = loadSecretBox(config, (m) => {
    logger.warn(m, 'Secrets');
  });
  try {
    const { registered } = await checkEncryptionKey(database.url, box);
    if (registered === 'rotation')
      logger.warn(
        `registered a new ENCRYPTION_KEY (key ${box.current.id}); run npm run rotate-encryption-key to re-seal what older keys sealed`,
        'Secrets',
      );
  } catch (error) {
    await database.stop();
    if (error instanceof EncryptionKeyMismatch) {
      console.error(`Waybill refuses to start: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}

async function bootstrap(): Promise<void> {
  const config = readConfig();
  const logger = createLogger(config);
  const database = await prepareDatabase(config, logger);
  await checkKeyOrStop(config, database, logger);
  const app = await NestFactory.create<NestFastifyApplication>(
    AppModule.forRoot(config, database.url),
    createHttpAdapter(config.trustProxy),
    { logger },
  );
  configureApp(app);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`, 'Waybill');
    try {
      await app.close();
    } finally {
      await database.stop();
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  if (config.role === 'worker') {
    // A worker delivers and sweeps; the HTTP API (and /health) run on the api instances.
    await app.init();
    logger.log('worker started: delivering webhooks, no HTTP listener (ROLE=worker)', 'Waybill');
    return;
  }
  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    // Port taken, say: do not leave the embedded PostgreSQL running behind a service that never started.
    await app.close().catch(() => undefined);
    await database.stop();
    throw error;
  }

  if (database.embedded && (await app.get(TenancyService).countTenants()) === 0) {
    const { tenant, apiKey } = await app.get(TenancyService).createTenant('Demo');
    logger.log(
      [
        'First start on an empty embedded database: created a demo tenant.',
        `  tenant:  ${tenant.id} (${tenant.name})`,
        `  API key: ${apiKey}   (shown once; create more with POST /v1/api-keys)`,
        `  API:     ${config.publicUrl}/v1`,
        `  Docs:    ${config.publicUrl}/docs`,
        `  Settings: ${config.publicUrl}/settings   (sign in with the key)`,
        `  Try:     curl -H "Authorization: Bearer ${apiKey}" ${config.publicUrl}/v1/event-types`,
      ].join('\n'),
      'Waybill',
    );
  }
  logger.log(`listening on ${config.publicUrl} (role ${config.role})`, 'Waybill');
}

bootstrap().catch((error: unknown) => {
  console.error(`Waybill failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
