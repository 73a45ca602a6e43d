import net from 'node:net';
import tls from 'node:tls';

/**
 * Under TLS 1.3 a server that refuses the client certificate says so with an alert after the
 * handshake has completed; a probe waits this long for one before calling TLS good.
 */
const TLS_ALERT_WAIT_MS = 300;

/** A client certificate to present, and a CA to trust besides the public roots. */
export interface ClientTls {
  clientCertificatePem: string;
  clientKeyPem: string;
  caPem?: string;
}

export function connect(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
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

/**
 * A TLS handshake on the open socket, verifying the server's certificate against the public roots
 * (and the subscription's CA), presenting the client certificate; then a short wait for the
 * server's verdict on that certificate.
 */
export function handshake(
  socket: net.Socket,
  servername: string | undefined,
  timeoutMs: number,
  clientTls: ClientTls | null,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket,
      servername,
      cert: clientTls?.clientCertificatePem,
      key: clientTls?.clientKeyPem,
      ca: clientTls?.caPem ? [...tls.rootCertificates, clientTls.caPem] : undefined,
      ALPNProtocols: ['http/1.1'],
    });
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      secure.destroy();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => finish(new Error(`the TLS handshake did not finish within ${timeoutMs} ms`)),
      timeoutMs,
    );
    secure.once('error', (error: Error) => finish(error));
    secure.once('close', () =>
      finish(
        new Error('the server closed the connection during the TLS handshake (it may require a client certificate)'),
      ),
    );
    secure.once('secureConnect', () => {
      // Read so that an alert sent after the handshake (a refused client certificate) surfaces as an error.
      secure.on('data', () => undefined);
      setTimeout(() => finish(), TLS_ALERT_WAIT_MS);
    });
  });
}

/**
 * Why an https request's connection closed before any answer, when TLS is the reason: a fresh
 * handshake with the same certificate and trust, whose error (an alert refusing the client
 * certificate, an untrusted server certificate) is returned; undefined when TLS is fine. HTTP
 * clients only see "other side closed" when a TLS 1.3 server refuses the client certificate.
 */
export async function tlsFailure(
  address: string,
  port: number,
  servername: string | undefined,
  timeoutMs: number,
  clientTls: ClientTls | null,
  open: (address: string, port: number, timeoutMs: number) => Promise<net.Socket> = connect,
): Promise<string | undefined> {
  let socket: net.Socket;
  try {
    socket = await open(address, port, timeoutMs);
  } catch {
    return undefined;
  }
  try {
    await handshake(socket, servername, timeoutMs, clientTls);
    return undefined;
  } catch (error) {
    return describeError(error);
  }
}

/** An error as "CODE: message" (the code once), for answers an admin reads. */
export function describeError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e.code && !(e.message ?? '').includes(e.code) ? `${e.code}: ${e.message}` : (e.message ?? String(error));
}
