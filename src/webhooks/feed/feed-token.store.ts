import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { affectedRows, queryRows } from '../../database/sql.js';
import { generatePrefixedSecret, hashApiKey } from '../../tenancy/api-key-secret.js';
import { BearerCredentials } from '../../tenancy/bearer-credentials.js';

/** Feed tokens look different from API keys, so a glance (and the guard) tells them apart. */
export const FEED_TOKEN_PREFIX = 'wbf_';

export interface FeedTokenView {
  id: string;
  webhookId: string;
  prefix: string;
  apiKeyId: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

/** Touch last-used at most this often, so authentication stays one read per request. */
const LAST_USED_RESOLUTION = '1 minute';

/**
 * Every statement on `feed_token`. A token is alive while it is not revoked, not expired, the
 * API key that minted it is not revoked, and its subscription exists and is a pull feed.
 */
const ALIVE = `t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())
  AND k.revoked_at IS NULL AND w.deleted_at IS NULL AND w.delivery_mode = 'pull'`;
const FROM = `feed_token t JOIN api_key k ON k.id = t.api_key_id JOIN webhook w ON w.id = t.webhook_id`;

/** A `feed_token` row as the statements below select it (never the hash). */
interface FeedTokenRow {
  id: string;
  webhook_id: string;
  api_key_id: string;
  prefix: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

const view = (row: FeedTokenRow): FeedTokenView => ({
  id: row.id,
  webhookId: row.webhook_id,
  prefix: row.prefix,
  apiKeyId: row.api_key_id,
  createdAt: row.created_at.toISOString(),
  expiresAt: row.expires_at ? row.expires_at.toISOString() : null,
  lastUsedAt: row.last_used_at ? row.last_used_at.toISOString() : null,
});

@Injectable()
export class FeedTokenStore implements OnModuleInit {
  private readonly logger = new Logger(FeedTokenStore.name);

  constructor(
    private readonly dataSource: DataSource,
    private readonly credentials: BearerCredentials,
  ) {}

  /** Tenancy's guard asks this store about `wbf_` tokens: a token opens its one feed. */
  onModuleInit(): void {
    this.credentials.register(FEED_TOKEN_PREFIX, async (presented) => {
      const feed = await this.authenticate(presented);
      return feed
        ? {
            tenantId: feed.tenantId,
            apiKeyId: null,
            feedWebhookId: feed.webhookId,
            stillValid: () => this.isAlive(feed.tokenId),
          }
        : undefined;
    });
  }

  /**
   * A new token for one feed, minted by an API key; the value is returned once and stored hashed.
   * Undefined when the subscription is not (or no longer) a pull feed. The subscription's row is
   * key-share locked: a move to push that is committing (it holds the row and revokes the feed's
   * tokens) is waited for and seen, so no token is minted behind its revocation to come alive on
   * a later move back to pull.
   */
  async mint(
    tenantId: string,
    webhookId: string,
    apiKeyId: string,
    ttlSeconds: number | null,
  ): Promise<(FeedTokenView & { token: string }) | undefined> {
    const { secret: token, hash } = generatePrefixedSecret(FEED_TOKEN_PREFIX);
    const prefix = token.slice(0, 11);
    const [row] = await queryRows<FeedTokenRow>(
      this.dataSource,
      `INSERT INTO feed_token (tenant_id, webhook_id, api_key_id, token_hash, prefix, expires_at)
       SELECT w.tenant_id, w.id, $3, $4, $5,
              CASE WHEN $6::int IS NULL THEN NULL ELSE now() + make_interval(secs => $6::int) END
         FROM webhook w
        WHERE w.id = $2 AND w.tenant_id = $1 AND w.delivery_mode = 'pull' AND w.deleted_at IS NULL
          FOR KEY SHARE
       RETURNING id, webhook_id, api_key_id, prefix, created_at, expires_at, last_used_at`,
      [tenantId, webhookId, apiKeyId, hash, prefix, ttlSeconds],
    );
    return row ? { ...view(row), token } : undefined;
  }

  /** The live tokens of one feed, newest first (never their values). */
  async list(tenantId: string, webhookId: string): Promise<FeedTokenView[]> {
    const rows = await queryRows<FeedTokenRow>(
      this.dataSource,
      `SELECT t.id, t.webhook_id, t.api_key_id, t.prefix, t.created_at, t.expires_at, t.last_used_at
         FROM ${FROM} WHERE t.tenant_id = $1 AND t.webhook_id = $2 AND ${ALIVE}
        ORDER BY t.created_at DESC, t.id DESC`,
      [tenantId, webhookId],
    );
    return rows.map(view);
  }

  /** Revokes one live token; false when there is none by that id on that feed. */
  async revoke(tenantId: string, webhookId: string, tokenId: string): Promise<boolean> {
    const affected = await affectedRows(
      this.dataSource,
      `UPDATE feed_token SET revoked_at = now()
        WHERE tenant_id = $1 AND webhook_id = $2 AND id = $3 AND revoked_at IS NULL
          AND (expires_at IS NULL OR expires_at > now())`,
      [tenantId, webhookId, tokenId],
    );
    return affected > 0;
  }

  /** Revokes every token of a feed (the subscription is deleted or moves to push), in the caller's transaction. */
  async revokeAllOf(manager: EntityManager, webhookId: string): Promise<void> {
    await manager.query(`UPDATE feed_token SET revoked_at = now() WHERE webhook_id = $1 AND revoked_at IS NULL`, [
      webhookId,
    ]);
  }

  /** The tenant and feed a presented token opens, or undefined when it is unknown or no longer alive. */
  async authenticate(presented: string): Promise<{ tokenId: string; tenantId: string; webhookId: string } | undefined> {
    const [row] = await queryRows<{ id: string; tenant_id: string; webhook_id: string; fresh: boolean | null }>(
      this.dataSource,
      `SELECT t.id, t.tenant_id, t.webhook_id, t.last_used_at > now() - interval '${LAST_USED_RESOLUTION}' AS fresh
         FROM ${FROM} WHERE t.token_hash = $1 AND ${ALIVE}`,
      [hashApiKey(presented)],
    );
    if (!row) return undefined;
    if (!row.fresh) {
      this.dataSource
        .query(`UPDATE feed_token SET last_used_at = now() WHERE id = $1`, [row.id])
        .catch((error: unknown) =>
          this.logger.warn(`could not record the last use of feed token ${row.id}: ${String(error)}`),
        );
    }
    return { tokenId: row.id, tenantId: row.tenant_id, webhookId: row.webhook_id };
  }

  /** Whether a token is still alive (a long poll asks before answering). */
  async isAlive(tokenId: string): Promise<boolean> {
    const rows = await queryRows(this.dataSource, `SELECT 1 FROM ${FROM} WHERE t.id = $1 AND ${ALIVE}`, [tokenId]);
    return rows.length > 0;
  }
}
