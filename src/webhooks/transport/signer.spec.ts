import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { generateSigningSecret, signatureHeader, signingKey } from './signer.js';

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('generateSigningSecret', () => {
  it('is whsec_ followed by the canonical base64 of 32 bytes', () => {
    const secret = generateSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const bytes = Buffer.from(secret.slice('whsec_'.length), 'base64');
    expect(bytes).toHaveLength(32);
    expect(`whsec_${bytes.toString('base64')}`).toBe(secret);
  });

  it('is different every time', () => {
    const secrets = new Set(Array.from({ length: 20 }, () => generateSigningSecret()));
    expect(secrets.size).toBe(20);
  });

  it('is accepted by the standardwebhooks library as a 32-byte key', () => {
    const secret = generateSigningSecret();
    expect(signingKey(secret)).toHaveLength(32);
    expect(() => new Webhook(secret)).not.toThrow();
  });
});

describe('signingKey', () => {
  it('decodes the base64 after the whsec_ prefix, and bare base64 the same way', () => {
    const raw = Buffer.alloc(32, 7);
    expect(signingKey(`whsec_${raw.toString('base64')}`)).toEqual(raw);
    expect(signingKey(raw.toString('base64'))).toEqual(raw);
  });
});

describe('signatureHeader', () => {
  it('produces exactly what standardwebhooks sign() produces for one key', () => {
    const secret = generateSigningSecret();
    const id = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
    const ts = 1_674_087_231;
    const body = '{"type":"order.created","data":{"id":"ord_1"}}';
    expect(signatureHeader([signingKey(secret)], id, ts, body)).toBe(
      new Webhook(secret).sign(id, new Date(ts * 1000), body),
    );
  });

  it('matches standardwebhooks for non-ASCII bodies, empty bodies and many random secrets', () => {
    const bodies = ['', '{"name":"Müller & Søn — 東京 🚚"}', 'x'.repeat(100_000), '{"a":"line\\nbreak"}'];
    for (let i = 0; i < 10; i++) {
      const secret = generateSigningSecret();
      for (const body of bodies) {
        const ts = 1_700_000_000 + i;
        expect(signatureHeader([signingKey(secret)], `evt_${i}`, ts, body)).toBe(
          new Webhook(secret).sign(`evt_${i}`, new Date(ts * 1000), body),
        );
      }
    }
  });

  it('matches standardwebhooks for a secret given without the whsec_ prefix', () => {
    const bare = Buffer.alloc(24, 0xab).toString('base64');
    const ts = 1_700_000_000;
    expect(signatureHeader([signingKey(bare)], 'evt_1', ts, '{}')).toBe(
      new Webhook(bare).sign('evt_1', new Date(ts * 1000), '{}'),
    );
  });

  it('signs with the id and timestamp, so changing either changes the signature', () => {
    const key = signingKey(generateSigningSecret());
    const base = signatureHeader([key], 'evt_1', 1_700_000_000, '{}');
    expect(signatureHeader([key], 'evt_2', 1_700_000_000, '{}')).not.toBe(base);
    expect(signatureHeader([key], 'evt_1', 1_700_000_001, '{}')).not.toBe(base);
    expect(signatureHeader([key], 'evt_1', 1_700_000_000, '{ }')).not.toBe(base);
  });

  it('is verified by standardwebhooks verify() with a current timestamp', () => {
    const secret = generateSigningSecret();
    const ts = nowSeconds();
    const body = '{"type":"shipment.delivered","data":{"id":"shp_9"}}';
    const headers = {
      'webhook-id': 'evt_abc',
      'webhook-timestamp': String(ts),
      'webhook-signature': signatureHeader([signingKey(secret)], 'evt_abc', ts, body),
    };
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('with two keys gives two space-separated v1 signatures, each accepted by verify() with its own secret', () => {
    const current = generateSigningSecret();
    const previous = generateSigningSecret();
    const ts = nowSeconds();
    const id = 'evt_rotation';
    const body = '{"type":"order.updated","data":{"id":"ord_7"}}';
    const header = signatureHeader([signingKey(current), signingKey(previous)], id, ts, body);

    const parts = header.split(' ');
    expect(parts).toHaveLength(2);
    expect(parts[0]).toBe(new Webhook(current).sign(id, new Date(ts * 1000), body));
    expect(parts[1]).toBe(new Webhook(previous).sign(id, new Date(ts * 1000), body));

    const headers = { 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': header };
    expect(new Webhook(current).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(previous).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('is refused by verify() with an unrelated secret or a tampered body', () => {
    const secret = generateSigningSecret();
    const ts = nowSeconds();
    const body = '{"amount":10}';
    const headers = {
      'webhook-id': 'evt_1',
      'webhook-timestamp': String(ts),
      'webhook-signature': signatureHeader([signingKey(secret)], 'evt_1', ts, body),
    };
    expect(() => new Webhook(generateSigningSecret()).verify(body, headers)).toThrow(/No matching signature/);
    expect(() => new Webhook(secret).verify('{"amount":1000}', headers)).toThrow(/No matching signature/);
  });

  it('gives an empty header for no keys', () => {
    expect(signatureHeader([], 'evt_1', 1_700_000_000, '{}')).toBe('');
  });
});
