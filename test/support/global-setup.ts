import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { type EmbeddedPostgresHandle, startEmbeddedPostgres } from '../../src/database/embedded-postgres.js';
import { freePort } from './ports.js';
import { ensureBuilt } from './build.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL URL whose user may create databases: each suite makes its own. */
    adminDatabaseUrl: string;
  }
}

let embedded: EmbeddedPostgresHandle | undefined;
let dataDir: string | undefined;

/** DATABASE_URL when set (a server PostgreSQL); otherwise one embedded cluster for the whole run. */
export async function setup(project: TestProject): Promise<void> {
  ensureBuilt();
  if (process.env.DATABASE_URL) {
    project.provide('adminDatabaseUrl', process.env.DATABASE_URL);
    return;
  }
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'waybill-test-'));
  fs.chmodSync(dataDir, 0o755);
  embedded = await startEmbeddedPostgres({ dataDir, port: await freePort(), database: 'waybill_admin' });
  project.provide('adminDatabaseUrl', embedded.url);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
}
