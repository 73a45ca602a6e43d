import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** Written before key ids existed: no key id, no associated data. Still read, never written. */
const LEGACY = 'v1';
const VERSION = 'v2';

/** One encryption key with its public names: an id carried by ciphertexts and a fingerprint stored in the database. */
export interface EncryptionKey {
  key: Buffer;
  /** 16 hex characters of a hash of the key: says which key sealed a value, reveals nothing of it. */
  id: string;
  /** HMAC of a fixed label under the key: what the database keeps to recognise the key at start. */
  fingerprint: string;
}

export function encryptionKey(key: Buffer): EncryptionKey {
  if (key.length !== 32) throw new Error('the encryption key must be 32 bytes');
  return {
    key,
    id: createHash('sha256').update('waybill encryption key id\0').update(key).digest('hex').slice(0, 16),
    fingerprint: createHmac('sha256', key).update('waybill encryption key fingerprint').digest('hex'),
  };
}

/**
 * Where a sealed value lives (table, row, column): the associated data of its AES-GCM seal, so
 * a value copied to another row or field does not open there.
 */
export type SealBinding = string;
export const webhookField = (webhookId: string, field: string): SealBinding => `webhook/${webhookId}/${field}`;

/**
 * AES-256-GCM for what Waybill must keep but never show in a log: signing secrets, custom
 * header values, receiver credentials. Sealed as `v2.<keyId>.<iv>.<tag>.<ciphertext>`
 * (base64url) under the current key, bound to its row and field; older keys
 * (`ENCRYPTION_KEYS_PREVIOUS`) still open what they sealed, and `v1.<iv>.<tag>.<ciphertext>`
 * (no key id, no binding) is still read.
 */
export class SecretBox {
  readonly current: EncryptionKey;
  private readonly byId = new Map<string, EncryptionKey>();

  constructor(
    key: Buffer | EncryptionKey,
    readonly previous: EncryptionKey[] = [],
  ) {
    this.current = Buffer.isBuffer(key) ? encryptionKey(key) : key;
    for (const k of [this.current, ...previous]) if (!this.byId.has(k.id)) this.byId.set(k.id, k);
  }

  /** Every key this box can open with, current first. */
  get keys(): EncryptionKey[] {
    return [...this.byId.values()];
  }

  encrypt(plaintext: string, binding: SealBinding): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(Buffer.from(binding, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [
      VERSION,
      this.current.id,
      iv.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
      body.toString('base64url'),
    ].join('.');
  }

  decrypt(sealed: string, binding: SealBinding): string {
    const parts = sealed.split('.');
    if (parts[0] === LEGACY && parts.length === 4) return this.openLegacy(parts);
    const [version, keyId, iv, tag, body] = parts;
    if (version !== VERSION || !keyId || !iv || !tag || body === undefined || parts.length !== 5)
      throw new Error('not a sealed value');
    const key = this.byId.get(keyId);
    if (!key)
      throw new Error(
        `sealed under key ${keyId}, which is neither ENCRYPTION_KEY nor in ENCRYPTION_KEYS_PREVIOUS (${[...this.byId.keys()].join(', ')})`,
      );
    return open(key.key, iv, tag, body, binding);
  }

  /** The id of the key a value is sealed under, or null for a v1 value (which carries none). */
  static keyIdOf(sealed: string): string | null {
    const parts = sealed.split('.');
    return parts[0] === VERSION ? parts[1] : null;
  }

  private openLegacy([, iv, tag, body]: string[]): string {
    let failure: unknown;
    for (const key of this.byId.values()) {
      try {
        return open(key.key, iv, tag, body, null);
      } catch (error) {
        failure = error;
      }
    }
    throw failure instanceof Error ? failure : new Error('could not open the sealed value');
  }
}

function open(key: Buffer, iv: string, tag: string, body: string, binding: SealBinding | null): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  if (binding !== null) decipher.setAAD(Buffer.from(binding, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
}

export function decodeEncryptionKey(text: string): Buffer {
  return /^[0-9a-fA-F]{64}$/.test(text) ? Buffer.from(text, 'hex') : Buffer.from(text, 'base64');
}

/** ENCRYPTION_KEYS_PREVIOUS: older keys, separated by commas or spaces. */
export function decodePreviousKeys(text: string | undefined): EncryptionKey[] {
  return (text ?? '')
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((k) => encryptionKey(decodeEncryptionKey(k)));
}

/**
 * ENCRYPTION_KEY, or a key generated once into DATA_DIR/encryption-key and reused. Several
 * instances sharing one database must share the key: they are warned to set it (and the key
 * check at start refuses an instance whose key differs).
 */
export function loadEncryptionKey(configured: string | undefined, dataDir: string, warn: (m: string) => void): Buffer {
  if (configured) return decodeEncryptionKey(configured);
  const file = path.join(dataDir, 'encryption-key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' });
    warn(
      `ENCRYPTION_KEY is not set: generated one into ${file}. Set ENCRYPTION_KEY when several instances share a database.`,
    );
  }
  return decodeEncryptionKey(fs.readFileSync(file, 'utf8').trim());
}

/** The service's box: ENCRYPTION_KEY (or the generated one) and ENCRYPTION_KEYS_PREVIOUS. */
export function loadSecretBox(
  config: { encryptionKey: string | undefined; encryptionKeysPrevious: string | undefined; dataDir: string },
  warn: (m: string) => void,
): SecretBox {
  return new SecretBox(
    loadEncryptionKey(config.encryptionKey, config.dataDir, warn),
    decodePreviousKeys(config.encryptionKeysPrevious),
  );
}
