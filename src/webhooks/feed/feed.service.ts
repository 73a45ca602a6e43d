import { ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../config/config.js';
import { conflict, fieldError } from '../../common/errors.js';
import { notFound } from '../../common/ids.js';
import { DEFAULT_PAGE_SIZE } from '../../common/pagination.js';
import { queryRows } from '../../database/sql.js';
import { TransactionRunner } from '../../database/transaction.js';
import type { TenantContext } from '../../tenancy/tenant-context.js';
import { FeedSignal } from '../engine/delivery-signal.js';
import { FeedTokenStore, type FeedTokenView } from './feed-token.store.js';
import { DeliveryRepository } from '../deliveries/delivery.repository.js';
import type { FeedRow } from '../deliveries/delivery.rows.js';
import { ControlNumbers } from '../formats/control-numbers.js';
import { renderForSubscription, TransformError } from '../formats/payload-renderer.js';
import { runtimeOf } from '../subscriptions/webhook-runtime.js';
import type { Webhook } from '../subscriptions/webhook.entity.js';
import { WebhooksService } from '../subscriptions/webhooks.service.js';

/** One item of a feed: the envelope itself for the envelope format, the rendered body otherwise. */
export type FeedItem =
  | Record<string, unknown>
  | { id: string; type: string; contentType: string; body: string }
  | { id: string; type: string; contentType: null; body: null; transformError: string };

export interface FeedPage {
  data: FeedItem[];
  nextCursor: string;
}

/** A page ends once its items weigh this much (one item at least)... */
export const FEED_PAGE_BYTES = 4 * 1024 * 1024;
/** ...or once rendering them has taken this long. */
export const FEED_PAGE_RENDER_MS = 5_000;

/** What an item adds to a page: its rendered body, or the envelope it is. */
function itemBytes(item: FeedItem, row: FeedRow): number {
  return typeof item.body === 'string' ? item.body.length : row.body.length;
}

/** A reader that is waiting re-reads this often, so commits of other instances reach it too. */
const LONG_POLL_RECHECK_MS = 500;

/**
 * Pull feeds for ERPs that cannot take inbound calls. A pull subscription's deliveries are
 * created like any other (same types, filters, version and format) but never pushed: each gets
 * a position in its feed, in commit order. A read answers what waits after a position; an
 * acknowledgement marks everything up to a position delivered (trigger `pull`), and until then
 * the same items are served again.
 */
@Injectable()
export class FeedService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionRunner,
    private readonly webhooks: WebhooksService,
    private readonly signal: FeedSignal,
    @Inject(DeliveryRepository) private readonly deliveries: DeliveryRepository,
    private readonly controlNumbers: ControlNumbers,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly feedTokens: FeedTokenStore,
  ) {}

  feedUrl(webhookId: string): string {
    return `${this.config.publicUrl}/v1/feeds/${webhookId}`;
  }

  /** A token that reads and acknowledges this one feed, shown once (stored hashed), minted by an API key. */
  async issueToken(caller: TenantContext, webhookId: string, ttlSeconds: number | null) {
    if (!caller.apiKeyId) throw new ForbiddenException('feed tokens are minted with an API key');
    const webhook = await this.webhooks.find(caller.tenantId, webhookId);
    const pushed = conflict(`webhook ${webhookId} is pushed to; set deliveryMode: "pull" before issuing a feed token`);
    if (webhook.deliveryMode !== 'pull') throw pushed;
    const minted = await this.feedTokens.mint(caller.tenantId, webhookId, caller.apiKeyId, ttlSeconds);
    // Moved to push (or deleted) while this was minting.
    if (!minted) throw pushed;
    return {
      id: minted.id,
      token: minted.token,
      webhookId,
      feedUrl: this.feedUrl(webhookId),
      createdAt: minted.createdAt,
      expiresAt: minted.expiresAt,
    };
  }

  /** The feed's live tokens (never their values). */
  async listTokens(tenantId: string, webhookId: string): Promise<{ data: FeedTokenView[]; nextCursor: null }> {
    await this.webhooks.find(tenantId, webhookId);
    return { data: await this.feedTokens.list(tenantId, webhookId), nextCursor: null };
  }

  /** Revokes one token at once: its next call answers 401. */
  async revokeToken(tenantId: string, webhookId: string, tokenId: string): Promise<void> {
    await this.webhooks.find(tenantId, webhookId);
    if (!(await this.feedTokens.revoke(tenantId, webhookId, tokenId))) throw notFound('feed token', tokenId);
  }

  async read(
    caller: TenantContext,
    webhookId: string,
    query: { cursor?: string; limit?: number; wait?: number },
  ): Promise<FeedPage> {
    const webhook = await this.feed(caller, webhookId);
    const after = query.cursor ?? '0';
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const deadline = Date.now() + (query.wait ?? 0) * 1000;
    for (;;) {
      const rows = await this.deliveries.readFeed(webhook.id, after, limit);
      if (rows.length > 0) {
        // A long poll may have waited past a revocation of the credential it started with.
        if (query.wait && caller.stillValid && !(await caller.stillValid()))
          throw new UnauthorizedException('the credential of this long poll was revoked or expired while it waited');
        // A page is assembled in the service's memory and each item may render to 1 MB, or take
        // the sandbox's deadline: it ends at a size and a rendering time (one item at least), and
        // the next read goes on from its cursor.
        const data: FeedItem[] = [];
        let bytes = 0;
        let position = rows[0].position;
        const started = Date.now();
        for (const row of rows) {
          const item = await this.render(webhook, row);
          data.push(item);
          position = row.position;
          bytes += itemBytes(item, row);
          if (bytes >= FEED_PAGE_BYTES || Date.now() - started >= FEED_PAGE_RENDER_MS) break;
        }
        return { data, nextCursor: position };
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      await this.signal.next(webhook.id, Math.min(remaining, LONG_POLL_RECHECK_MS));
    }
    const [{ acked }] = await queryRows<{ acked: string }>(
      this.dataSource,
      `SELECT feed_acked::text AS acked FROM webhook WHERE id = $1`,
      [webhook.id],
    );
    return { data: [], nextCursor: acked };
  }

  /** Everything up to `cursor` is processed: those deliveries become delivered, each with a `pull` attempt. */
  async ack(caller: TenantContext, webhookId: string, cursor: string) {
    await this.feed(caller, webhookId);
    return this.transactions.run(async (tx) => {
      const [webhook] = await queryRows<{ head: string; acked: string }>(
        tx.manager,
        `SELECT feed_head::text AS head, feed_acked::text AS acked FROM webhook WHERE id = $1 FOR NO KEY UPDATE`,
        [webhookId],
      );
      if (BigInt(cursor) > BigInt(webhook.head))
        throw fieldError('cursor', `is past the end of the feed (its last position is ${webhook.head})`);
      if (BigInt(cursor) <= BigInt(webhook.acked)) return { acknowledged: 0, cursor: webhook.acked };
      const acknowledged = await this.deliveries.acknowledgeFeed(tx, webhookId, cursor, this.feedUrl(webhookId));
      await tx.manager.query(`UPDATE webhook SET feed_acked = $2::bigint, last_success_at = now() WHERE id = $1`, [
        webhookId,
        cursor,
      ]);
      return { acknowledged, cursor };
    });
  }

  /** The feed a caller may read: its tenant's pull subscription, and with a feed token only that one. */
  private async feed(caller: TenantContext, webhookId: string): Promise<Webhook> {
    if (caller.feedWebhookId && caller.feedWebhookId !== webhookId) throw notFound('feed', webhookId);
    const webhook = await this.webhooks.find(caller.tenantId, webhookId);
    if (webhook.deliveryMode !== 'pull')
      throw conflict(`webhook ${webhookId} is pushed to, not read as a feed; set deliveryMode: "pull" to read it here`);
    return webhook;
  }

  /** The item as the subscription's version and format render it (EDI items take fresh control numbers). */
  private async render(webhook: Webhook, row: FeedRow): Promise<FeedItem> {
    try {
      const rendered = await renderForSubscription(runtimeOf(webhook), row.body, row.bodyVersion, {
        nextControlNumber: () => this.controlNumbers.next(webhook.id),
      });
      if (webhook.payloadFormat === 'envelope') return JSON.parse(rendered.body) as Record<string, unknown>;
      return { id: row.eventId, type: row.eventType, contentType: rendered.contentType, body: rendered.body };
    } catch (error) {
      if (!(error instanceof TransformError)) throw error;
      return { id: row.eventId, type: row.eventType, contentType: null, body: null, transformError: error.message };
    }
  }
}
