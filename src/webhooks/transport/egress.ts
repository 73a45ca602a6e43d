import net from 'node:net';
import { rootCertificates } from 'node:tls';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, Pool } from 'undici';
import type { ClientTls } from './tls-probe.js';
import { BlockedAddressError, type UrlGuard } from './url-guard.js';

/** Connecting (TCP, the proxy's CONNECT, TLS) gives up after this long. */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The egress proxy refused or failed a tunnel. Its message is shown to tenants (attempt reasons,
 * the connection check): it says "the egress proxy", never the operator's proxy address.
 */
export class EgressProxyError extends Error {
  readonly code = 'EPROXY';
}

/** Why a tunnel could not be had, in words that do not name the proxy's address (its errors do). */
function tunnelFailure(error: unknown, timeoutMs: number): string {
  const { name, code } = error as { name?: string; code?: string };
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_CONNECT_TIMEOUT')
    return `the egress proxy did not open the tunnel within ${timeoutMs} ms`;
  if (code === 'ECONNREFUSED') return 'the egress proxy refused the connection';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the egress proxy could not be resolved';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'the egress proxy closed the connection';
  return `the egress proxy failed (${code ?? name ?? 'error'})`;
}

const bare = (host: string) => host.replace(/^\[|\]$/g, '');
const hostPort = (address: string, port: number) =>
  `${ipaddr.parse(address).kind() === 'ipv6' ? `[${address}]` : address}:${port}`;

/**
 * How Waybill's requests leave: straight to the receiver, or, with WEBHOOK_EGRESS_PROXY, through
 * a forward proxy (a static-IP egress gateway the ERPs allowlist). Either way the URL guard
 * decides first: the receiver's name is resolved and checked here, and the connection (or the
 * proxy's `CONNECT`) goes to the checked address, never to the name, so neither DNS nor the
 * proxy can be turned on the internal network. Over the tunnel TLS runs end to end with the
 * receiver (SNI and certificate checked against the name; the client certificate of mutual TLS
 * presented to the receiver, not the proxy). The proxy itself is the operator's and may be on a
 * private address.
 */
export class Egress {
  /** Connections to the proxy, shared by every tunnel (undici's CONNECT, as its ProxyAgent uses). */
  private readonly proxyPool: Pool | null;
  private readonly proxyAuthorization: string | undefined;

  constructor(
    private readonly guard: UrlGuard,
    readonly proxy: URL | null,
  ) {
    if (!proxy) {
      this.proxyPool = null;
      return;
    }
    if (proxy.username || proxy.password) {
      const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
      this.proxyAuthorization = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    this.proxyPool = new Pool(proxy.origin, {
      connect: buildConnector({ timeout: CONNECT_TIMEOUT_MS }),
      connections: 64,
    });
  }

  /** A pool of connections to receivers (with a client certificate for mutual TLS). */
  agent(tls: ClientTls | null = null, connections = 128): Agent {
    const trust = {
      cert: tls?.clientCertificatePem,
      key: tls?.clientKeyPem,
      ca: tls?.caPem ? [...rootCertificates, tls.caPem] : undefined,
    };
    return new Agent({
      connect: this.proxyPool
        ? this.tunnelConnector(buildConnector({ ...trust, timeout: CONNECT_TIMEOUT_MS }))
        : { lookup: this.guard.lookup as never, timeout: CONNECT_TIMEOUT_MS, ...trust },
      keepAliveTimeout: 30_000,
      connections,
      pipelining: 1,
    });
  }

  /** A TCP connection to a checked address: direct, or a tunnel through the proxy (the connection check). */
  async open(address: string, port: number, timeoutMs: number): Promise<net.Socket> {
    if (!this.proxyPool) return connectDirect(address, port, timeoutMs);
    return this.tunnel(address, port, timeoutMs);
  }

  /** The address a connection to `host` may use: a literal is its own, a name the first allowed address. */
  async checkedAddress(host: string): Promise<string> {
    const addresses = await this.guard.addressesOf(bare(host));
    const [allowed] = this.guard.allowed(addresses);
    if (!allowed) throw new BlockedAddressError(addresses[0].address);
    return allowed.address;
  }

  private tunnelConnector(endpointTls: buildConnector.connector): buildConnector.connector {
    return (options, callback) => {
      const hostname = bare(options.hostname);
      const port = Number(options.port) || (options.protocol === 'https:' ? 443 : 80);
      this.checkedAddress(hostname)
        .then((address) => this.tunnel(address, port, CONNECT_TIMEOUT_MS))
        .then(
          (socket) => {
            if (options.protocol !== 'https:') {
              callback(null, socket);
              return;
            }
            // TLS with the receiver over the tunnel: SNI and the certificate check use its name.
            endpointTls(
              {
                ...options,
                hostname,
                servername: ipaddr.isValid(hostname) ? undefined : (options.servername ?? hostname),
                httpSocket: socket,
              },
              (error, secure) => {
                if (error) socket.destroy();
                callback(error, secure as never);
              },
            );
          },
          (error: Error) => callback(error, null),
        );
    };
  }

  /** `CONNECT address:port` through the proxy: the socket once the proxy answered 200. */
  private async tunnel(address: string, port: number, timeoutMs: number): Promise<net.Socket> {
    const target = hostPort(address, port);
    const headers: Record<string, string> = { host: target };
    if (this.proxyAuthorization) headers['proxy-authorization'] = this.proxyAuthorization;
    let answer: { statusCode: number; socket: net.Socket };
    try {
      answer = (await this.proxyPool!.connect({
        path: target,
        headers,
        signal: AbortSignal.timeout(timeoutMs),
      })) as unknown as { statusCode: number; socket: net.Socket };
    } catch (error) {
      throw Object.assign(new EgressProxyError(tunnelFailure(error, timeoutMs)), { cause: error });
    }
    if (answer.statusCode !== 200) {
      answer.socket.destroy();
      throw new EgressProxyError(
        `the egress proxy answered ${answer.statusCode} to CONNECT ${target}` +
          (answer.statusCode === 407 ? ' (check the credentials in WEBHOOK_EGRESS_PROXY)' : ''),
      );
    }
    return answer.socket;
  }

  async close(): Promise<void> {
    await this.proxyPool?.close().catch(() => undefined);
  }
}

function connectDirect(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' }));
    });
    socket.once('connect', () => {
      socket.setTimeout(0);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
