import ipaddr from 'ipaddr.js';
import * as oauth from 'oauth4webapi';
import { type Agent, fetch as undiciFetch } from 'undici';
import type { Egress } from './egress.js';
import { type SecretBox, webhookField } from './secret-box.js';
import type { AuthSettings, TlsSettings } from '../subscriptions/receiver-auth.js';
import type { WebhookRuntime } from '../subscriptions/webhook-runtime.js';
import { type AttemptOutcome, classifyError, type OutgoingRequest, type Sender } from './sender.js';
import { tlsFailure } from './tls-probe.js';
import type { UrlGuard } from './url-guard.js';

/** The token endpoint failed, or answered something that is not a usable token. */
export class AuthError extends Error {}

interface Credentials {
  version: string;
  usedAt: number;
  auth: AuthSettings | null;
  tls: TlsSettings | null;
  /** Connections for this subscription alone (it presents a client certificate); null: the shared pool. */
  agent: Agent | null;
}

interface CachedToken {
  version: string;
  token?: string;
  /** When to fetch a new one: shortly before it expires. */
  refreshAt: number;
  pending?: Promise<string>;
}

/** Credentials of a subscription not sent to for this long are dropped. */
const IDLE_MS = 10 * 60_000;
/** A token without expires_in is kept this long (or until the receiver answers 401). */
const TOKEN_DEFAULT_LIFETIME_MS = 3_600_000;
/** Fetch a new token this long before the old one expires (at most a tenth of its lifetime). */
const TOKEN_REFRESH_MARGIN_MS = 30_000;

/** When a token obtained now with `expiresIn` seconds should be replaced. */
export function tokenRefreshAt(now: number, expiresIn: number | undefined): number {
  if (expiresIn === undefined || !Number.isFinite(expiresIn) || expiresIn <= 0) return now + TOKEN_DEFAULT_LIFETIME_MS;
  const lifetime = expiresIn * 1000;
  return now + lifetime - Math.min(TOKEN_REFRESH_MARGIN_MS, lifetime / 10);
}

/**
 * How requests reach a subscription's receiver: its authentication (Basic, a bearer token, or an
 * OAuth2 client-credentials token cached per subscription and fetched by one request however many
 * deliveries wait for it) and its connections (the shared pool, or a pool of its own that
 * presents its client certificate and trusts its CA). Credentials are unsealed once per version
 * of the subscription's row; nothing here is ever logged or audited.
 */
export class ReceiverClient {
  private readonly credentials = new Map<string, Credentials>();
  private readonly tokens = new Map<string, CachedToken>();
  private forgotAt = Date.now();
  /** Token requests made since start (tests read it). */
  tokenRequests = 0;

  constructor(
    private readonly sender: Sender,
    private readonly guard: UrlGuard,
    private readonly box: SecretBox,
  ) {}

  /**
   * One attempt: credentials added, sent over the subscription's connections. An OAuth2 token is
   * fetched when there is none or it is about to expire; a 401 from the receiver fetches exactly
   * one new token and sends once more. A token endpoint that fails makes the attempt `auth_error`.
   */
  async deliver(webhook: WebhookRuntime, outgoing: OutgoingRequest, abort?: AbortSignal): Promise<AttemptOutcome> {
    const startedAt = new Date();
    const started = performance.now();
    const credentials = this.credentialsOf(webhook);
    const auth = credentials.auth;
    let token: string | undefined;
    try {
      const headers = { ...outgoing.headers };
      if (auth?.type === 'basic')
        headers.authorization = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
      else if (auth?.type === 'bearer') headers.authorization = `Bearer ${auth.token}`;
      else if (auth?.type === 'oauth2ClientCredentials') {
        token = await this.token(webhook, credentials, auth);
        headers.authorization = `Bearer ${token}`;
      }
      const dispatcher = credentials.agent ?? undefined;
      let outcome = await this.sender.send({ ...outgoing, headers }, dispatcher, abort);
      if (outcome.responseStatus === 401 && auth?.type === 'oauth2ClientCredentials' && token !== undefined) {
        token = await this.token(webhook, credentials, auth, token);
        outcome = await this.sender.send(
          { ...outgoing, headers: { ...headers, authorization: `Bearer ${token}` } },
          dispatcher,
          abort,
        );
      }
      if (outcome.errorClass === 'connection_reset' && outgoing.url.startsWith('https:'))
        return await this.explainReset(outcome, outgoing, credentials.tls);
      return outcome;
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      return {
        startedAt,
        durationMs: Math.round(performance.now() - started),
        responseStatus: null,
        responseHeaders: null,
        responseBody: null,
        errorClass: 'auth_error',
        errorMessage: error.message,
      };
    }
  }

  /**
   * An https connection closed before any answer: under TLS 1.3 that is how a server refuses a
   * client certificate. A separate handshake tells whether TLS is the reason, and the attempt
   * says so (`tls`) with the handshake's error.
   */
  private async explainReset(
    outcome: AttemptOutcome,
    outgoing: OutgoingRequest,
    clientTls: TlsSettings | null,
  ): Promise<AttemptOutcome> {
    const url = new URL(outgoing.url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const literal = ipaddr.isValid(host);
    const [allowed] = this.guard.allowed(await this.guard.addressesOf(host).catch(() => []));
    if (!allowed) return outcome;
    const failure = await tlsFailure(
      allowed.address,
      Number(url.port || 443),
      literal ? undefined : host,
      Math.min(outgoing.timeoutMs, 5_000),
      clientTls,
      (address, port, timeoutMs) => this.sender.egress.open(address, port, timeoutMs),
    );
    if (!failure) return outcome;
    return {
      ...outcome,
      errorClass: 'tls',
      errorMessage: `the server closed the connection; a TLS handshake with it fails: ${failure}`,
    };
  }

  /** The subscription's unsealed credentials and connection pool, current for its row's version. */
  credentialsOf(webhook: WebhookRuntime): Credentials {
    const cached = this.credentials.get(webhook.id);
    if (cached && cached.version === webhook.version) {
      cached.usedAt = Date.now();
      return cached;
    }
    if (cached?.agent) void cached.agent.close().catch(() => undefined);
    const tls = webhook.tlsEncrypted
      ? (JSON.parse(this.box.decrypt(webhook.tlsEncrypted, webhookField(webhook.id, 'tls'))) as TlsSettings)
      : null;
    const fresh: Credentials = {
      version: webhook.version,
      usedAt: Date.now(),
      auth: webhook.authEncrypted
        ? (JSON.parse(this.box.decrypt(webhook.authEncrypted, webhookField(webhook.id, 'auth'))) as AuthSettings)
        : null,
      tls,
      agent: tls ? this.agentFor(tls) : null,
    };
    this.credentials.set(webhook.id, fresh);
    return fresh;
  }

  /** A connection pool that presents the client certificate and trusts the public roots plus the given CA. */
  agentFor(tls: TlsSettings): Agent {
    return this.sender.egress.agent(tls, 32);
  }

  /**
   * The subscription's access token. Concurrent callers share one request; `rejected` is a token
   * the receiver refused: unless a newer one is already here, it is replaced.
   */
  private token(
    webhook: WebhookRuntime,
    credentials: Credentials,
    auth: Extract<AuthSettings, { type: 'oauth2ClientCredentials' }>,
    rejected?: string,
  ): Promise<string> {
    let entry = this.tokens.get(webhook.id);
    if (!entry || entry.version !== webhook.version) {
      entry = { version: webhook.version, refreshAt: 0 };
      this.tokens.set(webhook.id, entry);
    }
    if (entry.pending) return entry.pending;
    const usable = entry.token !== undefined && Date.now() < entry.refreshAt && entry.token !== rejected;
    if (usable) return Promise.resolve(entry.token!);
    const current = entry;
    current.pending = this.requestToken(auth, webhook.timeoutMs, credentials.agent).then(
      ({ accessToken, expiresIn }) => {
        current.token = accessToken;
        current.refreshAt = tokenRefreshAt(Date.now(), expiresIn);
        current.pending = undefined;
        return accessToken;
      },
      (error: unknown) => {
        current.pending = undefined;
        current.token = undefined;
        throw error;
      },
    );
    return current.pending;
  }

  /**
   * One client-credentials grant through oauth4webapi, over the same guarded connections as the
   * deliveries (the token URL is held to the same address rules). Any failure is an AuthError
   * that says what the token endpoint did.
   */
  async requestToken(
    auth: Extract<AuthSettings, { type: 'oauth2ClientCredentials' }>,
    timeoutMs: number,
    agent: Agent | null,
  ): Promise<{ accessToken: string; expiresIn?: number }> {
    this.tokenRequests += 1;
    const tokenUrl = new URL(auth.tokenUrl);
    const server: oauth.AuthorizationServer = { issuer: tokenUrl.origin, token_endpoint: auth.tokenUrl };
    const client: oauth.Client = { client_id: auth.clientId };
    const clientAuth =
      auth.clientAuth === 'client_secret_post'
        ? oauth.ClientSecretPost(auth.clientSecret)
        : oauth.ClientSecretBasic(auth.clientSecret);
    const parameters = new URLSearchParams();
    if (auth.scope) parameters.set('scope', auth.scope);
    if (auth.audience) parameters.set('audience', auth.audience);
    const dispatcher = agent ?? this.sender.agent;
    try {
      this.guard.assertLiteralAllowed(tokenUrl);
      const response = await oauth.clientCredentialsGrantRequest(server, client, clientAuth, parameters, {
        [oauth.customFetch]: ((url: string, init: RequestInit) =>
          undiciFetch(url, { ...(init as object), dispatcher, redirect: 'manual' })) as never,
        [oauth.allowInsecureRequests]: this.guard.allowsPrivate,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const result = await oauth.processClientCredentialsResponse(server, client, response);
      if (result.token_type !== 'bearer')
        throw new AuthError(`the token endpoint issued a ${result.token_type} token; only bearer tokens can be sent`);
      return { accessToken: result.access_token, expiresIn: result.expires_in };
    } catch (error) {
      throw new AuthError(await describeTokenFailure(error));
    }
  }

  /** How connections leave (directly or through the egress proxy). */
  get egress(): Egress {
    return this.sender.egress;
  }

  /**
   * Credentials, connection pools and tokens of subscriptions not sent to for `idleMs` are dropped
   * (a deleted subscription's would otherwise stay for good); a later send unseals them again.
   */
  forgetIdle(idleMs = IDLE_MS, now = Date.now()): void {
    if (now - this.forgotAt < Math.min(idleMs, 60_000)) return;
    this.forgotAt = now;
    for (const [id, entry] of this.credentials) {
      if (now - entry.usedAt < idleMs) continue;
      this.credentials.delete(id);
      this.tokens.delete(id);
      if (entry.agent) void entry.agent.close().catch(() => undefined);
    }
    for (const id of this.tokens.keys()) if (!this.credentials.has(id)) this.tokens.delete(id);
  }

  /** How many subscriptions' credentials and tokens are held. */
  get size(): { credentials: number; tokens: number } {
    return { credentials: this.credentials.size, tokens: this.tokens.size };
  }

  async close(): Promise<void> {
    const agents = [...this.credentials.values()].flatMap((c) => (c.agent ? [c.agent] : []));
    this.credentials.clear();
    this.tokens.clear();
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  }
}

/** What went wrong at the token endpoint, in words an admin can act on (never the secret). */
export async function describeTokenFailure(error: unknown): Promise<string> {
  if (error instanceof AuthError) return error.message;
  if (error instanceof oauth.WWWAuthenticateChallengeError) return describeChallenge(error);
  if (error instanceof oauth.ResponseBodyError) {
    return `the token endpoint answered ${error.status} ${error.error}${error.error_description ? `: ${error.error_description}` : ''}`;
  }
  const e = error as { message?: string; cause?: unknown; name?: string };
  if (error instanceof oauth.OperationProcessingError) {
    const status = (e.cause as { status?: number } | undefined)?.status;
    return `the token endpoint's answer was not a usable token${status ? ` (HTTP ${status})` : ''}: ${e.message}`;
  }
  const { errorClass, message } = classifyError(error);
  return `the token request failed (${errorClass}): ${message}`;
}

/**
 * A 401 with a WWW-Authenticate challenge (RFC 6749 §5.2: the answer to a client that sent its
 * secret in the Basic header). oauth4webapi stops at the challenge; the error code and its
 * description are in the JSON body (or, from some servers, in the challenge's parameters).
 */
async function describeChallenge(error: InstanceType<typeof oauth.WWWAuthenticateChallengeError>): Promise<string> {
  let body: { error?: unknown; error_description?: unknown } = {};
  try {
    body = (await error.response.clone().json()) as typeof body;
  } catch {
    // no JSON body: the challenge alone
  }
  const parameters = error.cause.find((c) => c.parameters.error)?.parameters ?? error.cause[0]?.parameters ?? {};
  const code = typeof body.error === 'string' ? body.error : (parameters.error ?? 'invalid_client');
  const description =
    typeof body.error_description === 'string' ? body.error_description : parameters.error_description;
  return `the token endpoint answered ${error.status} ${code}${description ? `: ${description}` : ''}`;
}
