import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type pg from 'pg';
import { DataSource, IsNull, type Repository } from 'typeorm';
import { notFound } from '../common/ids.js';
import { pgPool, prepared } from '../database/sql.js';
import { API_KEY_CHANNEL, ApiKeyCache } from './api-key-cache.js';
import { ApiKey } from './api-key.entity.js';
import { generateApiKey, hashApiKey, PORTAL_TOKEN_PREFIX } from './api-key-secret.js';
import { BearerCredentials } from './bearer-credentials.js';
import { PortalService } from './portal.service.js';
import { Tenant } from './tenant.entity.js';
import type { TenantContext } from './tenant-context.js';

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const present = (key: ApiKey): ApiKeyView => ({
  id: key.id,
  name: key.name,
  prefix: key.keyPrefix,
  createdAt: key.createdAt.toISOString(),
  lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
});

/** Touch last-used at most this often, so authentication stays one read per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

@Injectable()
export class TenancyService {
  private readonly logger = new Logger(TenancyService.name);

  constructor(
    @InjectRepository(Tenant) private readonly tenants: Repository<Tenant>,
    @InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>,
    private readonly portal: PortalService,
    private readonly credentials: BearerCredentials,
    private readonly cache: ApiKeyCache,
    dataSource: DataSource,
  ) {
    this.pool = pgPool(dataSource);
  }

  private readonly pool: pg.Pool;

  async createTenant(
    name: string,
  ): Promise<{ tenant: { id: string; name: string; createdAt: string }; apiKey: string }> {
    return this.tenants.manager.transaction(async (manager) => {
      const tenant = await manager.save(manager.create(Tenant, { name }));
      const { key } = await this.insertKey(manager.getRepository(ApiKey), tenant.id, 'default');
      return { tenant: { id: tenant.id, name: tenant.name, createdAt: tenant.createdAt.toISOString() }, apiKey: key };
    });
  }

  async countTenants(): Promise<number> {
    return this.tenants.count();
  }

  async createKey(
    tenantId: string,
    name: string,
  ): Promise<{ id: string; name: string; key: string; createdAt: string }> {
    const { row, key } = await this.insertKey(this.keys, tenantId, name);
    return { id: row.id, name: row.name, key, createdAt: row.createdAt.toISOString() };
  }

  async listKeys(tenantId: string): Promise<{ data: ApiKeyView[]; nextCursor: null }> {
    const rows = await this.keys.find({
      where: { tenantId, revokedAt: IsNull() },
      order: { createdAt: 'DESC', id: 'DESC' },
    });
    return { data: rows.map(present), nextCursor: null };
  }

  /** The NOTIFY goes out with the commit: other instances drop the key from their caches. */
  async revokeKey(tenantId: string, id: string): Promise<void> {
    const { rows } = await this.pool.query(
      `WITH revoked AS (
         UPDATE api_key SET revoked_at = now() WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL RETURNING id
       )
       SELECT id, pg_notify($3, id::text) FROM revoked`,
      [id, tenantId, API_KEY_CHANNEL],
    );
    if (rows.length === 0) throw notFound('API key', id);
    this.cache.forget(id);
  }

  /** The tenant a presented key belongs to, or undefined for an unknown or revoked key. */
  async authenticate(presented: string): Promise<TenantContext | undefined> {
    if (presented.startsWith(PORTAL_TOKEN_PREFIX)) return this.portal.authenticate(presented);
    const issuedElsewhere = this.credentials.checkFor(presented);
    if (issuedElsewhere) return issuedElsewhere(presented);
    const hash = hashApiKey(presented);
    let key = this.cache.get(hash);
    if (!key) {
      const mark = this.cache.mark();
      const { rows } = await this.pool.query<{ id: string; tenant_id: string; last_used_at: Date | null }>(
        prepared('SELECT id, tenant_id, last_used_at FROM api_key WHERE key_hash = $1 AND revoked_at IS NULL', [hash]),
      );
      if (rows.length === 0) return undefined;
      key = { id: rows[0].id, tenantId: rows[0].tenant_id, lastUsedAt: rows[0].last_used_at };
      this.cache.offer(hash, key, mark);
    }
    if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      key.lastUsedAt = new Date();
      const id = key.id;
      this.pool.query('UPDATE api_key SET last_used_at = now() WHERE id = $1', [id]).catch((error: unknown) => {
        this.logger.warn(`could not record the last use of API key ${id}: ${String(error)}`);
      });
    }
    const keyId = key.id;
    return { tenantId: key.tenantId, apiKeyId: keyId, stillValid: () => this.isKeyAlive(keyId) };
  }

  private async isKeyAlive(id: string): Promise<boolean> {
    const { rows } = await this.pool.query('SELECT 1 FROM api_key WHERE id = $1 AND revoked_at IS NULL', [id]);
    return rows.length > 0;
  }

  private async insertKey(repository: Repository<ApiKey>, tenantId: string, name: string) {
    const { key, hash, prefix } = generateApiKey();
    const row = await repository.save(repository.create({ tenantId, name, keyHash: hash, keyPrefix: prefix }));
    return { row, key };
  }
}
