import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('configuration', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      databaseUrl: undefined,
      dataDir: path.resolve('./.data'),
      adminToken: undefined,
      logLevel: 'info',
      logFormat: 'pretty',
      role: 'all',
      publicUrl: 'http://localhost:3000',
      embeddedPostgresPort: 54329,
    });
  });

  it('logs JSON in production and derives PUBLIC_URL from PORT', () => {
    const config = loadConfig({ NODE_ENV: 'production', PORT: '8080' });
    expect(config.logFormat).toBe('json');
    expect(config.publicUrl).toBe('http://localhost:8080');
  });

  it('reports every bad value at once, by name, with what is allowed', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', ROLE: 'boss', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x', ADMIN_TOKEN: 'short' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toContain('PORT must be a port number');
    expect(problems).toContain('ROLE must be one of api, worker, all (got "boss")');
    expect(problems).toContain('LOG_LEVEL must be one of error, warn, info, debug, verbose');
    expect(problems).toContain('DATABASE_URL must be a postgres://');
    expect(problems).toContain('ADMIN_TOKEN must be at least 16 characters');
  });

  it('reads SETTINGS_FRAME_ANCESTORS as CSP sources and refuses paths and bare hosts', () => {
    expect(loadConfig({}).settingsFrameAncestors).toEqual([]);
    expect(
      loadConfig({ SETTINGS_FRAME_ANCESTORS: "https://tms.example.com, https://*.acme.test:8443 'self'" })
        .settingsFrameAncestors,
    ).toEqual(['https://tms.example.com', 'https://*.acme.test:8443', "'self'"]);
    for (const bad of ['tms.example.com', 'https://tms.example.com/path', 'https://x.test; script-src *', '*']) {
      expect(() => loadConfig({ SETTINGS_FRAME_ANCESTORS: bad }), bad).toThrow(/SETTINGS_FRAME_ANCESTORS/);
    }
  });

  it('reads TRUST_PROXY as proxy addresses and ranges, never as "trust everyone" or a hop count', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8, loopback 2001:db8::1 fd00::/8' }).trustProxy).toEqual([
      '10.0.0.0/8',
      'loopback',
      '2001:db8::1',
      'fd00::/8',
    ]);
    for (const bad of ['true', '1', '10.0.0.0/33', 'proxy.internal', '10.0.0.1/8/1', '*']) {
      expect(() => loadConfig({ TRUST_PROXY: bad }), bad).toThrow(/TRUST_PROXY must list the addresses/);
    }
    expect(() => loadConfig({ TRUST_PROXY: 'true' })).toThrow(/any client choose its address/);
  });

  it('reads WEBHOOK_EGRESS_PROXY as an http(s) proxy origin, credentials allowed', () => {
    expect(loadConfig({}).webhooks.egressProxy).toBeNull();
    expect(
      loadConfig({ WEBHOOK_EGRESS_PROXY: 'http://u:p%40ss@egress.internal:3128' }).webhooks.egressProxy?.href,
    ).toBe('http://u:p%40ss@egress.internal:3128/');
    expect(loadConfig({ WEBHOOK_EGRESS_PROXY: 'https://egress.example.com' }).webhooks.egressProxy?.port).toBe('');
    for (const bad of ['socks5://egress:1080', 'egress:3128', 'http://egress:3128/path', 'ftp://x']) {
      expect(() => loadConfig({ WEBHOOK_EGRESS_PROXY: bad }), bad).toThrow(/WEBHOOK_EGRESS_PROXY/);
    }
    // Credentials that are not valid percent-encoding are a configuration problem, said without echoing them.
    const malformed = () => loadConfig({ WEBHOOK_EGRESS_PROXY: 'http://waybill:s3cret%zz@egress:3128' });
    expect(malformed).toThrow(/WEBHOOK_EGRESS_PROXY/);
    expect(malformed).not.toThrow(/s3cret/);
  });
});
