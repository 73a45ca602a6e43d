import { createWaybillClient, type ErrorBody, type Schemas } from '../../client/index';

/** The screen talks to the same public REST API as every other client, through the generated client; nothing else. */

export interface Session {
  token: string;
  readOnly: boolean;
  /** A session token either way (never the API key). `key`: signed in with an API key; `portal`: opened through a TMS portal link. */
  kind: 'key' | 'portal';
  expiresAt?: string;
}

const SESSION_KEY = 'waybill.session';

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    const session = raw ? (JSON.parse(raw) as Session) : null;
    // An API key kept by an earlier version of the screen: forget it (a session token is needed now).
    if (session && !session.token.startsWith('wbs_')) {
      sessionStorage.removeItem(SESSION_KEY);
      return null;
    }
    return session;
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

/** The generated, typed client (client/): paths, parameters, bodies and answers come from openapi.json. */
export const client = createWaybillClient({ baseUrl: '', token: () => loadSession()?.token });

/**
 * An answer's data, or an ApiError in the screen's words; a 401 for the session in use signs out.
 * `token` is the one the call sent when it is not the session's (the sign-in check).
 */
export async function call<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
  token = loadSession()?.token,
): Promise<T> {
  let answer: { data?: T; error?: unknown; response: Response };
  try {
    answer = await request;
  } catch {
    throw new ApiError(0, 'Waybill cannot be reached. Check the connection and try again.');
  }
  const { data, error, response } = answer;
  if (response.ok) return data as T;
  const body = error as Partial<ErrorBody> | undefined;
  const message = typeof body?.message === 'string' ? body.message : `${response.status} ${response.statusText}`;
  if (response.status === 401 && token && token === loadSession()?.token) onUnauthorized(message);
  throw new ApiError(response.status, message, Array.isArray(body?.errors) ? body.errors : []);
}

// ---- What the API answers: the generated types (openapi.json) ----

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}
export type FeedToken = Schemas['FeedTokenInfo'];
export type AuthView = Schemas['ReceiverAuth'];
/** A subscription; the one a create answers also carries its secret. */
export type Webhook = Schemas['Webhook'] & { secret?: string };
export type EventType = Schemas['EventType'];
export type Attempt = Schemas['Attempt'];
/** A delivery of the log (no attempts) or one opened with its attempts. */
export type Delivery = Schemas['DeliverySummary'] & { attempts?: Attempt[] };
export type StoredEvent = Schemas['Envelope'];
export type CreateWebhookBody = Schemas['CreateWebhookDto'];
export type UpdateWebhookBody = Schemas['UpdateWebhookDto'];
export type DraftPreviewBody = Schemas['DraftPreviewDto'];
export type TestEventType = NonNullable<Schemas['TestWebhookDto']['eventType']>;
export type DeliveryStatus = Delivery['status'];
export type DeliveryEventType = Delivery['eventType'];
