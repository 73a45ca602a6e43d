import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import pg from 'pg';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { DATABASE_URL } from '../database/database.tokens.js';

/** Revocations are announced on this channel, the key's id as the payload. */
export const API_KEY_CHANNEL = 'waybill_api_keys';

export interface CachedApiKey {
  id: string;
  tenantId: string;
  lastUsedAt: Date | null;
}

/**
 * Valid API keys by hash, so authentication costs no database round trip per request, while a
 * revoked key still answers 401 at once: revocation drops the key here before it answers, and
 * other instances drop it when its NOTIFY arrives (sent by the revoking statement, at commit).
 * The cache is only trusted while this instance listens: when the LISTEN connection drops, it
 * is emptied and bypassed until listening again (a NOTIFY may have been missed meanwhile). The
 * TTL bounds an entry's life whatever happens. A lookup that started before a revocation
 * arrived is not cached (the generation moved), so it cannot put a revoked key back.
 */
@Injectable()
export class ApiKeyCache implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ApiKeyCache.name);
  private readonly entries = new Map<string, CachedApiKey & { expiresAt: number }>();
  private readonly ttlMs: number;
  private listener: pg.Client | null = null;
  private listening = false;
  private running = false;
  private generation = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(DATABASE_URL) private readonly databaseUrl: string,
  ) {
    // A worker answers no HTTP: it authenticates nothing.
    this.ttlMs = config.role === 'worker' ? 0 : config.apiKeyCacheTtlMs;
  }

  onModuleInit(): void {
    if (this.ttlMs <= 0) return;
    this.running = true;
    void this.listen();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    const listener = this.listener;
    this.listener = null;
    this.listening = false;
    await listener?.end().catch(() => undefined);
  }

  /** A fresh entry, or undefined (then look the key up and `offer` what was found). */
  get(hash: string): CachedApiKey | undefined {
    if (!this.listening) return undefined;
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry;
  }

  /** Where a lookup starts: `offer` caches its result only if no revocation arrived since. */
  mark(): number {
    return this.generation;
  }

  offer(hash: string, key: CachedApiKey, mark: number): void {
    if (!this.listening || mark !== this.generation) return;
    this.entries.set(hash, { ...key, expiresAt: Date.now() + this.ttlMs });
  }

  /** This key is revoked (here, or NOTIFY says so): it is never served from here again. */
  forget(keyId: string): void {
    this.generation += 1;
    for (const [hash, entry] of this.entries) if (entry.id === keyId) this.entries.delete(hash);
  }

  private clear(): void {
    this.generation += 1;
    this.entries.clear();
  }

  private async listen(): Promise<void> {
    if (!this.running) return;
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'waybill-api-key-listener' });
    client.on('notification', (message) => {
      if (message.channel === API_KEY_CHANNEL && message.payload) this.forget(message.payload);
    });
    client.on('error', () => undefined);
    client.on('end', () => {
      if (this.listener !== client) return;
      this.listener = null;
      this.listening = false;
      this.clear();
      if (this.running) setTimeout(() => void this.listen(), 1_000).unref();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${API_KEY_CHANNEL}`);
      if (!this.running) {
        await client.end();
        return;
      }
      this.listener = client;
      // Whatever was cached before a drop may have been revoked meanwhile.
      this.clear();
      this.listening = true;
    } catch (error) {
      this.logger.warn(`LISTEN ${API_KEY_CHANNEL} failed, API keys are looked up on every request: ${String(error)}`);
      await client.end().catch(() => undefined);
      if (this.running) setTimeout(() => void this.listen(), 1_000).unref();
    }
  }
}
