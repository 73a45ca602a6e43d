import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TokenRequest {
  grantType: string | null;
  clientId: string | null;
  clientSecret: string | null;
  /** How the client authenticated: the Basic header or the form body. */
  clientAuth: 'client_secret_basic' | 'client_secret_post' | 'none';
  scope: string | null;
  audience: string | null;
}

/**
 * A loopback OAuth2 authorization server for the client-credentials grant (RFC 6749 §4.4): it
 * checks the client's id and secret, issues opaque bearer tokens with a chosen lifetime, and
 * remembers which tokens are valid so a protected receiver can accept only those.
 */
export class TokenServer {
  readonly requests: TokenRequest[] = [];
  readonly issued: string[] = [];
  private readonly valid = new Set<string>();
  private readonly server: http.Server;
  expiresIn: number | undefined = 3600;
  delayMs = 0;
  /** Answer every request with this status instead (a broken token endpoint). */
  failWith: number | null = null;
  url = '';

  constructor(private readonly clients: Record<string, string>) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () =>
        setTimeout(() => this.answer(req, Buffer.concat(chunks).toString('utf8'), res), this.delayMs),
      );
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/oauth2/token`;
    return this;
  }

  isValid(authorization: string | undefined): boolean {
    const match = /^Bearer (.+)$/.exec(authorization ?? '');
    return !!match && this.valid.has(match[1]);
  }

  /** The ERP forgets a token (as after a key rollover): its next use answers 401. */
  revoke(token: string): void {
    this.valid.delete(token);
  }

  private answer(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const form = new URLSearchParams(body);
    let clientId = form.get('client_id');
    let clientSecret = form.get('client_secret');
    let clientAuth: TokenRequest['clientAuth'] = clientSecret ? 'client_secret_post' : 'none';
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '');
    if (basic) {
      const [id, secret] = Buffer.from(basic[1], 'base64').toString('utf8').split(':');
      clientId = decodeURIComponent(id);
      clientSecret = decodeURIComponent(secret);
      clientAuth = 'client_secret_basic';
    }
    this.requests.push({
      grantType: form.get('grant_type'),
      clientId,
      clientSecret,
      clientAuth,
      scope: form.get('scope'),
      audience: form.get('audience'),
    });
    const json = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(payload));
    };
    if (this.failWith !== null)
      return json(this.failWith, { error: 'temporarily_unavailable', error_description: 'the token service is down' });
    if (req.method !== 'POST' || form.get('grant_type') !== 'client_credentials')
      return json(400, { error: 'unsupported_grant_type' });
    if (!clientId || this.clients[clientId] === undefined || this.clients[clientId] !== clientSecret) {
      // RFC 6749 §5.2: a client that authenticated with the Authorization header gets a challenge.
      if (clientAuth === 'client_secret_basic') res.setHeader('www-authenticate', 'Basic realm="erp"');
      return json(401, { error: 'invalid_client', error_description: 'client authentication failed' });
    }
    const token = `at-${this.issued.length + 1}-${Math.random().toString(36).slice(2)}`;
    this.issued.push(token);
    this.valid.add(token);
    if (this.expiresIn !== undefined) setTimeout(() => this.valid.delete(token), this.expiresIn * 1000).unref();
    json(200, {
      access_token: token,
      token_type: 'Bearer',
      ...(this.expiresIn !== undefined ? { expires_in: this.expiresIn } : {}),
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
