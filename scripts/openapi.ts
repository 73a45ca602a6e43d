import 'reflect-metadata';
import fs from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { NestFactory } from '@nestjs/core';
import { createHttpAdapter } from '../src/app.js';
import { AppModule } from '../src/app.module.js';
import { loadConfig } from '../src/config/config.js';
import { createOpenApiDocument } from '../src/openapi.js';

/**
 * The OpenAPI document the service serves, made without a database (Nest's preview mode builds the
 * module graph and instantiates nothing), for the committed openapi.json and `npm run lint`:
 *   node dist/scripts/openapi.js [file]          write it (stdout without a file)
 *   node dist/scripts/openapi.js --check file    fail when file differs from what the code says
 *   node dist/scripts/openapi.js --validate file swagger-parser validation
 * servers[] says http://localhost:3000 here; a running service says its PUBLIC_URL.
 */
export async function currentDocument(): Promise<string> {
  const config = loadConfig({ PUBLIC_URL: 'http://localhost:3000', LOG_LEVEL: 'error' });
  const app = await NestFactory.create(AppModule.forRoot(config, 'postgres://unused'), createHttpAdapter(), {
    preview: true,
    logger: false,
  });
  const document = createOpenApiDocument(app, config.publicUrl);
  await app.close();
  return `${JSON.stringify(document, null, 2)}\n`;
}

async function main(): Promise<void> {
  const [mode, file] = process.argv.slice(2);
  if (mode === '--validate') {
    await SwaggerParser.validate(file);
    console.log(`${file}: valid OpenAPI (swagger-parser)`);
    return;
  }
  const document = await currentDocument();
  if (mode === '--check') {
    const committed = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    if (committed !== document) {
      console.error(`${file} is not the document the code describes: run npm run api:generate and commit the result`);
      process.exit(1);
    }
    console.log(`${file}: up to date`);
    return;
  }
  if (mode) fs.writeFileSync(mode, document);
  else process.stdout.write(document);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
