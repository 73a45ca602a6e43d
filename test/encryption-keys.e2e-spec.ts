import { type ChildProcess, spawn } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkEncryptionKey, EncryptionKeyMismatch } from '../src/webhooks/transport/key-registry.js';
import { encryptionKey, SecretBox, webhookField } from '../src/webhooks/transport/secret-box.js';
import { freePort } from './support/ports.js';
import { eventually } from './support/receiver.js';
import { createTestApp, TEST_ENCRYPTION_KEY, type TestApp } from './support/test-app.js';
import { createTestDatabase } from './support/test-database.js';

const MAIN = path.resolve('dist/src/main.js');
const ROTATE = path.resolve('dist/scripts/rotate-encryption-key.js');
const ADMIN = 'test-admin-token-0123456789';

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function run(script: string, env: Record<string, string>): Run {
  const { DATABASE_URL: _d, ENCRYPTION_KEY: _k, ENCRYPTION_KEYS_PREVIOUS: _p, ...inherited } = process.env;
  const child = spawn(process.execPath, [script], {
    env: { ...inherited, LOG_FORMAT: 'pretty', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('encryption key: checked at start, rotated with a keyring', () => {
  const keyA = randomBytes(32).toString('hex');
  const keyB = randomBytes(32).toString('base64');
  let database: { url: string; drop(): Promise<void> };
  let port: number;
  beforeAll(async () => {
    database = await createTestDatabase();
    port = await freePort();
  });
  afterAll(() => database?.drop());

  const env = (extra: Record<string, string>) => ({
    DATABASE_URL: database.url,
    PORT: String(port),
    HOST: '127.0.0.1',
    ADMIN_TOKEN: ADMIN,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    ...extra,
  });
  const base = () => `http://127.0.0.1:${port}`;

  /** Starts the built service, runs `use` while it serves, and stops it cleanly. */
  async function serving(extra: Record<string, string>, use: () => Promise<void>): Promise<void> {
    const service = run(MAIN, env(extra));
    try {
      await eventually(
        () => /listening on/.test(service.output()),
        60_000,
        () => `the service to listen:\n${service.output()}`,
      );
      await use();
    } finally {
      service.child.kill('SIGTERM');
    }
    expect(await service.exited).toBe(0);
  }

  async function refused(extra: Record<string, string>): Promise<string> {
    const service = run(MAIN, env(extra));
    const code = await service.exited;
    expect(code, service.output()).toBe(1);
    expect(service.output()).not.toContain('listening on');
    return service.output();
  }

  it('refuses another key before serving, accepts a rotation, re-seals everything, then refuses the retired key', async () => {
    let apiKey = '';
    let webhookId = '';
    let secret = '';
    const reveal = async () =>
      (await (
        await fetch(`${base()}/v1/webhooks/${webhookId}/secret`, { headers: { authorization: `Bearer ${apiKey}` } })
      ).json()) as { secret: string };

    await serving({ ENCRYPTION_KEY: keyA }, async () => {
      const tenant = await fetch(`${base()}/v1/tenants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'Keyed' }),
      });
      apiKey = ((await tenant.json()) as { apiKey: string }).apiKey;
      const webhook = await fetch(`${base()}/v1/webhooks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'ERP',
          url: 'http://127.0.0.1:9/erp',
          eventTypes: ['*'],
          headers: { 'X-Api-Key': 'k-123' },
          auth: { type: 'bearer', token: 't-456' },
        }),
      });
      const created = (await webhook.json()) as { id: string; secret: string };
      webhookId = created.id;
      secret = created.secret;
    });

    const wrongKey = await refused({ ENCRYPTION_KEY: keyB });
    expect(wrongKey).toContain('ENCRYPTION_KEY');
    expect(wrongKey).toContain('ENCRYPTION_KEYS_PREVIOUS');
    expect(wrongKey).not.toMatch(/\n\s+at /);

    // A rotation: the new key with the old one beside it starts, and reads the old secrets.
    await serving({ ENCRYPTION_KEY: keyB, ENCRYPTION_KEYS_PREVIOUS: keyA }, async () => {
      expect(await reveal()).toEqual({ secret });
      // The rotation runs beside the serving instance.
      const rotate = run(ROTATE, env({ ENCRYPTION_KEY: keyB, ENCRYPTION_KEYS_PREVIOUS: keyA }));
      expect(await rotate.exited, rotate.output()).toBe(0);
      expect(rotate.output()).toMatch(/3 sealed values in 1 subscriptions re-sealed/);
      expect(rotate.output()).toMatch(/retired key/);
      expect(await reveal()).toEqual({ secret });
    });

    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        'SELECT secret_encrypted, headers_encrypted, auth_encrypted FROM webhook WHERE id = $1',
        [webhookId],
      );
      const ids = Object.values(rows[0]).map((v) => String(v).split('.').slice(0, 2).join('.'));
      expect(new Set(ids).size).toBe(1);
      expect(ids[0]).toMatch(/^v2\.[0-9a-f]{16}$/);
    } finally {
      await client.end();
    }

    // A second run has nothing left to do (resumable), and the new key alone serves.
    const again = run(ROTATE, env({ ENCRYPTION_KEY: keyB }));
    expect(await again.exited, again.output()).toBe(0);
    expect(again.output()).toMatch(/0 sealed values/);
    await serving({ ENCRYPTION_KEY: keyB }, async () => {
      expect(await reveal()).toEqual({ secret });
    });
    expect(await refused({ ENCRYPTION_KEY: keyA })).toMatch(/ENCRYPTION_KEY is key [0-9a-f]{16}, retired/);
  }, 180_000);
});

describe('sealed values: v1 still opens, and a value copied to another row does not', () => {
  let t: TestApp;
  let db: pg.Client;
  beforeAll(async () => {
    t = await createTestApp();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  const create = async (name: string) =>
    (await t.api('POST', '/v1/webhooks', { body: { name, url: 'http://127.0.0.1:9/x', eventTypes: ['*'] } })).body as {
      id: string;
      secret: string;
    };

  it('reads a v1 value (no key id, no binding) written before this change', async () => {
    const hook = await create('legacy');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(TEST_ENCRYPTION_KEY, 'hex'), iv);
    const body = Buffer.concat([cipher.update('whsec_bGVnYWN5IHNlY3JldCBvZiAyNCBieXRlcw==', 'utf8'), cipher.final()]);
    const v1 = ['v1', iv, cipher.getAuthTag(), body].map((p) => (typeof p === 'string' ? p : p.toString('base64url')));
    await db.query('UPDATE webhook SET secret_encrypted = $2 WHERE id = $1', [hook.id, v1.join('.')]);
    const revealed = await t.api('GET', `/v1/webhooks/${hook.id}/secret`);
    expect(revealed.body).toEqual({ secret: 'whsec_bGVnYWN5IHNlY3JldCBvZiAyNCBieXRlcw==' });
  });

  it('binds each value to its row: a secret copied to another subscription does not open there', async () => {
    const [x, y] = [await create('x'), await create('y')];
    await db.query(
      'UPDATE webhook SET secret_encrypted = (SELECT secret_encrypted FROM webhook WHERE id = $1) WHERE id = $2',
      [x.id, y.id],
    );
    // A row tampered with in the database is outside the API's contract (it answers 500).
    const revealed = await t.api('GET', `/v1/webhooks/${y.id}/secret`, { contract: false });
    expect(revealed.status).not.toBe(200);
    expect(JSON.stringify(revealed.body)).not.toContain(x.secret);
  });
});

describe('encryption key: a start must hold every key that may have sealed something', () => {
  let t: TestApp;
  let db: pg.Client;
  const keyA = encryptionKey(Buffer.from(TEST_ENCRYPTION_KEY, 'hex'));
  const keyB = encryptionKey(randomBytes(32));
  beforeAll(async () => {
    t = await createTestApp();
    db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    await t?.close();
  });

  const create = async (name: string) =>
    (await t.api('POST', '/v1/webhooks', { body: { name, url: 'http://127.0.0.1:9/x', eventTypes: ['*'] } })).body as {
      id: string;
      secret: string;
    };
  /** What an instance with `key` writes: the subscription's secret sealed under it. */
  const sealUnder = async (key: typeof keyA, hook: { id: string; secret: string }) =>
    db.query('UPDATE webhook SET secret_encrypted = $2 WHERE id = $1', [
      hook.id,
      new SecretBox(key).encrypt(hook.secret, webhookField(hook.id, 'secret')),
    ]);

  it('refuses the old key alone once a rotation to a new one has started; the old key with the new one beside it starts', async () => {
    const hook = await create('rolled back');
    expect(await checkEncryptionKey(t.databaseUrl, new SecretBox(keyA))).toEqual({ registered: 'first' });
    // Instances restarted with B (A beside it) for a rotation; one of them writes under B.
    expect(await checkEncryptionKey(t.databaseUrl, new SecretBox(keyB, [keyA]))).toEqual({ registered: 'rotation' });
    await sealUnder(keyB, hook);
    // An instance restarted with A alone (a rollback, a forgotten instance) could not read that.
    const refusal = checkEncryptionKey(t.databaseUrl, new SecretBox(keyA));
    await expect(refusal).rejects.toBeInstanceOf(EncryptionKeyMismatch);
    await expect(refusal).rejects.toThrow(new RegExp(`key ${keyB.id}.*ENCRYPTION_KEYS_PREVIOUS`));
    // Rolling back means A as the key and B beside it (then a rotation re-seals under A).
    expect(await checkEncryptionKey(t.databaseUrl, new SecretBox(keyA, [keyB]))).toEqual({ registered: null });
  });

  it('refuses a key that cannot open values sealed under a retired key (an old instance kept writing after the rotation)', async () => {
    await db.query('UPDATE encryption_key SET retired_at = now() WHERE key_id = $1', [keyA.id]);
    const hook = await create('late write');
    await sealUnder(keyA, hook);
    const refusal = checkEncryptionKey(t.databaseUrl, new SecretBox(keyB));
    await expect(refusal).rejects.toBeInstanceOf(EncryptionKeyMismatch);
    await expect(refusal).rejects.toThrow(new RegExp(`sealed under key ${keyA.id}.*ENCRYPTION_KEYS_PREVIOUS`));
    // With the retired key beside it, it starts (and the rotation can re-seal what is left).
    expect(await checkEncryptionKey(t.databaseUrl, new SecretBox(keyB, [keyA]))).toEqual({ registered: null });
  });
});
