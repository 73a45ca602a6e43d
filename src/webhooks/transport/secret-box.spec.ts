import { createCipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  decodeEncryptionKey,
  decodePreviousKeys,
  encryptionKey,
  loadEncryptionKey,
  SecretBox,
  webhookField,
} from './secret-box.js';

/** Flips one bit of one byte in a base64url part of a sealed value. */
function flipByte(sealed: string, part: number, index = 0): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[part], 'base64url');
  bytes[index] ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

/** What the service wrote before key ids: `v1.<iv>.<tag>.<ciphertext>`, no associated data. */
function sealV1(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join(
    '.',
  );
}

describe('SecretBox', () => {
  const key = randomBytes(32);
  const box = new SecretBox(key);
  const here = webhookField('0b7c2a3e-0000-4000-8000-000000000001', 'secret');

  it('decrypts what it encrypted', () => {
    for (const plaintext of [
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'Bearer abc.def',
      '',
      'Müller 東京 🚚',
      'x'.repeat(10_000),
    ]) {
      expect(box.decrypt(box.encrypt(plaintext, here), here)).toBe(plaintext);
    }
  });

  it('seals as v2.<keyId>.<iv>.<tag>.<ciphertext> in base64url, without the plaintext', () => {
    const sealed = box.encrypt('top secret value', here);
    expect(sealed).toMatch(/^v2\.[0-9a-f]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const [, keyId, iv, tag, body] = sealed.split('.');
    expect(keyId).toBe(encryptionKey(key).id);
    expect(SecretBox.keyIdOf(sealed)).toBe(keyId);
    expect(Buffer.from(iv, 'base64url')).toHaveLength(12);
    expect(Buffer.from(tag, 'base64url')).toHaveLength(16);
    expect(Buffer.from(body, 'base64url')).toHaveLength('top secret value'.length);
    expect(sealed).not.toContain('secret');
  });

  it('gives a different sealed value each time for the same plaintext', () => {
    const sealed = new Set(Array.from({ length: 10 }, () => box.encrypt('same', here)));
    expect(sealed.size).toBe(10);
    for (const s of sealed) expect(box.decrypt(s, here)).toBe('same');
  });

  it('binds a value to its row and field: it does not open anywhere else', () => {
    const sealed = box.encrypt('signing secret', here);
    expect(() => box.decrypt(sealed, webhookField('0b7c2a3e-0000-4000-8000-000000000002', 'secret'))).toThrow();
    expect(() => box.decrypt(sealed, webhookField('0b7c2a3e-0000-4000-8000-000000000001', 'headers'))).toThrow();
  });

  it('throws when the ciphertext, the auth tag or the IV was tampered with', () => {
    const sealed = box.encrypt('pay 10 EUR', here);
    for (const part of [2, 3, 4]) expect(() => box.decrypt(flipByte(sealed, part), here)).toThrow();
  });

  it('throws when the ciphertext was truncated', () => {
    const [v, id, iv, tag, body] = box.encrypt('pay 10 EUR', here).split('.');
    const shorter = Buffer.from(body, 'base64url').subarray(1).toString('base64url');
    expect(() => box.decrypt([v, id, iv, tag, shorter].join('.'), here)).toThrow();
  });

  it('names the key a value needs when the box does not hold it', () => {
    const sealed = box.encrypt('signing secret', here);
    expect(() => new SecretBox(randomBytes(32)).decrypt(sealed, here)).toThrow(/ENCRYPTION_KEYS_PREVIOUS/);
  });

  it('opens values of a previous key and seals only under the current one', () => {
    const old = new SecretBox(key);
    const sealedOld = old.encrypt('kept', here);
    const rotated = new SecretBox(randomBytes(32), [encryptionKey(key)]);
    expect(rotated.decrypt(sealedOld, here)).toBe('kept');
    const sealedNew = rotated.encrypt('kept', here);
    expect(SecretBox.keyIdOf(sealedNew)).toBe(rotated.current.id);
    expect(() => old.decrypt(sealedNew, here)).toThrow();
  });

  it('still opens v1 values (no key id, no binding) with the current or a previous key', () => {
    const legacy = sealV1(key, 'written before key ids');
    expect(SecretBox.keyIdOf(legacy)).toBeNull();
    expect(box.decrypt(legacy, here)).toBe('written before key ids');
    expect(new SecretBox(randomBytes(32), [encryptionKey(key)]).decrypt(legacy, here)).toBe('written before key ids');
    expect(() => new SecretBox(randomBytes(32)).decrypt(legacy, here)).toThrow();
  });

  it('refuses text that is not a sealed value', () => {
    expect(() => box.decrypt('plain text', here)).toThrow('not a sealed value');
    expect(() => box.decrypt('v2.a.b.c', here)).toThrow('not a sealed value');
    expect(() => box.decrypt('v3.a.b.c.d', here)).toThrow('not a sealed value');
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow('the encryption key must be 32 bytes');
    expect(() => new SecretBox(randomBytes(33))).toThrow('the encryption key must be 32 bytes');
  });

  it('reads ENCRYPTION_KEYS_PREVIOUS separated by commas or spaces', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const keys = decodePreviousKeys(`${a.toString('hex')}, ${b.toString('base64')}`);
    expect(keys.map((k) => k.key)).toEqual([a, b]);
    expect(decodePreviousKeys(undefined)).toEqual([]);
  });
});

describe('decodeEncryptionKey', () => {
  it('decodes 64 hex characters, in either case, as 32 bytes', () => {
    const raw = randomBytes(32);
    expect(decodeEncryptionKey(raw.toString('hex'))).toEqual(raw);
    expect(decodeEncryptionKey(raw.toString('hex').toUpperCase())).toEqual(raw);
  });

  it('decodes anything else as base64', () => {
    const raw = randomBytes(32);
    expect(decodeEncryptionKey(raw.toString('base64'))).toEqual(raw);
  });
});

describe('loadEncryptionKey', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waybill-secret-box-'));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('decodes a configured hex key without touching the data directory or warning', () => {
    const raw = randomBytes(32);
    const warn = vi.fn();
    expect(loadEncryptionKey(raw.toString('hex'), dir, warn)).toEqual(raw);
    expect(loadEncryptionKey('ab'.repeat(32), dir, warn)).toEqual(Buffer.alloc(32, 0xab));
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(warn).not.toHaveBeenCalled();
  });

  it('decodes a configured base64 key', () => {
    const raw = randomBytes(32);
    expect(loadEncryptionKey(raw.toString('base64'), dir, vi.fn())).toEqual(raw);
  });

  it('generates a 32-byte key into DATA_DIR/encryption-key when none is configured, and warns', () => {
    const warn = vi.fn();
    const dataDir = path.join(dir, 'nested', 'data');
    const key = loadEncryptionKey(undefined, dataDir, warn);
    expect(key).toHaveLength(32);
    const file = path.join(dataDir, 'encryption-key');
    expect(fs.readFileSync(file, 'utf8')).toBe(key.toString('hex'));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toContain('ENCRYPTION_KEY');
    expect(warn.mock.calls[0][0]).toContain(file);
  });

  it('reuses the generated key on later loads and warns only the first time', () => {
    const warn = vi.fn();
    const first = loadEncryptionKey(undefined, dir, warn);
    const second = loadEncryptionKey(undefined, dir, warn);
    const third = loadEncryptionKey('', dir, warn);
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it('reads an existing key file, ignoring surrounding whitespace', () => {
    const raw = randomBytes(32);
    fs.writeFileSync(path.join(dir, 'encryption-key'), `${raw.toString('hex')}\n`);
    const warn = vi.fn();
    expect(loadEncryptionKey(undefined, dir, warn)).toEqual(raw);
    expect(warn).not.toHaveBeenCalled();
  });

  it('gives a key that opens what was sealed with the key loaded before', () => {
    const at = webhookField('0b7c2a3e-0000-4000-8000-000000000001', 'secret');
    const sealed = new SecretBox(loadEncryptionKey(undefined, dir, vi.fn())).encrypt('kept across restarts', at);
    expect(new SecretBox(loadEncryptionKey(undefined, dir, vi.fn())).decrypt(sealed, at)).toBe('kept across restarts');
  });
});
