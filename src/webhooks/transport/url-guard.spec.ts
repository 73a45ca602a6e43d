import { describe, expect, it, vi } from 'vitest';
import { BlockedAddressError, type ResolvedAddress, type Resolver, UrlGuard, isPublicAddress } from './url-guard.js';

/** A resolver that knows a fixed table of names; anything else fails like getaddrinfo does. */
const fakeResolver = (table: Record<string, ResolvedAddress[]>): Resolver =>
  vi.fn(async (host: string) => {
    const answer = table[host];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return answer;
  });

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });

const DNS: Record<string, ResolvedAddress[]> = {
  'hooks.example.com': [v4('93.184.216.34'), v6('2606:4700:4700::1111')],
  'internal.example.com': [v4('10.1.2.3')],
  'metadata.example.com': [v4('169.254.169.254')],
  'rebind.example.com': [v4('93.184.216.34'), v4('127.0.0.1')],
  'sneaky6.example.com': [v6('::ffff:192.168.0.10')],
  'mixed.example.com': [v4('192.168.1.5'), v4('8.8.8.8'), v6('::1'), v6('2606:4700:4700::1111')],
  'private-only.example.com': [v4('10.0.0.1'), v6('fd00::1')],
  'empty.example.com': [],
};

type LookupResult = {
  error: (Error & { code?: string }) | null;
  address?: string | ResolvedAddress[];
  family?: number;
};

const lookup = (guard: UrlGuard, hostname: string, options: { all?: boolean; family?: number }) =>
  new Promise<LookupResult>((resolve) =>
    guard.lookup(hostname, options, (error, address, family) => resolve({ error, address, family })),
  );

describe('isPublicAddress', () => {
  it.each([
    ['127.0.0.1', 'IPv4 loopback'],
    ['::7f00:1', 'IPv4-compatible IPv6 form of loopback (::127.0.0.1)'],
    ['::a00:1', 'IPv4-compatible IPv6 form of 10.0.0.1'],
    ['10.0.0.1', 'RFC 1918 10/8'],
    ['172.16.0.1', 'RFC 1918 172.16/12'],
    ['172.31.255.254', 'RFC 1918 172.16/12, top'],
    ['192.168.1.1', 'RFC 1918 192.168/16'],
    ['169.254.169.254', 'link-local cloud metadata'],
    ['100.64.0.1', 'CGNAT'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'documentation'],
    ['::1', 'IPv6 loopback'],
    ['::', 'IPv6 unspecified'],
    ['fe80::1', 'IPv6 link-local'],
    ['fc00::1', 'IPv6 unique local'],
    ['fd00:ec2::254', 'AWS IPv6 metadata (unique local)'],
    ['ff02::1', 'IPv6 multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata'],
  ])('refuses %s (%s)', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each([
    ['8.8.8.8'],
    ['93.184.216.34'],
    ['172.15.255.255'],
    ['172.32.0.1'],
    ['2606:4700:4700::1111'],
    ['::ffff:8.8.8.8'],
  ])('accepts the public address %s', (address) => {
    expect(isPublicAddress(address)).toBe(true);
  });

  it('refuses text that is not an IP address', () => {
    expect(isPublicAddress('example.com')).toBe(false);
    expect(isPublicAddress('')).toBe(false);
    expect(isPublicAddress('999.1.1.1')).toBe(false);
  });
});

describe('UrlGuard.check', () => {
  const guard = (allowPrivate = false, table = DNS) => new UrlGuard(allowPrivate, fakeResolver(table));

  it('accepts an https URL whose host resolves only to public addresses', async () => {
    const result = await guard().check('https://hooks.example.com/waybill?x=1');
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.url.href).toBe('https://hooks.example.com/waybill?x=1');
  });

  it('accepts a public IPv4 or IPv6 literal without resolving it', async () => {
    const resolve = fakeResolver(DNS);
    const g = new UrlGuard(false, resolve);
    expect((await g.check('http://93.184.216.34/hook')).ok).toBe(true);
    expect((await g.check('http://[2606:4700:4700::1111]:8443/hook')).ok).toBe(true);
    expect(resolve).not.toHaveBeenCalled();
  });

  it.each([
    'ftp://hooks.example.com/',
    'file:///etc/passwd',
    'javascript:alert(1)',
    'gopher://hooks.example.com/',
    'ws://hooks.example.com/',
  ])('refuses the non-http(s) URL %s', async (url) => {
    expect(await guard().check(url)).toEqual({ ok: false, reason: 'must use http or https' });
  });

  it('refuses text that is not an absolute URL', async () => {
    expect(await guard().check('/relative/path')).toEqual({
      ok: false,
      reason: 'must be an absolute http:// or https:// URL',
    });
    expect(await guard().check('not a url')).toMatchObject({ ok: false });
  });

  it('refuses credentials in the URL, user alone or user and password', async () => {
    expect(await guard().check('https://user:pass@hooks.example.com/')).toEqual({
      ok: false,
      reason: 'must not carry credentials; use custom headers',
    });
    for (const url of ['https://user@hooks.example.com/', 'https://:pass@hooks.example.com/']) {
      const verdict = await guard().check(url);
      expect(verdict.ok, url).toBe(false);
      expect(verdict.ok ? '' : verdict.reason, url).toContain('credentials');
    }
  });

  it.each([
    ['http://127.0.0.1/', '127.0.0.1'],
    ['http://10.0.0.5:8080/hook', '10.0.0.5'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['http://[::1]/', '::1'],
    ['http://[fd00:ec2::254]/', 'fd00:ec2::254'],
    ['http://0.0.0.0/', '0.0.0.0'],
  ])('refuses the private IP literal in %s', async (url, literal) => {
    expect(await guard().check(url)).toEqual({
      ok: false,
      reason: `points to ${literal}, which is not a public address`,
    });
  });

  it.each([
    ['http://2130706433/', 'a decimal integer'],
    ['http://0x7f000001/', 'a hex integer'],
    ['http://127.1/', 'a shortened dotted form'],
    ['http://017700000001/', 'an octal integer'],
    ['http://0x7f.0.0.1/', 'a hex first octet'],
    ['http://127.0.0.1./', 'a trailing dot'],
    ['http://[::ffff:7f00:1]/', 'an IPv4-mapped IPv6 in hex'],
    ['http://[0:0:0:0:0:ffff:127.0.0.1]/', 'an uncompressed IPv4-mapped IPv6'],
    ['http://0/', 'the number 0'],
  ])('refuses loopback or unspecified written as %s (%s)', async (url) => {
    const resolve = fakeResolver(DNS);
    const result = await new UrlGuard(false, resolve).check(url);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/^points to .+, which is not a public address$/);
    expect(resolve).not.toHaveBeenCalled();
  });

  it('refuses a hostname that resolves to a private address, naming the address', async () => {
    expect(await guard().check('https://internal.example.com/')).toEqual({
      ok: false,
      reason: 'resolves to 10.1.2.3, which is not a public address',
    });
    expect(await guard().check('https://metadata.example.com/')).toEqual({
      ok: false,
      reason: 'resolves to 169.254.169.254, which is not a public address',
    });
  });

  it('refuses a hostname when any one of its addresses is private', async () => {
    expect(await guard().check('https://rebind.example.com/')).toEqual({
      ok: false,
      reason: 'resolves to 127.0.0.1, which is not a public address',
    });
  });

  it('refuses a hostname that resolves to an IPv4-mapped private IPv6 address', async () => {
    expect((await guard().check('https://sneaky6.example.com/')).ok).toBe(false);
  });

  it('passes the URL hostname to the resolver', async () => {
    const resolve = fakeResolver(DNS);
    await new UrlGuard(false, resolve).check('https://hooks.example.com:8443/path');
    expect(resolve).toHaveBeenCalledWith('hooks.example.com');
  });

  it('accepts a hostname that does not resolve yet (DNS may come later)', async () => {
    const result = await guard().check('https://not-yet.example.com/hook');
    expect(result.ok).toBe(true);
  });

  it('with allowPrivate accepts loopback literals and hostnames resolving to private addresses', async () => {
    expect((await guard(true).check('http://127.0.0.1:3000/hook')).ok).toBe(true);
    expect((await guard(true).check('http://[::1]/hook')).ok).toBe(true);
    expect((await guard(true).check('http://internal.example.com/')).ok).toBe(true);
  });

  it('with allowPrivate still refuses other schemes and credentials', async () => {
    expect((await guard(true).check('ftp://127.0.0.1/')).ok).toBe(false);
    expect((await guard(true).check('http://a:b@127.0.0.1/')).ok).toBe(false);
  });
});

describe('UrlGuard.assertLiteralAllowed', () => {
  const guard = new UrlGuard(false, fakeResolver(DNS));

  it('throws BlockedAddressError with code EBLOCKED for a private literal', () => {
    let error: unknown;
    try {
      guard.assertLiteralAllowed(new URL('http://192.168.0.1/hook'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(BlockedAddressError);
    expect(error).toMatchObject({
      code: 'EBLOCKED',
      address: '192.168.0.1',
      message: '192.168.0.1 is not a public address',
    });
  });

  it('throws for numeric and bracketed forms of loopback', () => {
    expect(() => guard.assertLiteralAllowed(new URL('http://2130706433/'))).toThrow(BlockedAddressError);
    expect(() => guard.assertLiteralAllowed(new URL('http://[::1]/'))).toThrow(BlockedAddressError);
    expect(() => guard.assertLiteralAllowed(new URL('http://[::ffff:7f00:1]/'))).toThrow(BlockedAddressError);
  });

  it('does not throw for a public literal or a hostname (checked at lookup instead)', () => {
    expect(() => guard.assertLiteralAllowed(new URL('http://8.8.8.8/'))).not.toThrow();
    expect(() => guard.assertLiteralAllowed(new URL('http://[2606:4700:4700::1111]/'))).not.toThrow();
    expect(() => guard.assertLiteralAllowed(new URL('http://internal.example.com/'))).not.toThrow();
  });

  it('does not throw for a private literal when private addresses are allowed', () => {
    expect(() =>
      new UrlGuard(true, fakeResolver(DNS)).assertLiteralAllowed(new URL('http://127.0.0.1/')),
    ).not.toThrow();
  });
});

describe('UrlGuard.lookup', () => {
  const guard = new UrlGuard(false, fakeResolver(DNS));

  it('with all:true answers only the public addresses of a mixed answer', async () => {
    expect(await lookup(guard, 'mixed.example.com', { all: true })).toEqual({
      error: null,
      address: [v4('8.8.8.8'), v6('2606:4700:4700::1111')],
      family: undefined,
    });
  });

  it('without all answers the first public address and its family', async () => {
    expect(await lookup(guard, 'mixed.example.com', {})).toEqual({ error: null, address: '8.8.8.8', family: 4 });
  });

  it('honours a requested family', async () => {
    expect(await lookup(guard, 'mixed.example.com', { family: 6 })).toEqual({
      error: null,
      address: '2606:4700:4700::1111',
      family: 6,
    });
    expect(await lookup(guard, 'mixed.example.com', { all: true, family: 4 })).toMatchObject({
      error: null,
      address: [v4('8.8.8.8')],
    });
  });

  it('errors with code EBLOCKED when every address is private', async () => {
    const { error, address } = await lookup(guard, 'private-only.example.com', { all: true });
    expect(error).toBeInstanceOf(BlockedAddressError);
    expect(error?.code).toBe('EBLOCKED');
    expect(address).toBeUndefined();
  });

  it('errors with code EBLOCKED when a public address exists only in the wrong family', async () => {
    const { error } = await lookup(guard, 'rebind.example.com', { family: 6 });
    expect(error?.code).toBe('EBLOCKED');
  });

  it('errors with ENOTFOUND when the name has no address at all', async () => {
    const { error } = await lookup(guard, 'empty.example.com', { all: true });
    expect(error?.code).toBe('ENOTFOUND');
  });

  it("passes the resolver's own error through", async () => {
    const { error } = await lookup(guard, 'nowhere.example.com', { all: true });
    expect(error?.code).toBe('ENOTFOUND');
    expect(error?.message).toContain('nowhere.example.com');
  });

  it('answers private addresses when private addresses are allowed', async () => {
    const open = new UrlGuard(true, fakeResolver(DNS));
    expect(await lookup(open, 'private-only.example.com', { all: true })).toMatchObject({
      error: null,
      address: [v4('10.0.0.1'), v6('fd00::1')],
    });
    expect(await lookup(open, 'private-only.example.com', {})).toEqual({ error: null, address: '10.0.0.1', family: 4 });
  });
});
