import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopOrphanedPostmaster } from '../src/database/embedded-postgres.js';
import { freePort } from './support/ports.js';
import { eventually } from './support/receiver.js';

const DEMO = path.resolve('dist/scripts/demo.js');

interface ErpLine {
  type: string;
  key: string;
  sequence: string;
  verdict: string;
}

/** The demo ERP's lines: `ERP <time>  <type> <key> <status> <#sequence> <verdict>  [note]`. */
function erpLines(output: string): ErpLine[] {
  return output
    .split('\n')
    .map((line) => /^\s+ERP \d\d:\d\d:\d\d\s+(\S+)\s+(\S+)\s+\S+\s+(\S+)\s+(verified|503 refused|REJECTED)/.exec(line))
    .filter((match) => match !== null)
    .map(([, type, key, sequence, verdict]) => ({ type, key, sequence, verdict }));
}

function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('npm run demo', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'waybill-demo-'));
  // As root the embedded PostgreSQL runs as the postgres user, which must enter the folder.
  fs.chmodSync(dataDir, 0o755);
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let output = '';
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    const { DATABASE_URL: _database, PUBLIC_URL: _publicUrl, ...inherited } = process.env;
    child = spawn(process.execPath, [DEMO], {
      env: { ...inherited, PORT: String(port), DEMO_DATA_DIR: dataDir, DEMO_PACE_MS: '40' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    await eventually(
      () => /^Demo ready:/m.test(output) || child.exitCode !== null,
      100_000,
      () => `"Demo ready:"; the demo printed:\n${output}`,
    );
    expect(child.exitCode, output).toBeNull();
  }, 120_000);

  afterAll(async () => {
    if (child?.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    // A demo killed mid-way leaves its service's PostgreSQL running: stop it through its pid file.
    await stopOrphanedPostmaster(path.join(dataDir, 'postgres'), () => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('shows order and shipment pushes verified by the ERP, the exception included, and none rejected', () => {
    const lines = erpLines(output);
    const verifiedTypes = new Set(lines.filter((l) => l.verdict === 'verified').map((l) => l.type));
    for (const type of [
      'order.created',
      'order.updated',
      'order.status_changed',
      'shipment.created',
      'shipment.status_changed',
    ]) {
      expect(verifiedTypes, type).toContain(type);
    }
    for (const type of ['shipment.tracking_updated', 'shipment.delivered', 'shipment.exception']) {
      expect(verifiedTypes, type).toContain(type);
    }
    expect(lines.find((l) => l.type === 'shipment.exception')?.key).toBe('SH-2002');
    expect(lines.filter((l) => l.verdict === 'REJECTED')).toEqual([]);
    expect(output).not.toContain('REJECTED');
  });

  it('shows pushes refused during the outage arriving verified on a later retry', () => {
    const lines = erpLines(output);
    const refused = lines.map((l, i) => ({ ...l, index: i })).filter((l) => l.verdict === '503 refused');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const push of refused) {
      const later = lines
        .slice(push.index + 1)
        .find(
          (l) => l.type === push.type && l.key === push.key && l.sequence === push.sequence && l.verdict === 'verified',
        );
      expect(later, `${push.type} ${push.key} ${push.sequence} never arrived verified`).toBeDefined();
    }
    expect(output).toMatch(/\d+ deliveries: \d+ delivered, 0 failed, [1-9]\d* needed a retry/);
    expect(output).toMatch(/503 → (503 → )*204/);
  });

  it('prints a settings URL on the service it started and a tenant API key that works', async () => {
    const ready = /^Demo ready: (http:\/\/localhost:(\d+)\/settings)\s+\(sign in with the API key (wb_\S+)\)/m.exec(
      output,
    );
    expect(ready, output).not.toBeNull();
    const [, settingsUrl, printedPort, apiKey] = ready!;
    expect(settingsUrl).toBe(`http://localhost:${port}/settings`);
    expect(Number(printedPort)).toBe(port);
    const settings = await fetch(settingsUrl.replace('localhost', '127.0.0.1'));
    expect(settings.status).toBe(200);
    expect(await settings.text()).toContain('<div id="app">');
    const link = /^\s+(http:\/\/localhost:\d+\/settings\?portal=(wbl_\S+))$/m.exec(output);
    expect(link, output).not.toBeNull();
    const redeemed = await fetch(`http://127.0.0.1:${printedPort}/v1/portal-sessions/redeem`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: decodeURIComponent(link![2]) }),
    });
    expect(redeemed.status).toBe(200);
    const orders = await fetch(`http://127.0.0.1:${printedPort}/v1/orders`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(
      ((await orders.json()) as { data: Array<{ orderNumber: string }> }).data.map((o) => o.orderNumber).sort(),
    ).toEqual(['SO-1001', 'SO-1002', 'SO-1003']);
    expect(output).toContain(`API docs: http://localhost:${port}/docs`);
    expect(output).toContain('Press Ctrl-C to stop');
  });

  it('stops the receiver, the service and its PostgreSQL on SIGINT and exits 0', async () => {
    child.kill('SIGINT');
    const code = await Promise.race([
      exited,
      new Promise((resolve) => setTimeout(() => resolve('still running after 30 s'), 30_000)),
    ]);
    expect(code, output).toBe(0);
    expect(await acceptsConnections(port)).toBe(false);
    // A clean PostgreSQL shutdown removes its pid file.
    expect(fs.existsSync(path.join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  }, 40_000);
});
