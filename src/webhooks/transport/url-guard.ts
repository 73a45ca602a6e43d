import dns from 'node:dns';
import ipaddr from 'ipaddr.js';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Turns a hostname into addresses; injectable so tests can make a name resolve anywhere. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((a) => ({
    address: a.address,
    family: a.family as 4 | 6,
  }));

export const RESOLVER = Symbol('RESOLVER');

export class BlockedAddressError extends Error {
  readonly code = 'EBLOCKED';
  constructor(readonly address: string) {
    super(`${address} is not a public address`);
  }
}

/**
 * Only plain public unicast addresses may be reached: loopback, private, link-local (cloud
 * metadata lives there), CGNAT, multicast, unspecified, reserved and documentation ranges are
 * refused, and an IPv4-mapped IPv6 address is judged as the IPv4 address it carries.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address.replace(/^\[|\]$/g, ''));
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    // IPv4-compatible (::a.b.c.d, deprecated) carries an IPv4 address the same way: refuse it.
    if (v6.parts.slice(0, 6).every((part) => part === 0)) return false;
    if (v6.isIPv4MappedAddress()) parsed = v6.toIPv4Address();
  }
  return parsed.range() === 'unicast';
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

function parseWebhookUrl(text: string): UrlCheck {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'must be an absolute http:// or https:// URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, reason: 'must use http or https' };
  if (url.username || url.password) return { ok: false, reason: 'must not carry credentials; use custom headers' };
  return { ok: true, url };
}

const literalHost = (url: URL): string | undefined => {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return ipaddr.isValid(host) ? host : undefined;
};

export class UrlGuard {
  constructor(
    private readonly allowPrivate: boolean,
    readonly resolve: Resolver,
  ) {}

  /** WEBHOOK_ALLOW_PRIVATE: loopback and private addresses may be reached (development and tests). */
  get allowsPrivate(): boolean {
    return this.allowPrivate;
  }

  /** The addresses a connection may go to: all of them with WEBHOOK_ALLOW_PRIVATE, else the public ones. */
  allowed(addresses: ResolvedAddress[]): ResolvedAddress[] {
    return this.allowPrivate ? addresses : addresses.filter((a) => isPublicAddress(a.address));
  }

  /** A URL host's addresses: an IP literal is its own, a name is resolved (rejects when it does not resolve). */
  async addressesOf(host: string): Promise<ResolvedAddress[]> {
    if (ipaddr.isValid(host)) return [{ address: host, family: ipaddr.parse(host).kind() === 'ipv6' ? 6 : 4 }];
    const addresses = await this.resolve(host);
    if (addresses.length === 0) throw Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' });
    return addresses;
  }

  /**
   * At creation and update: the URL's form, and every address its host resolves to. A host that
   * does not resolve yet is accepted (DNS may come later); the send will fail as `dns` then.
   */
  async check(text: string): Promise<UrlCheck> {
    const parsed = parseWebhookUrl(text);
    if (!parsed.ok || this.allowPrivate) return parsed;
    const literal = literalHost(parsed.url);
    if (literal) {
      return isPublicAddress(literal)
        ? parsed
        : { ok: false, reason: `points to ${literal}, which is not a public address` };
    }
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.resolve(parsed.url.hostname);
    } catch {
      return parsed;
    }
    const blocked = addresses.find((a) => !isPublicAddress(a.address));
    return blocked ? { ok: false, reason: `resolves to ${blocked.address}, which is not a public address` } : parsed;
  }

  /** At send time, for a URL whose host is an IP literal (no lookup happens for those). */
  assertLiteralAllowed(url: URL): void {
    if (this.allowPrivate) return;
    const literal = literalHost(url);
    if (literal && !isPublicAddress(literal)) throw new BlockedAddressError(literal);
  }

  /**
   * The `lookup` given to the HTTP client's connector: the connection goes to an address this
   * function checked, so a DNS answer that changed since creation cannot slip through.
   */
  readonly lookup = (
    hostname: string,
    options: { all?: boolean; family?: number },
    callback: (error: Error | null, address?: string | ResolvedAddress[], family?: number) => void,
  ): void => {
    this.resolve(hostname).then(
      (addresses) => {
        const allowed = this.allowed(addresses);
        const usable = options.family ? allowed.filter((a) => a.family === options.family) : allowed;
        if (usable.length === 0) {
          const error = addresses.length
            ? new BlockedAddressError(addresses[0].address)
            : Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' });
          callback(error);
          return;
        }
        if (options.all) callback(null, usable);
        else callback(null, usable[0].address, usable[0].family);
      },
      (error: Error) => callback(error),
    );
  };
}
