import { isIP } from 'node:net';
import path from 'node:path';
import { parseDuration, parseDurationList } from '../common/durations.js';

export const ROLES = ['api', 'worker', 'all'] as const;
export type Role = (typeof ROLES)[number];

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'verbose'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface AppConfig {
  port: number;
  host: string;
  /** Unset: an embedded PostgreSQL is started under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  embeddedPostgresPort: number;
  adminToken: string | undefined;
  /** Bearer token that /metrics requires; unset: /metrics answers 404. */
  metricsToken: string | undefined;
  throttle: ThrottleSettings;
  /**
   * The proxies whose X-Forwarded-For names the client (Fastify's `trustProxy`): addresses and
   * ranges. false: the connection's address is the client.
   */
  trustProxy: string[] | false;
  logLevel: LogLevel;
  logFormat: LogFormat;
  role: Role;
  publicUrl: string;
  /** Unset: a key is generated into DATA_DIR/encryption-key and reused. */
  encryptionKey: string | undefined;
  /** Older keys still accepted for decryption during a rotation (ENCRYPTION_KEYS_PREVIOUS). */
  encryptionKeysPrevious: string | undefined;
  webhooks: WebhookSettings;
  auditRetentionDays: number;
  /** Events older than this that no delivery refers to any more are pruned (hourly), except the newest of each aggregate. */
  eventRetentionDays: number;
  /** How long a valid API key is trusted without a database read (revocations reach every instance by NOTIFY at once); 0: no cache. */
  apiKeyCacheTtlMs: number;
  /** CSP frame-ancestors sources allowed to frame /settings; empty: none. */
  settingsFrameAncestors: string[];
}

export interface ThrottleSettings {
  /** Failed authentications per client address per minute before it is refused (429) for a minute; 0: off. */
  authFailuresPerMinute: number;
  /** Calls per tenant per minute to each expensive route (preview, test, check, replay; redeem per address); 0: off. */
  expensivePerMinute: number;
}

export interface WebhookSettings {
  /** Lifts the SSRF guard (loopback and private addresses allowed): development and tests only. */
  allowPrivate: boolean;
  retrySchedule: number[];
  failingAfter: number;
  disableAfterMs: number;
  maxInFlight: number;
  sweepIntervalMs: number;
  leaseMs: number;
  shutdownGraceMs: number;
  /** WEBHOOK_EGRESS_PROXY: every push, token request and connection check tunnels through it; null: direct. */
  egressProxy: URL | null;
}

/** A CSP host source with a scheme and no path, or 'self'. */
const FRAME_ANCESTOR = /^(?:'self'|https?:\/\/(?:\*\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*(?::(?:\d{1,5}|\*))?)$/;

export const DEFAULT_RETRY_SCHEDULE = '5s,5m,30m,2h,5h,10h,14h';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;

/** Reads and validates the environment once; every problem is reported together. */
/** Whether percent-encoded URL credentials decode (a stray `%` does not). */
function decodable(value: string): boolean {
  try {
    decodeURIComponent(value);
    return true;
  } catch {
    return false;
  }
}

export function loadConfig(env: Env = process.env): AppConfig {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === '' ? undefined : value;
  };
  const port = (name: string, fallback: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < 1 || value > 65535) {
      problems.push(`${name} must be a port number between 1 and 65535 (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  };

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  };
  const duration = (name: string, fallback: string, minMs: number): number => {
    const raw = read(name) ?? fallback;
    const value = parseDuration(raw);
    if (value === undefined || value < minMs) {
      problems.push(`${name} must be a duration such as 30s, 5m, 2h or 5d, at least ${minMs} ms (got "${raw}")`);
      return parseDuration(fallback)!;
    }
    return value;
  };
  const bool = (name: string): boolean => {
    const raw = read(name);
    if (raw === undefined) return false;
    if (!['true', 'false', '1', '0'].includes(raw)) {
      problems.push(`${name} must be true or false (got "${raw}")`);
      return false;
    }
    return raw === 'true' || raw === '1';
  };

  const retryRaw = read('WEBHOOK_RETRY_SCHEDULE') ?? DEFAULT_RETRY_SCHEDULE;
  const retrySchedule = retryRaw === 'none' ? [] : parseDurationList(retryRaw);
  if (!retrySchedule) {
    problems.push(
      `WEBHOOK_RETRY_SCHEDULE must be durations separated by commas, e.g. 5s,5m,30m (or "none") (got "${retryRaw}")`,
    );
  }
  const encryptionKey = read('ENCRYPTION_KEY');
  if (encryptionKey !== undefined && !isEncryptionKey(encryptionKey)) {
    problems.push('ENCRYPTION_KEY must be 32 bytes, written as 64 hex characters or in base64');
  }
  const encryptionKeysPrevious = read('ENCRYPTION_KEYS_PREVIOUS');
  if (
    encryptionKeysPrevious !== undefined &&
    !encryptionKeysPrevious
      .split(/[\s,]+/)
      .filter(Boolean)
      .every(isEncryptionKey)
  ) {
    problems.push(
      'ENCRYPTION_KEYS_PREVIOUS must be 32-byte keys (64 hex characters or base64), separated by commas or spaces',
    );
  }

  const databaseUrl = read('DATABASE_URL');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const appPort = port('PORT', 3000);
  const production = read('NODE_ENV') === 'production';
  const publicUrl = (read('PUBLIC_URL') ?? `http://localhost:${appPort}`).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+/.test(publicUrl)) {
    problems.push(`PUBLIC_URL must be an http(s) URL (got "${publicUrl}")`);
  }
  const metricsToken = read('METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) {
    problems.push('METRICS_TOKEN must be at least 16 characters');
  }
  const throttle: ThrottleSettings = {
    authFailuresPerMinute: int('THROTTLE_AUTH_FAILURES_PER_MINUTE', 20, 0, 1_000_000),
    expensivePerMinute: int('THROTTLE_EXPENSIVE_PER_MINUTE', 60, 0, 1_000_000),
  };
  const trustProxy = readTrustProxy(read('TRUST_PROXY'), problems);
  const adminToken = read('ADMIN_TOKEN');
  if (adminToken !== undefined && adminToken.length < 16) {
    problems.push('ADMIN_TOKEN must be at least 16 characters long');
  }

  const frameAncestors = (read('SETTINGS_FRAME_ANCESTORS') ?? '').split(/[\s,]+/).filter(Boolean);
  for (const source of frameAncestors) {
    if (!FRAME_ANCESTOR.test(source)) {
      problems.push(
        `SETTINGS_FRAME_ANCESTORS must list origins such as https://tms.example.com or https://*.example.com, or 'self' (got "${source}")`,
      );
    }
  }

  let egressProxy: URL | null = null;
  const proxy = read('WEBHOOK_EGRESS_PROXY');
  if (proxy) {
    try {
      egressProxy = new URL(proxy);
    } catch {
      egressProxy = null;
    }
    if (!egressProxy || !['http:', 'https:'].includes(egressProxy.protocol) || !egressProxy.hostname) {
      problems.push(
        'WEBHOOK_EGRESS_PROXY must be an http:// or https:// forward proxy URL such as http://user:pass@egress.internal:3128',
      );
      egressProxy = null;
    } else if (egressProxy.pathname !== '/' || egressProxy.search || egressProxy.hash) {
      problems.push(
        'WEBHOOK_EGRESS_PROXY must be a proxy origin (scheme, optional credentials, host and port), without a path',
      );
      egressProxy = null;
    } else if (!decodable(egressProxy.username) || !decodable(egressProxy.password)) {
      // Said without the value: it holds the proxy's password.
      problems.push(
        'WEBHOOK_EGRESS_PROXY credentials must be percent-encoded (e.g. %40 for @, %25 for %) so they can be read',
      );
      egressProxy = null;
    }
  }

  const config: AppConfig = {
    port: appPort,
    host: read('HOST') ?? '0.0.0.0',
    databaseUrl,
    dataDir: path.resolve(read('DATA_DIR') ?? './.data'),
    embeddedPostgresPort: port('EMBEDDED_PG_PORT', 54329),
    adminToken,
    metricsToken,
    throttle,
    trustProxy,
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    logFormat: oneOf('LOG_FORMAT', LOG_FORMATS, production ? 'json' : 'pretty'),
    role: oneOf('ROLE', ROLES, 'all'),
    publicUrl,
    encryptionKey,
    encryptionKeysPrevious,
    webhooks: {
      allowPrivate: bool('WEBHOOK_ALLOW_PRIVATE'),
      retrySchedule: retrySchedule ?? parseDurationList(DEFAULT_RETRY_SCHEDULE)!,
      failingAfter: int('WEBHOOK_FAILING_AFTER', 5, 1, 1000),
      disableAfterMs: duration('WEBHOOK_DISABLE_AFTER', '5d', 1),
      maxInFlight: int('WEBHOOK_MAX_IN_FLIGHT', 512, 1, 10_000),
      sweepIntervalMs: int('WEBHOOK_SWEEP_INTERVAL_MS', 250, 10, 60_000),
      leaseMs: duration('WEBHOOK_LEASE', '30s', 1000),
      shutdownGraceMs: duration('WEBHOOK_SHUTDOWN_GRACE', '10s', 0),
      egressProxy,
    },
    auditRetentionDays: int('AUDIT_RETENTION_DAYS', 30, 1, 3650),
    eventRetentionDays: int('EVENT_RETENTION_DAYS', 30, 1, 3650),
    apiKeyCacheTtlMs: read('API_KEY_CACHE_TTL') === '0' ? 0 : duration('API_KEY_CACHE_TTL', '5s', 1),
    settingsFrameAncestors: frameAncestors,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** Names proxy-addr (Fastify's trustProxy) knows for address ranges. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * TRUST_PROXY: the addresses of the proxies in front of the service (ranges and loopback /
 * linklocal / uniquelocal allowed). Never "true" nor a hop count: trusting a peer that is not a
 * proxy would take the client's address from whatever X-Forwarded-For a client sends (Fastify
 * ignores hop counts for that reason).
 */
function readTrustProxy(raw: string | undefined, problems: string[]): string[] | false {
  if (raw === undefined || raw.trim() === '' || raw === 'false') return false;
  const items = raw.split(/[\s,]+/).filter(Boolean);
  const isRange = (item: string) => {
    if (PROXY_RANGE_NAMES.includes(item)) return true;
    const [address, bits, extra] = item.split('/');
    const version = isIP(address);
    if (!version || extra !== undefined) return false;
    if (bits === undefined) return true;
    return /^\d+$/.test(bits) && Number(bits) <= (version === 4 ? 32 : 128);
  };
  const bad = items.filter((item) => !isRange(item));
  if (bad.length) {
    problems.push(
      `TRUST_PROXY must list the addresses of the proxies in front of Waybill, e.g. 10.0.0.0/8, loopback (got "${bad.join('", "')}")` +
        (bad.includes('true') || bad.some((b) => /^\d+$/.test(b))
          ? '; "true" or a hop count would let any client choose its address with X-Forwarded-For'
          : ''),
    );
    return false;
  }
  return items;
}

export function isEncryptionKey(value: string): boolean {
  if (/^[0-9a-fA-F]{64}$/.test(value)) return true;
  return /^[A-Za-z0-9+/_-]+={0,2}$/.test(value) && Buffer.from(value, 'base64').length === 32;
}

export const APP_CONFIG = Symbol('APP_CONFIG');
