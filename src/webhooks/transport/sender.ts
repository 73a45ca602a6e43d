import { type Agent, type Dispatcher, request } from 'undici';
import { type Egress, EgressProxyError } from './egress.js';
import { BlockedAddressError, type UrlGuard } from './url-guard.js';

/** Bodies kept in the audit are cut here. */
export const AUDIT_BODY_LIMIT = 16 * 1024;

export type ErrorClass =
  | 'timeout'
  | 'connection_refused'
  | 'connection_reset'
  | 'dns'
  | 'tls'
  | 'blocked_address'
  | 'http_status'
  | 'transform_error'
  | 'auth_error'
  | 'aborted'
  | 'network';

export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

export interface AttemptOutcome {
  startedAt: Date;
  durationMs: number;
  responseStatus: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  errorClass: ErrorClass | null;
  errorMessage: string | null;
}

const TLS_CODES =
  /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;

/**
 * Names a failed request's cause the way the audit shows it. A failure of the egress proxy is
 * classed by its cause but told in its own words, which do not name the operator's proxy.
 */
export function classifyError(error: unknown): { errorClass: ErrorClass; message: string } {
  const { errorClass, message } = classifyChain(error);
  return { errorClass, message: proxyFailureIn(error)?.message ?? message };
}

function proxyFailureIn(error: unknown): EgressProxyError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (current instanceof EgressProxyError) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function classifyChain(error: unknown): { errorClass: ErrorClass; message: string } {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const e = current as { name?: string; code?: string; message?: string; cause?: unknown };
    const code = e.code ?? '';
    const message = e.message ?? String(current);
    if (current instanceof BlockedAddressError || code === 'EBLOCKED')
      return { errorClass: 'blocked_address', message };
    if (
      e.name === 'TimeoutError' ||
      e.name === 'AbortError' ||
      code === 'UND_ERR_CONNECT_TIMEOUT' ||
      code === 'UND_ERR_HEADERS_TIMEOUT' ||
      code === 'UND_ERR_BODY_TIMEOUT' ||
      code === 'ETIMEDOUT'
    ) {
      return { errorClass: 'timeout', message };
    }
    if (code === 'ECONNREFUSED') return { errorClass: 'connection_refused', message };
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME' || code === 'EAI_FAIL')
      return { errorClass: 'dns', message };
    if (TLS_CODES.test(code) || /certificate|ssl|tls/i.test(message)) return { errorClass: 'tls', message };
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET') {
      if (e.cause) {
        current = e.cause;
        continue;
      }
      return { errorClass: 'connection_reset', message };
    }
    if (!e.cause) break;
    current = e.cause;
  }
  const e = error as { message?: string };
  return { errorClass: 'network', message: e.message ?? String(error) };
}

async function readLimited(body: AsyncIterable<Buffer> & { destroy?: () => void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < AUDIT_BODY_LIMIT) chunks.push(chunk);
    size += chunk.length;
    if (size > 4 * AUDIT_BODY_LIMIT) {
      body.destroy?.();
      break;
    }
  }
  // PostgreSQL text cannot hold NUL.
  return Buffer.concat(chunks).subarray(0, AUDIT_BODY_LIMIT).toString('utf8').replaceAll('\u0000', '');
}

/**
 * The request's answer, or the signal's reason as soon as it aborts. undici notes an abort that
 * comes while its connection is still being made (a TCP connect, the egress proxy's CONNECT, a
 * TLS handshake) and acts on it only once the connector is done, up to its own connect timeout:
 * the attempt ends at its deadline here instead, and undici still drops the request unsent when
 * the connection comes.
 */
function untilAborted<T extends { body: { destroy(): unknown } }>(
  pending: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (response) => {
        signal.removeEventListener('abort', onAbort);
        if (signal.aborted) response.body.destroy();
        else resolve(response);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}

/**
 * One HTTP attempt: POST with a timeout over a shared, keep-alive connection pool whose
 * connections go to addresses the URL guard checked (directly or through the egress proxy);
 * redirects are not followed; the outcome is classified, never thrown.
 */
export class Sender {
  readonly agent: Agent;

  constructor(
    private readonly guard: UrlGuard,
    readonly egress: Egress,
  ) {
    this.agent = egress.agent();
  }

  /**
   * `dispatcher`: a subscription's own connections (mutual TLS); the shared pool otherwise.
   * `abort`: this instance is shutting down; the request ends at once as `aborted`.
   */
  async send(
    outgoing: OutgoingRequest,
    dispatcher: Dispatcher = this.agent,
    abort?: AbortSignal,
  ): Promise<AttemptOutcome> {
    const startedAt = new Date();
    const started = performance.now();
    const finish = (partial: Omit<AttemptOutcome, 'startedAt' | 'durationMs'>): AttemptOutcome => ({
      startedAt,
      durationMs: Math.round(performance.now() - started),
      ...partial,
    });
    // One controller per request, cut by its timeout or by shutdown: AbortSignal.timeout with
    // AbortSignal.any over the long-lived shutdown signal cost a timer, a composite signal and
    // weak references per request (about 3 % of the engine's CPU in a drain, and garbage).
    const controller = new AbortController();
    const signal = controller.signal;
    const timer = setTimeout(
      () => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      outgoing.timeoutMs,
    );
    timer.unref();
    const onShutdown = () => controller.abort(abort?.reason);
    if (abort?.aborted) onShutdown();
    else abort?.addEventListener('abort', onShutdown, { once: true });
    try {
      this.guard.assertLiteralAllowed(new URL(outgoing.url));
      const response = await untilAborted(
        request(outgoing.url, {
          method: 'POST',
          headers: outgoing.headers,
          body: outgoing.body,
          dispatcher,
          signal,
          headersTimeout: outgoing.timeoutMs,
          bodyTimeout: outgoing.timeoutMs,
        }),
        signal,
      );
      const responseBody = await readLimited(response.body);
      const responseHeaders: Record<string, string> = {};
      for (const [name, value] of Object.entries(response.headers)) {
        if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      return finish({
        responseStatus: response.statusCode,
        responseHeaders,
        responseBody,
        errorClass: ok ? null : 'http_status',
        errorMessage: ok ? null : `the endpoint answered ${response.statusCode}`,
      });
    } catch (error) {
      const { errorClass, message } = abort?.aborted
        ? {
            errorClass: 'aborted' as const,
            message: 'cut short: this instance shut down while the request was in flight',
          }
        : classifyError(error);
      return finish({
        responseStatus: null,
        responseHeaders: null,
        responseBody: null,
        errorClass,
        errorMessage: message,
      });
    } finally {
      clearTimeout(timer);
      abort?.removeEventListener('abort', onShutdown);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
    await this.egress.close();
  }
}
