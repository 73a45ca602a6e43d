import { Inject, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import { Cron, CronExpression } from '@nestjs/schedule';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { affectedRows, queryRows } from '../database/sql.js';
import { generatePrefixedSecret, hashApiKey, PORTAL_TOKEN_PREFIX } from './api-key-secret.js';
import type { TenantContext } from './tenant-context.js';

/** The one-time link's secret; it is never a bearer token by itself. */
const LINK_PREFIX = 'wbl_';
export const DEFAULT_PORTAL_TTL_SECONDS = 3600;
/** A link not opened within this long is refused (or before the session's end, if sooner). */
export const PORTAL_LINK_WINDOW_SECONDS = 600;
/** Expired sessions are kept this long (for a clear "expired" answer), then pruned. */
const KEEP_EXPIRED_MS = 24 * 3600 * 1000;

export interface PortalSessionCreated {
  url: string;
  expiresAt: string;
}

export interface PortalSessionRedeemed {
  token: string;
  readOnly: boolean;
  expiresAt: string;
}

/**
 * Portal sessions let the host TMS open /settings for a tenant admin without handing the browser
 * an API key: the TMS asks for a one-time link; the screen redeems the link once for a short-lived
 * session token, read-only if asked.
 */
@Injectable()
export class PortalService {
  private readonly logger = new Logger(PortalService.name);

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(
    caller: TenantContext,
    options: { readOnly?: boolean; ttlSeconds?: number },
  ): Promise<PortalSessionCreated> {
    const link = generatePrefixedSecret(LINK_PREFIX);
    const ttlSeconds = options.ttlSeconds ?? DEFAULT_PORTAL_TTL_SECONDS;
    const [row] = await queryRows<{ expires_at: Date }>(
      this.dataSource,
      `INSERT INTO portal_session (tenant_id, api_key_id, read_only, link_hash, expires_at)
       VALUES ($1, $2, $3, $4, now() + $5 * interval '1 second') RETURNING expires_at`,
      [caller.tenantId, caller.apiKeyId, options.readOnly ?? false, link.hash, ttlSeconds],
    );
    return {
      url: `${this.config.publicUrl}/settings?portal=${encodeURIComponent(link.secret)}`,
      expiresAt: row.expires_at.toISOString(),
    };
  }

  /**
   * Exchanges a link for the session token, once: a second redemption, a late one (after the link
   * window or the session's end) and one whose API key has been revoked are refused.
   */
  async redeem(code: string): Promise<PortalSessionRedeemed> {
    const token = generatePrefixedSecret(PORTAL_TOKEN_PREFIX);
    const [row] = await queryRows<{ read_only: boolean; expires_at: Date }>(
      this.dataSource,
      `UPDATE portal_session s SET redeemed_at = now(), token_hash = $2
         FROM api_key k
        WHERE s.link_hash = $1 AND s.redeemed_at IS NULL AND s.expires_at > now()
          AND s.created_at > now() - $3 * interval '1 second'
          AND k.id = s.api_key_id AND k.revoked_at IS NULL
        RETURNING s.read_only, s.expires_at`,
      [hashApiKey(code), token.hash, PORTAL_LINK_WINDOW_SECONDS],
    );
    if (!row)
      throw new UnauthorizedException(
        'this settings link has expired or was already used: open the settings from the TMS again',
      );
    return { token: token.secret, readOnly: row.read_only, expiresAt: row.expires_at.toISOString() };
  }

  /** The tenant a session token belongs to while it lasts and the key that opened it is not revoked. */
  async authenticate(token: string): Promise<TenantContext | undefined> {
    const [row] = await queryRows<{ id: string; tenant_id: string; read_only: boolean }>(
      this.dataSource,
      `SELECT s.id, s.tenant_id, s.read_only FROM portal_session s JOIN api_key k ON k.id = s.api_key_id
        WHERE s.token_hash = $1 AND s.expires_at > now() AND k.revoked_at IS NULL`,
      [hashApiKey(token)],
    );
    return row
      ? {
          tenantId: row.tenant_id,
          apiKeyId: null,
          portal: { sessionId: row.id, readOnly: row.read_only },
          stillValid: () => this.isSessionAlive(row.id),
        }
      : undefined;
  }

  private async isSessionAlive(id: string): Promise<boolean> {
    const rows = await queryRows(
      this.dataSource,
      `SELECT 1 FROM portal_session s JOIN api_key k ON k.id = s.api_key_id
        WHERE s.id = $1 AND s.expires_at > now() AND k.revoked_at IS NULL`,
      [id],
    );
    return rows.length > 0;
  }

  /** Ends a session early (the screen's Sign out). */
  async end(sessionId: string): Promise<void> {
    await affectedRows(
      this.dataSource,
      `UPDATE portal_session SET expires_at = now() WHERE id = $1 AND expires_at > now()`,
      [sessionId],
    );
  }

  @Cron(CronExpression.EVERY_HOUR, { name: 'portal-session-retention' })
  async prune(): Promise<number> {
    if (this.config.role === 'worker') return 0;
    const count = await affectedRows(
      this.dataSource,
      `DELETE FROM portal_session WHERE expires_at < now() - $1 * interval '1 millisecond'`,
      [KEEP_EXPIRED_MS],
    );
    if (count) this.logger.log(`pruned ${count} expired portal sessions`);
    return count;
  }
}
