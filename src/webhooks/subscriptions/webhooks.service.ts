import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '../../common/clock.js';
import { type MaintenanceWindow, normalizeWindows, windowState } from './maintenance-windows.js';
import { DataSource } from 'typeorm';
import { parseDuration } from '../../common/durations.js';
import { FieldValidationException, fieldError } from '../../common/errors.js';
import {
  EDI_FORMATS,
  type PayloadFormat,
  type PayloadOptions,
  payloadOptionsProblems,
  type PayloadSettings,
} from '../formats/payload-renderer.js';
import { trialRenderProblem } from '../formats/trial-render.js';
import { notFound } from '../../common/ids.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, type Page, toPage } from '../../common/pagination.js';
import { TransactionRunner, type Tx, writeBack } from '../../database/transaction.js';
import { API_VERSION } from '../../events/event-types.js';
import { DeliverySignal } from '../engine/delivery-signal.js';
import { healthChangeEvent, type SubscriptionIdentity } from '../engine/operational-events.js';
import { type DomainEvent, OutboxService } from '../../events/outbox.service.js';
import { DeliveryRepository } from '../deliveries/delivery.repository.js';
import { generateSigningSecret } from '../transport/signer.js';
import { UrlGuard } from '../transport/url-guard.js';
import { SECRET_BOX } from '../webhooks.tokens.js';
import { type SecretBox, webhookField } from '../transport/secret-box.js';
import { FeedTokenStore } from '../feed/feed-token.store.js';
import { Webhook } from './webhook.entity.js';
import { webhookView, type WebhookView } from './webhook-view.js';
import type { CreateWebhookDto, ListWebhooksQuery, UpdateWebhookDto } from './webhooks.dto.js';
import {
  type AuthSettings,
  authProblems,
  authView,
  checkTls,
  mergeStoredSecrets,
  type Problem,
  sameOrigin,
} from './receiver-auth.js';

const identityOf = (webhook: Webhook): SubscriptionIdentity => ({
  id: webhook.id,
  tenantId: webhook.tenantId,
  name: webhook.name,
  url: webhook.url,
});

/** How long a rotated-out secret keeps signing beside the new one, unless expired at once. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000;

export const DEFAULTS = { timeoutMs: 10_000, maxConcurrency: 32 } as const;

/** The payload options as stored, or a 400 naming what is wrong (a JSONata error with its position). */
function checkPayload(format: PayloadFormat, options: unknown): PayloadOptions {
  const problems = payloadOptionsProblems(format, options);
  if (problems.length > 0) throw new FieldValidationException(problems);
  return (options ?? null) as PayloadOptions;
}

/** A JSONata mapping that fails on a catalog example of its types is refused on save (400). */
async function checkTrialRender(settings: PayloadSettings, eventTypes: string[]): Promise<void> {
  const problem = await trialRenderProblem(settings, eventTypes);
  if (problem) throw fieldError('payloadOptions.expression', problem);
}

/** EDI formats carry only shipment status and tracking events; `*` means those. */
function typesForFormat(format: PayloadFormat, eventTypes: string[]): string[] {
  const edi = EDI_FORMATS[format];
  if (!edi) return eventTypes;
  if (eventTypes.includes('*')) return [...edi.eventTypes];
  const refused = eventTypes.filter((t) => !edi.eventTypes.includes(t));
  if (refused.length)
    throw fieldError(
      'eventTypes',
      `${edi.name} carries only ${edi.eventTypes.join(' and ')}; not ${refused.join(', ')}`,
    );
  return eventTypes;
}

const toSchedule = (schedule: string[] | null | undefined): number[] | null =>
  schedule ? schedule.map((d) => parseDuration(d)!) : null;

@Injectable()
export class WebhooksService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly transactions: TransactionRunner,
    private readonly guard: UrlGuard,
    @Inject(SECRET_BOX) private readonly box: SecretBox,
    private readonly signal: DeliverySignal,
    @Inject(DeliveryRepository) private readonly deliveries: DeliveryRepository,
    private readonly outbox: OutboxService,
    private readonly feedTokens: FeedTokenStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async create(tenantId: string, dto: CreateWebhookDto): Promise<WebhookView & { secret: string }> {
    const deliveryMode = dto.deliveryMode ?? 'push';
    const url = await this.checkUrlForMode(deliveryMode, dto.url);
    // The id is made here so every sealed value can be bound to its row.
    const id = randomUUID();
    const auth = await this.sealAuth(id, dto.auth ?? { type: 'none' }, null);
    const tls = dto.tls ? this.sealTls(id, dto.tls) : { tlsPublic: null, tlsEncrypted: null };
    const payloadFormat = dto.payloadFormat ?? 'envelope';
    const payloadOptions = checkPayload(payloadFormat, dto.payloadOptions);
    dto.eventTypes = typesForFormat(payloadFormat, dto.eventTypes);
    await checkTrialRender(
      { tenantId, apiVersion: dto.apiVersion ?? API_VERSION, payloadFormat, payloadOptions },
      dto.eventTypes,
    );
    const secret = generateSigningSecret();
    const now = new Date();
    const webhook = this.dataSource.manager.create(Webhook, {
      id,
      tenantId,
      name: dto.name,
      url,
      description: dto.description ?? null,
      eventTypes: [...new Set(dto.eventTypes)],
      filters: dto.filters ?? {},
      headersEncrypted:
        dto.headers && Object.keys(dto.headers).length
          ? this.box.encrypt(JSON.stringify(dto.headers), webhookField(id, 'headers'))
          : null,
      headerNames: Object.keys(dto.headers ?? {}),
      enabled: dto.enabled ?? true,
      paused: dto.paused ?? false,
      ordered: dto.ordered ?? false,
      timeoutMs: dto.timeoutMs ?? DEFAULTS.timeoutMs,
      maxConcurrency: dto.maxConcurrency ?? DEFAULTS.maxConcurrency,
      rateLimitPerSecond: dto.rateLimitPerSecond ?? null,
      retrySchedule: toSchedule(dto.retrySchedule),
      permanentStatuses: [...new Set(dto.permanentStatuses ?? [])].sort((a, b) => a - b),
      ...this.maintenance(dto.maintenanceWindows ?? null),
      apiVersion: dto.apiVersion ?? API_VERSION,
      payloadFormat,
      payloadOptions,
      coalesce: dto.coalesce ?? null,
      deliveryMode,
      ...auth,
      ...tls,
      feedHead: 0,
      feedAcked: 0,
      status: 'healthy',
      disabledReason: null,
      consecutiveFailures: 0,
      failingSince: null,
      lastSuccessAt: null,
      lastFailureAt: null,
      lastFailureReason: null,
      secretEncrypted: this.box.encrypt(secret, webhookField(id, 'secret')),
      previousSecretEncrypted: null,
      previousSecretExpiresAt: null,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    });
    await this.dataSource.manager.insert(Webhook, webhook);
    return { ...webhookView(webhook, this.clock.now()), secret };
  }

  async list(tenantId: string, query: ListWebhooksQuery): Promise<Page<WebhookView>> {
    const limit = query.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeCursor(query.cursor);
    const qb = this.dataSource.manager
      .createQueryBuilder(Webhook, 'w')
      .where('w.tenant_id = :tenantId AND w.deleted_at IS NULL', { tenantId })
      .orderBy('w.created_at', 'DESC')
      .addOrderBy('w.id', 'DESC')
      .limit(limit + 1);
    if (after)
      qb.andWhere('(w.created_at, w.id) < (:key::timestamptz, :afterId::uuid)', { key: after.key, afterId: after.id });
    const rows = await qb.getMany();
    const now = this.clock.now();
    return toPage(
      rows,
      limit,
      (w) => ({ key: w.createdAt.toISOString(), id: w.id }),
      (w) => webhookView(w, now),
    );
  }

  async get(tenantId: string, id: string): Promise<WebhookView> {
    return webhookView(await this.find(tenantId, id), this.clock.now());
  }

  async update(tenantId: string, id: string, dto: UpdateWebhookDto): Promise<WebhookView> {
    if (dto.url) await this.checkUrl(dto.url);
    if (dto.discardHeld && dto.status !== 'healthy') throw fieldError('discardHeld', 'goes with status: "healthy"');
    let release = false;
    const webhook = await this.transactions.run(async (tx) => {
      const webhook = await this.lock(tx, tenantId, id);
      const wasMode = webhook.deliveryMode;
      // Stored credentials were entered for one address: they never follow the endpoint to another origin.
      const storedAuth = this.storedAuth(webhook);
      const moved = Boolean(dto.url) && !sameOrigin(dto.url, webhook.url);
      if (moved && storedAuth && dto.auth === undefined) {
        throw fieldError(
          'auth',
          'the endpoint moves to another origin: send the receiver credentials again (stored ones are never sent to a new address)',
        );
      }
      if (moved && webhook.headersEncrypted && dto.headers === undefined)
        throw fieldError(
          'headers',
          'the endpoint moves to another origin: send the custom headers again, or {} to drop them (stored values are never sent to a new address)',
        );
      if (moved && webhook.tlsEncrypted && dto.tls === undefined)
        throw fieldError(
          'tls',
          'the endpoint moves to another origin: send the client certificate and key again, or null to drop them (a stored key is never used with a new address)',
        );
      if (dto.name !== undefined) webhook.name = dto.name;
      if (dto.url !== undefined) webhook.url = dto.url;
      if (dto.deliveryMode !== undefined) webhook.deliveryMode = dto.deliveryMode;
      if (webhook.deliveryMode === 'push' && !webhook.url) throw fieldError('url', 'is required for push delivery');
      if (dto.auth !== undefined)
        Object.assign(webhook, await this.sealAuth(webhook.id, dto.auth, moved ? null : storedAuth));
      if (dto.tls !== undefined)
        Object.assign(webhook, dto.tls ? this.sealTls(webhook.id, dto.tls) : { tlsPublic: null, tlsEncrypted: null });
      if (dto.description !== undefined) webhook.description = dto.description;
      if (dto.eventTypes !== undefined) webhook.eventTypes = [...new Set(dto.eventTypes)];
      if (dto.filters !== undefined) webhook.filters = dto.filters ?? {};
      if (dto.headers !== undefined) {
        const headers = dto.headers ?? {};
        webhook.headersEncrypted = Object.keys(headers).length
          ? this.box.encrypt(JSON.stringify(headers), webhookField(webhook.id, 'headers'))
          : null;
        webhook.headerNames = Object.keys(headers);
      }
      if (dto.enabled !== undefined) webhook.enabled = dto.enabled;
      if (dto.ordered !== undefined) webhook.ordered = dto.ordered;
      if (dto.timeoutMs !== undefined) webhook.timeoutMs = dto.timeoutMs;
      if (dto.maxConcurrency !== undefined) webhook.maxConcurrency = dto.maxConcurrency;
      if (dto.rateLimitPerSecond !== undefined) webhook.rateLimitPerSecond = dto.rateLimitPerSecond;
      if (dto.retrySchedule !== undefined) webhook.retrySchedule = toSchedule(dto.retrySchedule);
      if (dto.permanentStatuses !== undefined)
        webhook.permanentStatuses = [...new Set(dto.permanentStatuses ?? [])].sort((a, b) => a - b);
      const wasInMaintenance = webhook.inMaintenance;
      if (dto.maintenanceWindows !== undefined) Object.assign(webhook, this.maintenance(dto.maintenanceWindows));
      // A window removed or moved away while under way: the held deliveries are due now.
      if (wasInMaintenance && !webhook.inMaintenance) release = true;
      if (dto.coalesce !== undefined) webhook.coalesce = dto.coalesce;
      if (dto.payloadFormat !== undefined || dto.payloadOptions !== undefined) {
        webhook.payloadFormat = dto.payloadFormat ?? webhook.payloadFormat;
        webhook.payloadOptions = checkPayload(
          webhook.payloadFormat,
          dto.payloadOptions !== undefined
            ? dto.payloadOptions
            : dto.payloadFormat === 'envelope'
              ? null
              : webhook.payloadOptions,
        );
      }
      webhook.eventTypes = typesForFormat(webhook.payloadFormat, webhook.eventTypes);
      if (dto.payloadFormat !== undefined || dto.payloadOptions !== undefined || dto.eventTypes !== undefined)
        await checkTrialRender(webhook, webhook.eventTypes);
      const wasHolding = webhook.paused || webhook.status === 'disabled';
      if (dto.paused !== undefined) webhook.paused = dto.paused;
      let discard = false;
      let recovered: DomainEvent | null = null;
      if (dto.status === 'healthy') {
        discard = webhook.status === 'disabled' && dto.discardHeld === true;
        const before = { ...webhook };
        webhook.status = 'healthy';
        webhook.disabledReason = null;
        webhook.consecutiveFailures = 0;
        webhook.failingSince = null;
        recovered = healthChangeEvent(identityOf(webhook), before, webhook, 're-enabled through the API');
      }
      webhook.updatedAt = new Date();
      await writeBack(tx, Webhook, webhook);
      if (recovered) await this.outbox.record(tx, tenantId, [recovered]);
      if (wasMode !== webhook.deliveryMode) {
        if (webhook.deliveryMode === 'pull') await this.movePendingToFeed(tx, webhook);
        else {
          // A feed's tokens end with the feed: moving back to pull later does not revive them.
          await this.feedTokens.revokeAllOf(tx.manager, webhook.id);
          if (!webhook.paused && webhook.status !== 'disabled') release = await this.movePendingToPush(tx, webhook);
        }
      } else if (webhook.deliveryMode === 'pull') {
        // A feed holds its deliveries whatever the pause and health switches say.
      } else if (discard) {
        await this.deliveries.discardHeld(tx, webhook.id);
      } else if (wasHolding && !webhook.paused && webhook.status !== 'disabled') {
        // Held deliveries (created while paused or disabled) are due as of their creation already:
        // the claim takes them again, oldest first (only those without a due time are moved).
        release = await this.movePendingToPush(tx, webhook);
      }
      return webhook;
    });
    if (release) this.signal.wake();
    return webhookView(webhook, this.clock.now());
  }

  /** Stored windows and whether now is inside one (the engine switches the flag from then on). */
  private maintenance(
    windows: MaintenanceWindow[] | null,
  ): Pick<Webhook, 'maintenanceWindows' | 'inMaintenance' | 'maintenanceChangesAt'> {
    const stored = windows && windows.length > 0 ? normalizeWindows(windows) : null;
    const state = windowState(stored, this.clock.now());
    return { maintenanceWindows: stored, inMaintenance: state.inside, maintenanceChangesAt: state.changesAt };
  }

  /** Soft delete: the audit stays until retention; open deliveries are discarded. */
  async remove(tenantId: string, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      const webhook = await this.lock(tx, tenantId, id);
      const now = new Date();
      await tx.manager.update(Webhook, { id: webhook.id }, { deletedAt: now, updatedAt: now, enabled: false });
      await this.deliveries.discardOpen(tx, webhook.id);
      await this.feedTokens.revokeAllOf(tx.manager, webhook.id);
    });
  }

  async secret(tenantId: string, id: string): Promise<{ secret: string }> {
    const webhook = await this.find(tenantId, id);
    return { secret: this.box.decrypt(webhook.secretEncrypted, webhookField(webhook.id, 'secret')) };
  }

  async rotateSecret(tenantId: string, id: string, expireOldNow: boolean): Promise<{ secret: string }> {
    return this.transactions.run(async (tx) => {
      const webhook = await this.lock(tx, tenantId, id);
      const secret = generateSigningSecret();
      const now = new Date();
      // Sealed values are bound to their field: the outgoing secret is sealed again as the previous one.
      webhook.previousSecretEncrypted = expireOldNow
        ? null
        : this.box.encrypt(
            this.box.decrypt(webhook.secretEncrypted, webhookField(webhook.id, 'secret')),
            webhookField(webhook.id, 'previous_secret'),
          );
      webhook.previousSecretExpiresAt = expireOldNow ? null : new Date(now.getTime() + SECRET_OVERLAP_MS);
      webhook.secretEncrypted = this.box.encrypt(secret, webhookField(webhook.id, 'secret'));
      webhook.updatedAt = now;
      await writeBack(tx, Webhook, webhook);
      return { secret };
    });
  }

  async find(tenantId: string, id: string): Promise<Webhook> {
    const webhook = await this.dataSource.manager.findOne(Webhook, { where: { id, tenantId } });
    if (!webhook || webhook.deletedAt) throw notFound('webhook', id);
    return webhook;
  }

  /**
   * FOR UPDATE, not FOR NO KEY UPDATE: it waits for every fan-out transaction that holds the row
   * (they take KEY SHARE), so the moves of held deliveries below see all of its deliveries, and
   * fan-outs after it see the subscription as this change leaves it.
   */
  private async lock(tx: Tx, tenantId: string, id: string): Promise<Webhook> {
    const webhook = await tx.manager.findOne(Webhook, { where: { id, tenantId }, lock: { mode: 'pessimistic_write' } });
    if (!webhook || webhook.deletedAt) throw notFound('webhook', id);
    return webhook;
  }

  /** Push needs an endpoint; pull has none (a URL given with pull is kept for a later switch to push). */
  private async checkUrlForMode(mode: string, url: string | null | undefined): Promise<string | null> {
    if (!url) {
      if (mode === 'push') throw fieldError('url', 'is required for push delivery');
      return null;
    }
    await this.checkUrl(url);
    return url;
  }

  /** The stored authentication, unsealed (null for none). */
  storedAuth(webhook: Pick<Webhook, 'id' | 'authEncrypted'>): AuthSettings | null {
    return webhook.authEncrypted
      ? (JSON.parse(this.box.decrypt(webhook.authEncrypted, webhookField(webhook.id, 'auth'))) as AuthSettings)
      : null;
  }

  /** Validates `auth` (the token URL through the same guard as endpoints) and seals it. */
  private async sealAuth(
    webhookId: string,
    given: Record<string, unknown>,
    stored: AuthSettings | null,
  ): Promise<Pick<Webhook, 'authType' | 'authPublic' | 'authEncrypted'>> {
    const merged = mergeStoredSecrets(given, stored);
    const problems: Problem[] = authProblems(merged);
    if (problems.length === 0 && merged.type === 'oauth2ClientCredentials') {
      const tokenUrl = merged.tokenUrl as string;
      const check = await this.guard.check(tokenUrl);
      if (!check.ok) problems.push({ field: 'auth.tokenUrl', message: check.reason });
      else if (check.url.protocol !== 'https:' && !this.guard.allowsPrivate)
        problems.push({ field: 'auth.tokenUrl', message: 'must use https' });
    }
    if (problems.length > 0) throw new FieldValidationException(problems);
    const settings = merged as unknown as AuthSettings;
    if (settings.type === 'none') return { authType: 'none', authPublic: null, authEncrypted: null };
    return {
      authType: settings.type,
      authPublic: authView(settings),
      authEncrypted: this.box.encrypt(JSON.stringify(settings), webhookField(webhookId, 'auth')),
    };
  }

  private sealTls(webhookId: string, given: Record<string, unknown>): Pick<Webhook, 'tlsPublic' | 'tlsEncrypted'> {
    const { problems, view } = checkTls(given);
    if (problems.length > 0 || !view) throw new FieldValidationException(problems);
    const { clientCertificatePem, clientKeyPem, caPem } = given as Record<string, string>;
    return {
      tlsPublic: view,
      tlsEncrypted: this.box.encrypt(
        JSON.stringify({ clientCertificatePem, clientKeyPem, caPem }),
        webhookField(webhookId, 'tls'),
      ),
    };
  }

  /**
   * Push → pull: the subscription's waiting deliveries join its feed, oldest first (one in flight
   * finishes as a push). Positions come from the row this transaction has locked.
   */
  private async movePendingToFeed(tx: Tx, webhook: Webhook): Promise<void> {
    const moved = await this.deliveries.moveWaitingToFeed(tx, webhook.id, webhook.feedHead);
    if (moved === 0) return;
    webhook.feedHead += moved;
    await tx.manager.query(`UPDATE webhook SET feed_head = $2 WHERE id = $1`, [webhook.id, webhook.feedHead]);
  }

  /** Deliveries without a due time (a feed's, or held by an older Waybill) become due as of their creation, oldest first. */
  private async movePendingToPush(tx: Tx, webhook: Webhook): Promise<boolean> {
    await this.deliveries.releaseHeld(tx, webhook.id, webhook.ordered);
    return true;
  }

  private async checkUrl(url: string): Promise<void> {
    const check = await this.guard.check(url);
    if (!check.ok) throw fieldError('url', check.reason);
  }
}
