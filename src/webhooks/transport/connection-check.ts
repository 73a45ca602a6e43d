import { Inject, Injectable } from '@nestjs/common';
import ipaddr from 'ipaddr.js';
import { conflict } from '../../common/errors.js';
import { WebhooksService } from '../subscriptions/webhooks.service.js';
import { AuthError, ReceiverClient } from './receiver-client.js';
import { runtimeOf } from '../subscriptions/webhook-runtime.js';
import { EgressProxyError } from './egress.js';
import { describeError, handshake } from './tls-probe.js';
import { type ResolvedAddress, UrlGuard } from './url-guard.js';

export type StepName = 'resolve' | 'guard' | 'connect' | 'tls' | 'token';

export interface CheckStep {
  name: StepName;
  ok: boolean;
  error?: string;
}

export interface CheckResult {
  ok: boolean;
  steps: CheckStep[];
}

/** No step waits longer than this, whatever the subscription's timeout. */
const STEP_TIMEOUT_MS = 10_000;

/**
 * "Will pushes get through?", without sending an event or any HTTP request to the endpoint:
 * the name resolves, its addresses pass the address guard, a TCP connection opens, TLS completes
 * (with the subscription's client certificate and CA) and, for OAuth2, the token endpoint issues a
 * token. The steps after a failed endpoint step are not tried; the token step is tried anyway
 * (another server), so one check tells an admin everything that is wrong.
 */
@Injectable()
export class ConnectionCheck {
  constructor(
    private readonly webhooks: WebhooksService,
    private readonly guard: UrlGuard,
    @Inject(ReceiverClient) private readonly receivers: ReceiverClient,
  ) {}

  async check(tenantId: string, webhookId: string): Promise<CheckResult> {
    const webhook = await this.webhooks.find(tenantId, webhookId);
    if (webhook.deliveryMode === 'pull' || !webhook.url)
      throw conflict(`webhook ${webhookId} is a pull feed: it has no endpoint to check`);
    const runtime = runtimeOf(webhook);
    const credentials = this.receivers.credentialsOf(runtime);
    const timeoutMs = Math.min(webhook.timeoutMs, STEP_TIMEOUT_MS);
    const steps: CheckStep[] = [];
    await this.checkEndpoint(new URL(webhook.url), timeoutMs, credentials.tls, steps);
    if (credentials.auth?.type === 'oauth2ClientCredentials') {
      try {
        await this.receivers.requestToken(credentials.auth, timeoutMs, credentials.agent);
        steps.push({ name: 'token', ok: true });
      } catch (error) {
        steps.push({
          name: 'token',
          ok: false,
          error: error instanceof AuthError ? error.message : describeError(error),
        });
      }
    }
    return { ok: steps.every((s) => s.ok), steps };
  }

  private async checkEndpoint(
    url: URL,
    timeoutMs: number,
    clientTls: { clientCertificatePem: string; clientKeyPem: string; caPem?: string } | null,
    steps: CheckStep[],
  ): Promise<void> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));

    let addresses: ResolvedAddress[];
    try {
      addresses = await this.guard.addressesOf(host);
    } catch (error) {
      steps.push({
        name: 'resolve',
        ok: false,
        error: `${host} does not resolve (${(error as { code?: string }).code ?? describeError(error)})`,
      });
      return;
    }
    steps.push({ name: 'resolve', ok: true });

    const allowed = this.guard.allowed(addresses);
    if (allowed.length === 0) {
      steps.push({
        name: 'guard',
        ok: false,
        error: `${host} is at ${addresses[0].address}, which is not a public address`,
      });
      return;
    }
    steps.push({ name: 'guard', ok: true });

    const address = allowed[0].address;
    let socket: import('node:net').Socket;
    try {
      socket = await this.receivers.egress.open(address, port, timeoutMs);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const message =
        error instanceof EgressProxyError
          ? error.message
          : code === 'ECONNREFUSED'
            ? `${address} port ${port} refused the connection`
            : code === 'ETIMEDOUT'
              ? `${address} port ${port} did not answer within ${timeoutMs} ms`
              : `could not connect to ${address} port ${port}: ${describeError(error)}`;
      steps.push({ name: 'connect', ok: false, error: message });
      return;
    }
    steps.push({ name: 'connect', ok: true });

    if (url.protocol !== 'https:') {
      socket.destroy();
      return;
    }
    try {
      await handshake(socket, ipaddr.isValid(host) ? undefined : host, timeoutMs, clientTls);
      steps.push({ name: 'tls', ok: true });
    } catch (error) {
      steps.push({ name: 'tls', ok: false, error: describeError(error) });
    }
  }
}
