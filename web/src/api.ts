/** The screen talks to the same public REST API as every other client; nothing else. */

export interface Session {
  token: string;
  readOnly: boolean;
  /** `key`: signed in with an API key; `portal`: opened through a TMS portal link. */
  kind: 'key' | 'portal';
  expiresAt?: string;
}

const SESSION_KEY = 'waybill.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fieldErrors: FieldError[] = [],
  ) {
    super(message);
  }
}

/** Called when the API says the session is no longer valid (401). */
let onUnauthorized: (message: string) => void = () => undefined;
export function whenUnauthorized(handler: (message: string) => void): void {
  onUnauthorized = handler;
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  token = loadSession()?.token,
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'Waybill cannot be reached. Check the connection and try again.');
  }
  const text = await response.text();
  let parsed: any = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!response.ok) {
    const message = typeof parsed?.message === 'string' ? parsed.message : `${response.status} ${response.statusText}`;
    const error = new ApiError(response.status, message, Array.isArray(parsed?.errors) ? parsed.errors : []);
    if (response.status === 401 && token && token === loadSession()?.token) onUnauthorized(message);
    throw error;
  }
  return parsed as T;
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body: unknown = {}) => request<T>('POST', path, body),
  patch: <T>(path: string, body: unknown) => request<T>('PATCH', path, body),
  delete: (path: string) => request<void>('DELETE', path),
};

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

// ---- What the API answers (the parts the screen uses) ----

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export interface FeedToken {
  id: string;
  webhookId: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

export type AuthView =
  | { type: 'none' }
  | { type: 'basic'; configured: true; username: string }
  | { type: 'bearer'; configured: true }
  | {
      type: 'oauth2ClientCredentials';
      configured: true;
      tokenUrl: string;
      clientId: string;
      scope: string | null;
      audience: string | null;
      clientAuth: string;
    };

export interface Webhook {
  id: string;
  name: string;
  url: string | null;
  description: string | null;
  eventTypes: string[];
  filters: Record<string, string[]>;
  headerNames: string[];
  enabled: boolean;
  paused: boolean;
  ordered: boolean;
  timeoutMs: number;
  maxConcurrency: number;
  rateLimitPerSecond: number | null;
  retrySchedule: string[] | null;
  apiVersion: string;
  payloadFormat: 'envelope' | 'jsonata' | 'x12-214' | 'edifact-iftsta';
  payloadOptions: Record<string, unknown> | null;
  deliveryMode: 'push' | 'pull';
  auth: AuthView;
  tls: { configured: true; subject: string; issuer: string; validTo: string; caConfigured: boolean } | null;
  status: 'healthy' | 'failing' | 'disabled';
  disabledReason: string | null;
  consecutiveFailures: number;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  lastFailureReason?: string | null;
  permanentStatuses?: number[];
  maintenanceWindows?: Array<{ days: string[]; start: string; end: string; timeZone: string }>;
  inMaintenance?: boolean;
  nextMaintenanceWindow?: { startsAt: string; endsAt: string } | null;
  createdAt: string;
  secret?: string;
}

export interface EventType {
  name: string;
  description: string;
  example: unknown;
}

export interface Attempt {
  number: number;
  trigger: string;
  startedAt: string;
  durationMs: number | null;
  url: string | null;
  requestHeaders: Record<string, string> | null;
  requestBody: string | null;
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  errorClass: string | null;
  errorMessage?: string | null;
  /** One line read from the answer (problem+json detail, OData message, SOAP fault, text) or the error. */
  reason?: string | null;
}

export interface Delivery {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  status: string;
  attemptCount?: number;
  createdAt?: string;
  updatedAt?: string;
  nextAttemptAt?: string | null;
  lastResponseStatus?: number | null;
  lastErrorClass?: string | null;
  lastReason?: string | null;
  attempts?: Attempt[];
}

export interface StoredEvent {
  id: string;
  type: string;
  occurredAt?: string;
  createdAt?: string;
}
