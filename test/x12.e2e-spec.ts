import { createRequire } from 'node:module';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody, shipmentBody } from './support/fixtures.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const { X12Parser } = createRequire(import.meta.url)('node-x12') as {
  X12Parser: new (strict: boolean) => { parse(edi: string): any };
};

const OPTIONS = {
  senderId: 'WAYBILL',
  senderQualifier: 'ZZ',
  receiverId: 'ACMEERP',
  receiverQualifier: 'ZZ',
  usageIndicator: 'T',
};

interface Interchange {
  isa13: string;
  iea02: string;
  gs06: string;
  ge02: string;
  st01: string;
  st02: string;
  se01: number;
  se02: string;
  segmentCount: number;
  at701: string;
  b10: string[];
}

function parse214(edi: string): Interchange {
  const interchange = new X12Parser(true).parse(edi);
  const value = (segment: any, n: number) => segment.elements[n - 1].value as string;
  const group = interchange.functionalGroups[0];
  const transaction = group.transactions[0];
  const segments = transaction.segments as any[];
  const byTag = (tag: string) => segments.find((s) => s.tag === tag);
  return {
    isa13: value(interchange.header, 13),
    iea02: value(interchange.trailer, 2),
    gs06: value(group.header, 6),
    ge02: value(group.trailer, 2),
    st01: value(transaction.header, 1),
    st02: value(transaction.header, 2),
    se01: Number(value(transaction.trailer, 1)),
    se02: value(transaction.trailer, 2),
    segmentCount: segments.length + 2,
    at701: value(byTag('AT7'), 1),
    b10: byTag('B10').elements.map((e: any) => e.value),
  };
}

describe('X12 214 payloads', () => {
  let t: TestApp;
  let r: Receiver;
  beforeAll(async () => {
    t = await createTestApp();
    r = await startReceiver();
  });
  afterAll(async () => {
    await r?.close();
    await t?.close();
  });

  it('walks a shipment from booked to delivered as five valid 214 interchanges with increasing control numbers, across a restart', async () => {
    const hook = (
      await t.api('POST', '/v1/webhooks', {
        // Ordered: the control numbers follow the statuses only when one goes out after the other.
        body: {
          name: 'EDI',
          url: r.url,
          eventTypes: ['*'],
          ordered: true,
          payloadFormat: 'x12-214',
          payloadOptions: OPTIONS,
        },
      })
    ).body;
    expect(hook.eventTypes).toEqual(['shipment.status_changed', 'shipment.tracking_updated']);
    const order = (await t.api('POST', '/v1/orders', { body: orderBody() })).body;
    const shipment = (
      await t.api('POST', '/v1/shipments', {
        body: shipmentBody({ orderId: order.id, origin: order.shipFrom, destination: order.shipTo }),
      })
    ).body;
    for (const status of ['booked', 'picked_up', 'in_transit', 'out_for_delivery', 'delivered']) {
      await t.api('POST', `/v1/shipments/${shipment.id}/status`, { body: { status } });
    }
    const requests = await r.waitForRequests(5);
    const interchanges = requests.map((q) => {
      expect(q.headers['content-type']).toBe('application/edi-x12');
      expect(() =>
        new StandardWebhook(hook.secret).verify(q.body, q.headers as Record<string, string>, { jsonParse: false }),
      ).not.toThrow();
      return parse214(q.body);
    });
    const inOrder = [...interchanges].sort((a, b) => Number(a.isa13) - Number(b.isa13));
    expect(inOrder.map((i) => i.at701)).toEqual(['XB', 'AF', 'X6', 'OD', 'D1']);
    for (const i of interchanges) {
      expect(i.st01).toBe('214');
      expect(i.se01).toBe(i.segmentCount);
      expect(i.st02).toBe(i.se02);
      expect(i.gs06).toBe(i.ge02);
      expect(i.isa13).toBe(i.iea02);
      expect(i.b10).toEqual([shipment.trackingNumber, shipment.shipmentNumber, 'DHLF']);
    }
    expect(new Set(interchanges.map((i) => i.isa13)).size).toBe(5);
    const highest = Math.max(...interchanges.map((i) => Number(i.isa13)));

    // A restart: another instance on the same database continues the numbering.
    const restarted = await createTestApp({ databaseUrl: t.databaseUrl });
    try {
      const again = (
        await restarted.api('POST', `/v1/webhooks/${hook.id}/test`, {
          key: t.tenant.key,
          body: { eventType: 'shipment.status_changed' },
        })
      ).body;
      expect(again.responseStatus).toBe(200);
      const last = parse214(r.requests.at(-1)!.body);
      expect(Number(last.isa13)).toBeGreaterThan(highest);
    } finally {
      await restarted.close();
    }

    const preview = (
      await t.api('POST', `/v1/webhooks/${hook.id}/preview`, { body: { eventType: 'shipment.status_changed' } })
    ).body;
    expect(preview.contentType).toBe('application/edi-x12');
    expect(Number(parse214(preview.body).isa13)).toBe(0);
    expect(preview.body).toMatch(/\*000000000\*0\*T\*>~/);
    const notEdi = await t.api('POST', `/v1/webhooks/${hook.id}/preview`, {
      body: { eventType: 'shipment.delivered' },
    });
    expect(notEdi.status).toBe(400);
  });

  it('refuses order events and bad EDI settings with 400', async () => {
    const base = { name: 'EDI', url: r.url, payloadFormat: 'x12-214' };
    const orders = await t.api('POST', '/v1/webhooks', {
      body: { ...base, eventTypes: ['order.created'], payloadOptions: OPTIONS },
    });
    expect(orders.status).toBe(400);
    expect(orders.body.errors[0].field).toBe('eventTypes');
    const bad = await t.api('POST', '/v1/webhooks', {
      body: {
        ...base,
        eventTypes: ['*'],
        payloadOptions: { ...OPTIONS, senderId: 'A-NAME-FAR-TOO-LONG', usageIndicator: 'X', elementSeparator: 'A' },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining([
        'payloadOptions.senderId',
        'payloadOptions.usageIndicator',
        'payloadOptions.elementSeparator',
      ]),
    );
  });
});
