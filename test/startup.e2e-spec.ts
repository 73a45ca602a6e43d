import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from './support/ports.js';
import { eventually } from './support/receiver.js';

const MAIN = path.resolve('dist/src/main.js');

function start(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  const { DATABASE_URL: _ignored, ...inherited } = process.env;
  const child = spawn(process.execPath, [MAIN], {
    env: { ...inherited, LOG_FORMAT: 'pretty', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('starting the service', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'waybill-start-'));
  fs.chmodSync(dataDir, 0o755);
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('refuses a bad configuration with a message naming the variable, not a stack trace', async () => {
    const run = start({ PORT: 'eighty', ROLE: 'boss' });
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('PORT must be a port number');
    expect(run.output()).toContain('ROLE must be one of api, worker, all');
    expect(run.output()).not.toMatch(/\n\s+at /);
  });

  it('starts on an embedded PostgreSQL, prints a working demo key once, and reuses the data on the next start', async () => {
    const env = {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(await freePort()),
      HOST: '127.0.0.1',
    };
    const first = start(env);
    try {
      await eventually(() => /listening on/.test(first.output()), 60_000, 'the first start');
      const key = /API key: (wb_[A-Za-z0-9_-]+)/.exec(first.output())?.[1];
      expect(key).toBeDefined();
      expect(first.output()).toContain(`http://localhost:${env.PORT}/docs`);
      const orders = await fetch(`http://127.0.0.1:${env.PORT}/v1/orders`, {
        headers: { authorization: `Bearer ${key}` },
      });
      expect(orders.status).toBe(200);
      const created = await fetch(`http://127.0.0.1:${env.PORT}/v1/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          orderNumber: 'SO-1',
          customer: { name: 'Acme' },
          lines: [{ sku: 'A', quantity: 1, unit: 'EA' }],
        }),
      });
      expect(created.status).toBe(201);
    } finally {
      first.child.kill('SIGTERM');
    }
    expect(await first.exited).toBe(0);
    // SIGTERM stopped the embedded PostgreSQL too (a clean shutdown removes its pid file).
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);

    const second = start(env);
    try {
      await eventually(() => /listening on/.test(second.output()), 60_000, 'the second start');
      expect(second.output()).not.toContain('API key:');
      const key = /API key: (wb_[A-Za-z0-9_-]+)/.exec(first.output())![1];
      const list = (await (
        await fetch(`http://127.0.0.1:${env.PORT}/v1/orders`, { headers: { authorization: `Bearer ${key}` } })
      ).json()) as {
        data: Array<{ orderNumber: string }>;
      };
      expect(list.data.map((o) => o.orderNumber)).toEqual(['SO-1']);
    } finally {
      second.child.kill('SIGTERM');
    }
    expect(await second.exited).toBe(0);
  }, 120_000);
});
