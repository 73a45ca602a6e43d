import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { fieldError } from '../../common/errors.js';
import { notFound } from '../../common/ids.js';
import { catalogEntry } from '../../events/event-catalog.js';
import type { EventType } from '../../events/event-types.js';
import { queryRows } from '../../database/sql.js';
import { envelopeColumns, envelopeFromRow } from '../../events/outbox.service.js';
import { WebhooksService } from '../subscriptions/webhooks.service.js';
import { API_VERSION } from '../../events/event-types.js';
import {
  type PayloadFormat,
  payloadOptionsProblems,
  type PayloadOptions,
  type PayloadSettings,
  renderForSubscription,
  TransformError,
} from './payload-renderer.js';
import { RequestComposer, USER_AGENT } from '../transport/request-composer.js';
import { runtimeOf } from '../subscriptions/webhook-runtime.js';

export interface PreviewSource {
  eventId?: string;
  eventType?: EventType;
}

export interface Preview {
  body: string;
  contentType: string;
  headers: Record<string, string>;
}

/**
 * What a subscription would send for an event: the exact body (rendered by the same code as a
 * push), its content type and the headers. For a saved subscription the headers are signed with
 * its secret now; custom header values show as [redacted].
 */
/** An event row as `envelopeColumns` selects it. */
interface EnvelopeColumns {
  ev_id: string;
  ev_type: string;
  ev_api_version: string;
  ev_created_at: Date;
  ev_tenant_id: string;
  ev_sequence: string;
  ev_data: string;
}

@Injectable()
export class PreviewService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly webhooks: WebhooksService,
    private readonly composer: RequestComposer,
  ) {}

  async forDraft(
    tenantId: string,
    draft: {
      apiVersion?: string;
      payloadFormat?: PayloadFormat;
      payloadOptions?: unknown;
      headers?: Record<string, string>;
    },
    source: PreviewSource,
  ): Promise<Preview> {
    const format = draft.payloadFormat ?? 'envelope';
    const problems = payloadOptionsProblems(format, draft.payloadOptions);
    if (problems.length) throw fieldError(problems[0].field, problems[0].message);
    const { id, body: envelope, version } = await this.envelope(tenantId, source);
    const settings = {
      tenantId,
      apiVersion: draft.apiVersion ?? API_VERSION,
      payloadFormat: format,
      payloadOptions: (draft.payloadOptions ?? null) as PayloadOptions,
    };
    const rendered = await this.render(settings, envelope, version);
    const headers: Record<string, string> = {
      'content-type': rendered.contentType,
      'user-agent': USER_AGENT,
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': "v1,<HMAC-SHA256 with the subscription's secret, made when sent>",
    };
    for (const name of Object.keys(draft.headers ?? {})) headers[name.toLowerCase()] = '[redacted]';
    return { body: rendered.body, contentType: rendered.contentType, headers };
  }

  async forSubscription(tenantId: string, webhookId: string, source: PreviewSource): Promise<Preview> {
    const webhook = await this.webhooks.find(tenantId, webhookId);
    const { id, body: envelope, version } = await this.envelope(tenantId, source);
    const rendered = await this.render(webhook, envelope, version);
    const { auditHeaders } = this.composer.compose(
      runtimeOf(webhook),
      id,
      rendered.body,
      new Date(),
      rendered.contentType,
    );
    return { body: rendered.body, contentType: rendered.contentType, headers: auditHeaders };
  }

  private async render(settings: PayloadSettings, envelope: string, version: string) {
    try {
      return await renderForSubscription(settings, envelope, version);
    } catch (error) {
      if (error instanceof TransformError) throw fieldError('payloadOptions.expression', error.message);
      throw error;
    }
  }

  /** A stored event of the tenant, byte for byte as pushed, or a catalog example. */
  private async envelope(
    tenantId: string,
    source: PreviewSource,
  ): Promise<{ id: string; body: string; version: string }> {
    if (source.eventId && source.eventType) throw fieldError('eventId', 'give eventId or eventType, not both');
    if (source.eventId) {
      const [row] = await queryRows<EnvelopeColumns>(
        this.dataSource,
        `SELECT ${envelopeColumns('e')} FROM event e WHERE e.tenant_id = $1 AND e.id = $2`,
        [tenantId, source.eventId],
      );
      if (!row) throw notFound('event', source.eventId);
      return { id: row.ev_id, version: row.ev_api_version, body: envelopeFromRow(row)! };
    }
    const example = catalogEntry(source.eventType ?? 'webhook.test').example;
    return { id: example.id, body: JSON.stringify(example), version: example.apiVersion };
  }
}
