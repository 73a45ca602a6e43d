import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { MaintenanceWindow } from './maintenance-windows.js';
import type { HealthStatus } from '../engine/health.js';
import type { PayloadFormat, PayloadOptions } from '../formats/payload-renderer.js';
import type { Coalesce } from './coalesce.js';
import type { Filters } from './filters.js';
import type { AuthType, AuthView, TlsView } from './receiver-auth.js';

export const DELIVERY_MODES = ['push', 'pull'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

/** Feed positions stay far below 2^53: read PostgreSQL's bigint text as a number. */
const BIGINT_AS_NUMBER = { to: (v: number) => v, from: (v: string) => Number(v) };

@Entity('webhook')
export class Webhook {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  tenantId: string;

  @Column('text')
  name: string;

  /** Null for a pull subscription, which has no endpoint. */
  @Column('text', { nullable: true })
  url: string | null;

  @Column('text', { nullable: true })
  description: string | null;

  @Column('text', { array: true })
  eventTypes: string[];

  @Column('jsonb')
  filters: Filters;

  /** Custom header values, sealed with the SecretBox: write-only. */
  @Column('text', { nullable: true })
  headersEncrypted: string | null;

  @Column('text', { array: true })
  headerNames: string[];

  @Column('boolean')
  enabled: boolean;

  @Column('boolean')
  paused: boolean;

  @Column('boolean')
  ordered: boolean;

  @Column('int')
  timeoutMs: number;

  @Column('int')
  maxConcurrency: number;

  @Column('int', { nullable: true })
  rateLimitPerSecond: number | null;

  /** Milliseconds; null follows WEBHOOK_RETRY_SCHEDULE. */
  @Column('int', { array: true, nullable: true })
  retrySchedule: number[] | null;

  /** Answer statuses that fail a delivery at once, without counting toward health. */
  @Column('int', { array: true })
  permanentStatuses: number[];

  /** Local-time windows during which deliveries are held, as when paused; null: none. */
  @Column('jsonb', { nullable: true })
  maintenanceWindows: MaintenanceWindow[] | null;

  /** Inside a maintenance window now (the claim holds the deliveries). */
  @Column('boolean')
  inMaintenance: boolean;

  /** When `inMaintenance` next changes; null without windows. */
  @Column('timestamptz', { nullable: true })
  maintenanceChangesAt: Date | null;

  @Column('text')
  apiVersion: string;

  @Column('text')
  payloadFormat: PayloadFormat;

  @Column('jsonb', { nullable: true })
  payloadOptions: PayloadOptions;

  @Column('jsonb', { nullable: true })
  coalesce: Coalesce | null;

  @Column('text')
  deliveryMode: DeliveryMode;

  @Column('text')
  authType: AuthType;

  /** What the API shows of the authentication (no secrets). */
  @Column('jsonb', { nullable: true })
  authPublic: AuthView | null;

  /** The whole AuthSettings, sealed with the SecretBox: write-only. */
  @Column('text', { nullable: true })
  authEncrypted: string | null;

  @Column('jsonb', { nullable: true })
  tlsPublic: TlsView | null;

  /** TlsSettings, sealed. */
  @Column('text', { nullable: true })
  tlsEncrypted: string | null;

  /** The last feed position handed out, and the acknowledged one (pull subscriptions). */
  @Column('bigint', { transformer: BIGINT_AS_NUMBER })
  feedHead: number;

  @Column('bigint', { transformer: BIGINT_AS_NUMBER })
  feedAcked: number;

  @Column('text')
  status: HealthStatus;

  @Column('text', { nullable: true })
  disabledReason: string | null;

  @Column('int')
  consecutiveFailures: number;

  @Column('timestamptz', { nullable: true })
  failingSince: Date | null;

  @Column('timestamptz', { nullable: true })
  lastSuccessAt: Date | null;

  @Column('timestamptz', { nullable: true })
  lastFailureAt: Date | null;

  /** The last failed attempt's reason (one line). */
  @Column('text', { nullable: true })
  lastFailureReason: string | null;

  @Column('text')
  secretEncrypted: string;

  @Column('text', { nullable: true })
  previousSecretEncrypted: string | null;

  @Column('timestamptz', { nullable: true })
  previousSecretExpiresAt: Date | null;

  @Column('timestamptz')
  createdAt: Date;

  @Column('timestamptz')
  updatedAt: Date;

  @Column('timestamptz', { nullable: true })
  deletedAt: Date | null;
}
