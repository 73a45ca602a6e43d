import { Type } from 'class-transformer';
import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Matches,
  Min,
  ValidateBy,
  type ValidationOptions,
} from 'class-validator';
import { parseDuration } from '../../common/durations.js';
import { type NestedProblem, nestedProblemsMessage } from '../../common/errors.js';
import { PageQuery } from '../../common/pagination.js';
import { ISO_DATE } from '../../common/validators.js';
import { API_VERSION, EVENT_TYPES } from '../../events/event-types.js';
import { PAYLOAD_FORMATS, type PayloadFormat } from '../formats/payload-renderer.js';
import { isPayloadVersion, payloadVersions } from '../../events/payload-versions.js';
import { type Coalesce, coalesceProblems } from './coalesce.js';
import { customHeaderProblems } from './custom-headers.js';
import { type Filters, filterProblems, MAX_FILTER_KEYS, MAX_FILTER_VALUES } from './filters.js';
import { DELIVERY_MODES, type DeliveryMode } from './webhook.entity.js';
import { type MaintenanceWindow, maintenanceWindowProblems } from './maintenance-windows.js';

export const EVENT_TYPE_CHOICES = ['*', ...EVENT_TYPES] as const;
export const MAX_RETRY_DELAY_MS = 24 * 3_600_000;

/** A class-validator rule whose message lists what is wrong. */
function ValidWith(name: string, problems: (value: unknown) => string[], options?: ValidationOptions) {
  return ValidateBy(
    {
      name,
      validator: {
        validate: (value) => problems(value).length === 0,
        defaultMessage: (args) => problems(args?.value).join('; '),
      },
    },
    options,
  );
}

const apiVersionProblems = (value: unknown): string[] =>
  typeof value === 'string' && isPayloadVersion(value) ? [] : [`must be one of ${payloadVersions().join(', ')}`];

const retryScheduleProblems = (value: unknown): string[] => {
  if (!Array.isArray(value)) return ['must be a list of durations such as ["5s", "5m", "30m"]'];
  if (value.length > 20) return ['may have at most 20 retries'];
  return value.flatMap((v, i) => {
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) return [`entry ${i} ("${String(v)}") is not a duration such as 5s, 5m or 2h`];
    if (ms < 1 || ms > MAX_RETRY_DELAY_MS) return [`entry ${i} must be between 1ms and 24h`];
    return [];
  });
};

/** A class-validator rule whose problems are inside the value: each is listed at its own path (`permanentStatuses.1`). */
function ValidAtPaths(name: string, problems: (value: unknown) => NestedProblem[], options?: ValidationOptions) {
  return ValidateBy(
    {
      name,
      validator: {
        validate: (value) => problems(value).length === 0,
        defaultMessage: (args) => nestedProblemsMessage(problems(args?.value)),
      },
    },
    options,
  );
}

const permanentStatusProblems = (value: unknown): NestedProblem[] => {
  if (value === null) return [];
  if (!Array.isArray(value)) return [{ path: '', message: 'must be a list of HTTP statuses such as [400, 422]' }];
  if (value.length > 50) return [{ path: '', message: 'may list at most 50 statuses' }];
  return value.flatMap((v, i) =>
    Number.isInteger(v) && (v as number) >= 300 && (v as number) <= 599
      ? []
      : [{ path: `${i}`, message: `must be a non-2xx HTTP status from 300 to 599, not ${JSON.stringify(v)}` }],
  );
};

export class CreateWebhookDto {
  @ApiProperty({ example: 'SAP S/4 inbound' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiPropertyOptional({
    example: 'https://erp.example.com/hooks/waybill',
    description: 'Required for push delivery; a pull subscription has none',
  })
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  @MaxLength(2000)
  url?: string | null;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(2000)
  description?: string | null;

  @ApiProperty({
    type: 'array',
    items: { type: 'string', enum: [...EVENT_TYPE_CHOICES] },
    example: ['shipment.status_changed', 'shipment.delivered'],
    description: 'Catalog names, or ["*"] for every type',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(EVENT_TYPE_CHOICES.length)
  @IsIn(EVENT_TYPE_CHOICES, { each: true, message: `each value must be one of: ${EVENT_TYPE_CHOICES.join(', ')}` })
  eventTypes: string[];

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_FILTER_VALUES,
      items: { type: ['string', 'number', 'boolean'] },
    },
    maxProperties: MAX_FILTER_KEYS,
    example: { 'carrier.scac': ['DHLF'], 'order.customer.ref': ['C-42'] },
    description: 'A dotted path in the event data → allowed values; every path must match',
  })
  @IsOptional()
  @ValidWith('filters', filterProblems)
  filters?: Filters;

  @ApiPropertyOptional({
    example: { 'X-ERP-Client': '100' },
    description: 'Sent with every push; values are write-only',
  })
  @IsOptional()
  @ValidWith('customHeaders', customHeaderProblems)
  headers?: Record<string, string>;

  @ApiPropertyOptional({ default: true, description: 'false: no deliveries are created' })
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({ default: false, description: 'true: deliveries are created and held, nothing is sent' })
  @IsOptional()
  @IsBoolean()
  paused?: boolean;

  @ApiPropertyOptional({ default: false, description: 'Deliver the events of one order or shipment strictly in order' })
  @IsOptional()
  @IsBoolean()
  ordered?: boolean;

  @ApiPropertyOptional({ default: 10_000, minimum: 100, maximum: 60_000 })
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(60_000)
  timeoutMs?: number;

  @ApiPropertyOptional({ default: 32, minimum: 1, maximum: 256 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(256)
  maxConcurrency?: number;

  @ApiPropertyOptional({ description: 'Requests per second at most (default: no limit)', minimum: 1, maximum: 10_000 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(10_000)
  rateLimitPerSecond?: number | null;

  @ApiPropertyOptional({
    example: ['5s', '5m', '30m'],
    description: 'Overrides WEBHOOK_RETRY_SCHEDULE; null restores it',
  })
  @IsOptional()
  @ValidWith('retrySchedule', retryScheduleProblems)
  retrySchedule?: string[] | null;

  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'integer', minimum: 300, maximum: 599 },
    maxItems: 50,
    nullable: true,
    example: [400, 422],
    description:
      'Answers that end a delivery as failed at once (no retry) without counting toward health: the endpoint is up, the data is wrong. Default none: every non-2xx is retried',
  })
  @IsOptional()
  @ValidAtPaths('permanentStatuses', permanentStatusProblems)
  permanentStatuses?: number[] | null;

  @ApiPropertyOptional({
    type: 'array',
    nullable: true,
    items: { $ref: '#/components/schemas/MaintenanceWindow' },
    example: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '01:00', end: '03:30', timeZone: 'Europe/Berlin' }],
    description:
      "ERP maintenance windows in the receiver's local time: inside one the subscription behaves as paused (deliveries held, no retry spent, no health change); when it ends the held deliveries go out oldest first. A window whose end is not after its start crosses midnight. null or [] removes them",
  })
  @IsOptional()
  @ValidAtPaths('maintenanceWindows', maintenanceWindowProblems)
  maintenanceWindows?: MaintenanceWindow[] | null;

  @ApiPropertyOptional({
    enum: PAYLOAD_FORMATS,
    default: 'envelope',
    description:
      'envelope: the JSON envelope; jsonata: a JSONata mapping of it; x12-214: an ANSI X12 214 interchange; edifact-iftsta: a UN/EDIFACT IFTSTA (D.01B) interchange. The EDI formats carry only shipment.status_changed and shipment.tracking_updated',
  })
  @IsOptional()
  @IsIn(PAYLOAD_FORMATS)
  payloadFormat?: PayloadFormat;

  @ApiPropertyOptional({
    example: {
      expression: '{ "shipment": data.shipmentNumber, "status": data.status }',
      contentType: 'application/json',
    },
    description:
      'For jsonata: { expression, contentType? }; for x12-214: { senderId, senderQualifier, receiverId, receiverQualifier, usageIndicator, elementSeparator?, segmentTerminator? }; for edifact-iftsta: { senderId, receiverId, usageIndicator? }; checked on save',
  })
  @IsOptional()
  @IsObject()
  payloadOptions?: Record<string, unknown> | null;

  @ApiPropertyOptional({
    example: { eventTypes: ['shipment.tracking_updated'], windowMs: 30_000 },
    description:
      'Coalesce chatty updates: a covered delivery waits windowMs and a newer one of the same shipment or order supersedes it',
  })
  @IsOptional()
  @ValidWith('coalesce', coalesceProblems)
  coalesce?: Coalesce | null;

  @ApiPropertyOptional({ example: API_VERSION, description: 'Payload version, pinned at creation (default: current)' })
  @IsOptional()
  @ValidWith('apiVersion', apiVersionProblems)
  apiVersion?: string;

  @ApiPropertyOptional({
    example: {
      type: 'oauth2ClientCredentials',
      tokenUrl: 'https://login.erp.example.com/oauth2/token',
      clientId: 'waybill',
      clientSecret: '…',
      scope: 'shipments.write',
    },
    description:
      'How Waybill authenticates to the receiver: { type: "none" } (default), { type: "basic", username, password }, { type: "bearer", token }, ' +
      '{ type: "oauth2ClientCredentials", tokenUrl, clientId, clientSecret, scope?, audience?, clientAuth?: "client_secret_basic" | "client_secret_post" }. ' +
      'Secrets are write-only; a PATCH of the same type may leave them out to keep them.',
  })
  @IsOptional()
  @IsObject()
  auth?: Record<string, unknown>;

  @ApiPropertyOptional({
    description:
      'Mutual TLS: { clientCertificatePem, clientKeyPem, caPem? } (caPem trusts a private CA besides the public ones); null removes it. Write-only.',
  })
  @IsOptional()
  @IsObject()
  tls?: Record<string, unknown> | null;

  @ApiPropertyOptional({
    enum: DELIVERY_MODES,
    default: 'push',
    description: 'pull: never pushed; the ERP reads GET /v1/feeds/:id and acknowledges',
  })
  @IsOptional()
  @IsIn(DELIVERY_MODES)
  deliveryMode?: DeliveryMode;
}

export class UpdateWebhookDto extends PartialType(OmitType(CreateWebhookDto, ['apiVersion'] as const)) {
  @ApiPropertyOptional({
    enum: ['healthy'],
    description: 'Re-enable a subscription Waybill disabled; its held deliveries are sent',
  })
  @IsOptional()
  @IsIn(['healthy'], { message: 'can only be set to healthy (to re-enable a disabled subscription)' })
  status?: 'healthy';

  @ApiPropertyOptional({
    description: 'With status healthy: mark the held deliveries discarded instead of sending them',
  })
  @IsOptional()
  @IsBoolean()
  discardHeld?: boolean;
}

export class MintFeedTokenDto {
  @ApiPropertyOptional({
    minimum: 60,
    maximum: 31_536_000,
    description: 'Seconds until the token expires (60 to one year); without it the token lasts until revoked',
  })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(31_536_000)
  ttlSeconds?: number;
}

export class RotateSecretDto {
  @ApiPropertyOptional({
    default: false,
    description: 'Stop signing with the old secret now (default: it signs beside the new one for 24 h)',
  })
  @IsOptional()
  @IsBoolean()
  expireOldNow?: boolean;
}

export class TestWebhookDto {
  @ApiPropertyOptional({
    enum: EVENT_TYPES,
    description: 'Send the catalog example of this type (default: webhook.test)',
  })
  @IsOptional()
  @IsIn(EVENT_TYPES)
  eventType?: (typeof EVENT_TYPES)[number];
}

export class PreviewSourceDto {
  @ApiPropertyOptional({ description: 'A stored event of this tenant' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  eventId?: string;

  @ApiPropertyOptional({ enum: EVENT_TYPES, description: 'The catalog example of this type (default: webhook.test)' })
  @IsOptional()
  @IsIn(EVENT_TYPES)
  eventType?: (typeof EVENT_TYPES)[number];
}

export class DraftPreviewDto extends PreviewSourceDto {
  @ApiPropertyOptional({ example: API_VERSION })
  @IsOptional()
  @ValidWith('apiVersion', apiVersionProblems)
  apiVersion?: string;

  @ApiPropertyOptional({ enum: PAYLOAD_FORMATS, default: 'envelope' })
  @IsOptional()
  @IsIn(PAYLOAD_FORMATS)
  payloadFormat?: PayloadFormat;

  @ApiPropertyOptional()
  @IsOptional()
  @IsObject()
  payloadOptions?: Record<string, unknown> | null;

  @ApiPropertyOptional({ description: 'Custom headers (only their names appear in the answer)' })
  @IsOptional()
  @ValidWith('customHeaders', customHeaderProblems)
  headers?: Record<string, string>;
}

export class ReplayDto {
  @ApiProperty({ format: 'date-time' })
  @IsISO8601(ISO_DATE)
  since: string;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  until?: string;
}

export class ListWebhooksQuery extends PageQuery {}

export class FeedQuery {
  @ApiPropertyOptional({ description: 'Read after this position (default: from the oldest unacknowledged)' })
  @IsOptional()
  @Matches(/^\d{1,18}$/, { message: 'must be a cursor given by the feed' })
  cursor?: string;

  @ApiPropertyOptional({ type: 'integer', default: 50, minimum: 1, maximum: 200 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({
    type: 'integer',
    default: 0,
    minimum: 0,
    maximum: 30,
    description: 'Long poll: wait up to this many seconds for something new',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(30)
  wait?: number;
}

export class FeedAckDto {
  @ApiProperty({ description: 'A nextCursor the feed answered: everything up to it is acknowledged' })
  @IsString()
  @Matches(/^\d{1,18}$/, { message: 'must be a cursor given by the feed' })
  cursor: string;
}
