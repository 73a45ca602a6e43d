import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { parseDuration } from '../../common/durations.js';
import { FieldValidationException, fieldError } from '../../common/errors.js';
import { EDI_FORMATS, type PayloadFormat, type PayloadOptions, payloadOptionsProblems } from '../delivery/payload-renderer.js';
import { notFound } from '../../common/ids.js';
import { decodeCursor, DEFAULT_PAGE_SIZE, type Page, toPage } from '../../common/pagination.js';
import { TransactionRunner, type Tx, writeBack } from '../../database/transaction.js';
import { API_VERSION } from '../../events/event-types.js';
import { DeliverySignal } from '../delivery/delivery-signal.js';
import { generateSigningSecret } from '../delivery/signer.js';
import { UrlGuard } from '../delivery/url-guard.js';
import { SECRET_BOX } from '../webhooks.tokens.js';
import type { SecretBox } from './secret-box.js';
import { Webhook } from './webhook.entity.js';
import { webhookView, type WebhookView } from './webhook-view.js';
import type { CreateWebhookDto, ListWebhooksQuery, UpdateWebhookDto } from './webhooks.dto.js';

/** How long a rotated-out secret keeps signing beside the new one, unless expired at once. */
export const SECRET_OVERLAP_MS = 24 * 3_600_000;

export const DEFAULTS = { timeoutMs: 10_000, maxConcurrency: 32 } as const;

/** The payload options as stored, or a 400 naming what is wrong (a JSONata error with its position). */
function checkPayload(format: PayloadFormat, options: unknown): PayloadOptions {
  const problems = payloadOptionsProblems(format, options);
  if (problems.length > 0) throw new FieldValidationException(problems);
  return (options ?? null) as PayloadOptions;
}

/** EDI formats carry only shipment status and tracking events; `*` means those. */
function typesForFormat(format: PayloadFormat, eventTypes: string[]): string[] {
  const edi = EDI_FORMATS[format];
  if (!edi) return eventTypes;
  if (eventTypes.includes('*')) return [...edi.eventTypes];
  const refused = eventTypes.filter((t) => !edi.eventTypes.includes(t));
  if (refused.length) throw fieldError('eventTypes', `${edi.name} carries only ${edi.eventTypes.join(' and ')}; not ${refused.join(', ')}`);
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
  ) {}

  async create(tenantId: string, dto: CreateWebhookDto): Promise<WebhookView & { secret: string }> {
    await this.checkUrl(dto.url);
    const payloadFormat = dto.payloadFormat ?? 'envelope';
    const payloadOptions = checkPayload(payloadFormat, dto.payloadOptions);
    dto.eventTypes = typesForFormat(payloadFormat, dto.eventTypes);
    const secret = generateSigningSecret();
    const now = new Date();
    const webhook = this.dataSource.manager.create(Webhook, {
      tenantId,
      name: dto.name,
      url: dto.url,
      description: dto.description ?? null,
      eventTypes: [...new Set(dto.eventTypes)],
      filters: dto.filters ?? {},
      headersEncrypted: dto.headers && Object.keys(dto.headers).length ? this.box.encrypt(JSON.stringify(dto.headers)) : null,
      headerNames: Object.keys(dto.headers ?? {}),
      enabled: dto.enabled ?? true,
      paused: dto.paused ?? false,
      ordered: dto.ordered ?? false,
      timeoutMs: dto.timeoutMs ?? DEFAULTS.timeoutMs,
      maxConcurrency: dto.maxConcurrency ?? DEFAULTS.maxConcurrency,
      rateLimitPerSecond: dto.rateLimitPerSecond ?? null,
      retrySchedule: toSchedule(dto.retrySchedule),
      apiVersion: dto.apiVersion ?? API_VERSION,
      payloadFormat,
      payloadOptions,
      coalesce: dto.coalesce ?? null,
      status: 'healthy',
      disabledReason: null,
      consecutiveFailures: 0,
      failingSince: null,
      lastSuccessAt: null,
      lastFailureAt: null,
      secretEncrypted: this.box.encrypt(secret),
      previousSecretEncrypted: null,
      previousSecretExpiresAt: null,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
    });
    await this.dataSource.manager.insert(Webhook, webhook);
    return { ...webhookView(webhook), secret };
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
    if (after) qb.andWhere('(w.created_at, w.id) < (:key::timestamptz, :afterId::uuid)', { key: after.key, afterId: after.id });
    const rows = await qb.getMany();
    return toPage(rows, limit, (w) => ({ key: w.createdAt.toISOString(), id: w.id }), webhookView);
  }

  async get(tenantId: string, id: string): Promise<WebhookView> {
    return webhookView(await this.find(tenantId, id));
  }

  async update(tenantId: string, id: string, dto: UpdateWebhookDto): Promise<WebhookView> {
    if (dto.url !== undefined) await this.checkUrl(dto.url);
    if (dto.discardHeld && dto.status !== 'healthy') throw fieldError('discardHeld', 'goes with status: "healthy"');
    let release = false;
    const webhook = await this.transactions.run(async (tx) => {
      const webhook = await this.lock(tx, tenantId, id);
      if (dto.name !== undefined) webhook.name = dto.name;
      if (dto.url !== undefined) webhook.url = dto.url;
      if (dto.description !== undefined) webhook.description = dto.description;
      if (dto.eventTypes !== undefined) webhook.eventTypes = [...new Set(dto.eventTypes)];
      if (dto.filters !== undefined) webhook.filters = dto.filters ?? {};
      if (dto.headers !== undefined) {
        const headers = dto.headers ?? {};
        webhook.headersEncrypted = Object.keys(headers).length ? this.box.encrypt(JSON.stringify(headers)) : null;
        webhook.headerNames = Object.keys(headers);
      }
      if (dto.enabled !== undefined) webhook.enabled = dto.enabled;
      if (dto.ordered !== undefined) webhook.ordered = dto.ordered;
      if (dto.timeoutMs !== undefined) webhook.timeoutMs = dto.timeoutMs;
      if (dto.maxConcurrency !== undefined) webhook.maxConcurrency = dto.maxConcurrency;
      if (dto.rateLimitPerSecond !== undefined) webhook.rateLimitPerSecond = dto.rateLimitPerSecond;
      if (dto.retrySchedule !== undefined) webhook.retrySchedule = toSchedule(dto.retrySchedule);
      if (dto.coalesce !== undefined) webhook.coalesce = dto.coalesce;
      if (dto.payloadFormat !== undefined || dto.payloadOptions !== undefined) {
        webhook.payloadFormat = dto.payloadFormat ?? webhook.payloadFormat;
        webhook.payloadOptions = checkPayload(
          webhook.payloadFormat,
          dto.payloadOptions !== undefined ? dto.payloadOptions : dto.payloadFormat === 'envelope' ? null : webhook.payloadOptions,
        );
      }
      webhook.eventTypes = typesForFormat(webhook.payloadFormat, webhook.eventTypes);
      const wasHolding = webhook.paused || webhook.status === 'disabled';
      if (dto.paused !== undefined) webhook.paused = dto.paused;
      let discard = false;
      if (dto.status === 'healthy') {
        discard = webhook.status === 'disabled' && dto.discardHeld === true;
        webhook.status = 'healthy';
        webhook.disabledReason = null;
        webhook.consecutiveFailures = 0;
        webhook.failingSince = null;
      }
      webhook.updatedAt = new Date();
      await writeBack(tx, Webhook, webhook);
      if (discard) {
        await tx.manager.query(
          `UPDATE delivery SET status = 'discarded', next_attempt_at = NULL, updated_at = now()
            WHERE webhook_id = $1 AND status = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at < now())`,
          [webhook.id],
        );
      } else if (wasHolding && !webhook.paused && webhook.status !== 'disabled') {
        // Held deliveries (created while paused or disabled) become due as of their creation, so the
        // backlog goes out oldest first.
        await tx.manager.query(
          `UPDATE delivery SET next_attempt_at = created_at, updated_at = now() WHERE webhook_id = $1 AND status = 'pending' AND next_attempt_at IS NULL`,
          [webhook.id],
        );
        release = true;
      }
      return webhook;
    });
    if (release) this.signal.wake();
    return webhookView(webhook);
  }

  /** Soft delete: the audit stays until retention; open deliveries are discarded. */
  async remove(tenantId: string, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      const webhook = await this.lock(tx, tenantId, id);
      const now = new Date();
      await tx.manager.update(Webhook, { id: webhook.id }, { deletedAt: now, updatedAt: now, enabled: false });
      await tx.manager.query(
        `UPDATE delivery SET status = 'discarded', next_attempt_at = NULL, lease_expires_at = NULL, leased_by = NULL, updated_at = now()
          WHERE webhook_id = $1 AND status = 'pending'`,
        [webhook.id],
      );
    });
  }

  async secret(tenantId: string, id: string): Promise<{ secret: string }> {
    const webhook = await this.find(tenantId, id);
    return { secret: this.box.decrypt(webhook.secretEncrypted) };
  }

  async rotateSecret(tenantId: string, id: string, expireOldNow: boolean): Promise<{ secret: string }> {
    return this.transactions.run(async (tx) => {
      const webhook = await this.lock(tx, tenantId, id);
      const secret = generateSigningSecret();
      const now = new Date();
      webhook.previousSecretEncrypted = expireOldNow ? null : webhook.secretEncrypted;
      webhook.previousSecretExpiresAt = expireOldNow ? null : new Date(now.getTime() + SECRET_OVERLAP_MS);
      webhook.secretEncrypted = this.box.encrypt(secret);
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

  private async lock(tx: Tx, tenantId: string, id: string): Promise<Webhook> {
    const webhook = await tx.manager.findOne(Webhook, { where: { id, tenantId }, lock: { mode: 'for_no_key_update' } });
    if (!webhook || webhook.deletedAt) throw notFound('webhook', id);
    return webhook;
  }

  private async checkUrl(url: string): Promise<void> {
    const check = await this.guard.check(url);
    if (!check.ok) throw fieldError('url', check.reason);
  }
}
