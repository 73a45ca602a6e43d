import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema.js';

/**
 * The typed Waybill API client, generated from openapi.json: `schema.d.ts` is written by
 * `npm run api:generate` (openapi-typescript) and the calls go through openapi-fetch, so a path,
 * a parameter, a body or an answer field the document does not have is a type error. The settings
 * screen (web/), the demo and the README walk use it; nothing here imports the service's code.
 */
export type { components, paths };
export type Schemas = components['schemas'];
export type Order = Schemas['Order'];
export type Shipment = Schemas['Shipment'];
export type TrackingEvent = Schemas['TrackingEvent'];
export type Envelope = Schemas['Envelope'];
export type EventType = Schemas['EventType'];
export type Webhook = Schemas['Webhook'];
export type WebhookCreated = Schemas['WebhookCreated'];
export type Delivery = Schemas['Delivery'];
export type DeliverySummary = Schemas['DeliverySummary'];
export type Attempt = Schemas['Attempt'];
export type TestAttempt = Schemas['TestAttempt'];
export type ConnectionCheck = Schemas['ConnectionCheck'];
export type FeedToken = Schemas['FeedToken'];
export type ErrorBody = Schemas['Error'];
export type WaybillClient = Client<paths>;

export interface ClientOptions {
  /** The service's address, e.g. http://localhost:3000 ('' in the browser: the page's own origin). */
  baseUrl: string;
  /** The bearer token (API key or settings session), or a function read on every call. */
  token?: string | (() => string | undefined);
  fetch?: typeof globalThis.fetch;
}

export function createWaybillClient(options: ClientOptions): WaybillClient {
  const client = createClient<paths>({ baseUrl: options.baseUrl, fetch: options.fetch });
  client.use({
    onRequest({ request }) {
      const token = typeof options.token === 'function' ? options.token() : options.token;
      if (token && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${token}`);
      return request;
    },
  });
  return client;
}

/** An answer outside 2xx, with the API's error body (`{ statusCode, error, message, errors? }`). */
export class WaybillError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody | undefined,
    readonly call: string,
  ) {
    super(`${call} answered ${status}: ${body?.message ?? 'no error body'}`);
  }
}

/** The answer's data, or a WaybillError naming the call: `const order = await ok(api.GET('/v1/orders/{id}', …))`. */
export async function ok<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (response.ok) return data as T;
  const path = new URL(response.url || 'http://unknown/').pathname;
  throw new WaybillError(response.status, error as ErrorBody | undefined, `${path}`);
}
