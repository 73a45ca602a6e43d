import { createRequire } from 'node:module';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderBody, shipmentBody } from './support/fixtures.js';
import { type Receiver, startReceiver } from './support/receiver.js';
import { createTestApp, type TestApp } from './support/test-app.js';

const { Reader } = createRequire(import.meta.url)('edifact') as {
  Reader: new () => { parse(edi: string): Array<{ name: string; elements: string[][] }> };
};

const OPTIONS = { senderId: 'WAYBILL', receiverId: 'ACME ERP', usageIndicator: 'T' };

interface Interchange {
  unbReference: string;
  unzReference: string;
  unzCount: number;
  testIndicator: string | undefined;
  unhReference: string;
  messageType: string;
  untCount: number;
  untReference: string;
  segmentCount: number;
  bgm: string[][];
  cni: string;
  sts: string;
  references: string[];
}

/** Reads one interchange with the edifact parser (which also checks lengths and the UNOC character set). */
function parseIftsta(edi: string): Interchange {
  const segments = new Reader().parse(edi);
  const one = (name: string) => {
    const found = segments.filter((s) => s.name === name);
    expect(found, name).toHaveLength(1);
    return found[0].elements;
  };
  const unh = segments.findIndex((s) => s.name === 'UNH');
  const unt = segments.findIndex((s) => s.name === 'UNT');
  const unb = one('UNB');
  return {
    unbReference: unb[4][0],
    unzReference: one('UNZ')[1][0],
    unzCount: Number(one('UNZ')[0][0]),
    testIndicator: unb[10]?.[0],
    unhReference: one('UNH')[0][0],
    messageType: one('UNH')[1].join(':'),
    untCount: Number(one('UNT')[0][0]),
    untReference: one('UNT')[1][0],
    segmentCount: unt - unh + 1,
    bgm: one('BGM'),
    cni: one('CNI')[1][0],
    sts: one('STS')[1][0],
    references: segments.filter((s) => s.name === 'RFF').map((s) => s.elements[0].join(':')),
  };
}

/** What may differ between a preview and the push: the interchange date and time and the control references. */
const withoutInterchangeStamp = (edi: string) =>
  edi.replace(/^(UNA:\+\.\? 'UNB\+UNOC:3\+[^+]*\+[^+]*\+)\d{6}:\d{4}\+\d+/, '$1#').replace(/UNZ\+1\+\d+'$/, 'UNZ+1+#');

describe('EDIFACT IFTSTA payloads', () => {
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

  it('walks a shipment from booked to delivered as valid IFTSTA interchanges with increasing references, across a restart', async () => {
    // ordered: each delivery waits for the previous one of the shipment, so references follow the events.
    const hook = (
      await t.api('POST', '/v1/webhooks', {
        body: {
          name: 'EDI',
          url: r.url,
          eventTypes: ['*'],
          ordered: true,
          payloadFormat: 'edifact-iftsta',
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
    for (const status of ['booked', 'picked_up', 'in_transit'])
      await t.api('POST', `/v1/shipments/${shipment.id}/status`, { body: { status } });
    const tracked = await t.api('POST', `/v1/shipments/${shipment.id}/tracking-events`, {
      body: {
        code: 'ARRIVED_AT_HUB',
        description: 'Arrived at hub Nuremberg',
        location: { name: 'Hub Nuremberg', city: 'Nuremberg', postalCode: '90451', country: 'DE' },
        occurredAt: '2026-11-24T21:17:00.000Z',
        eta: '2026-11-25T14:30:00.000Z',
      },
    });
    expect(tracked.status).toBe(201);
    for (const status of ['out_for_delivery', 'delivered'])
      await t.api('POST', `/v1/shipments/${shipment.id}/status`, { body: { status } });

    const requests = await r.waitForRequests(6);
    const received = requests.map((q) => {
      expect(q.headers['content-type']).toBe('application/edifact');
      expect(() =>
        new StandardWebhook(hook.secret).verify(q.body, q.headers as Record<string, string>, { jsonParse: false }),
      ).not.toThrow();
      return { eventId: String(q.headers['webhook-id']), body: q.body, interchange: parseIftsta(q.body) };
    });
    const byReference = [...received].sort(
      (a, b) => Number(a.interchange.unbReference) - Number(b.interchange.unbReference),
    );
    const byEvent = [...received].sort((a, b) => a.eventId.localeCompare(b.eventId));
    expect(byReference.map((x) => x.eventId)).toEqual(byEvent.map((x) => x.eventId));
    expect(byReference.map((x) => x.interchange.sts)).toEqual(['6', '13', '31', '31', '31', '21']);
    for (const { eventId, interchange: i } of received) {
      expect(i.messageType).toBe('IFTSTA:D:01B:UN');
      expect(i.untCount).toBe(i.segmentCount);
      expect(i.untReference).toBe(i.unhReference);
      expect(i.unzReference).toBe(i.unbReference);
      expect(i.unzCount).toBe(1);
      expect(i.testIndicator).toBe('1');
      expect(i.bgm).toEqual([['23'], [eventId], ['9']]);
      expect(i.cni).toBe(shipment.shipmentNumber);
      expect(i.references).toEqual([`CU:${order.orderNumber}`, 'CR:PO-88231', `CN:${shipment.trackingNumber}`]);
    }
    expect(new Set(received.map((x) => x.interchange.unbReference)).size).toBe(6);
    const highest = Math.max(...received.map((x) => Number(x.interchange.unbReference)));

    // A restart: another instance on the same database continues the references.
    const restarted = await createTestApp({ databaseUrl: t.databaseUrl });
    try {
      const again = (
        await restarted.api('POST', `/v1/webhooks/${hook.id}/test`, {
          key: t.tenant.key,
          body: { eventType: 'shipment.status_changed' },
        })
      ).body;
      expect(again.responseStatus).toBe(200);
      expect(Number(parseIftsta(r.requests.at(-1)!.body).unbReference)).toBeGreaterThan(highest);
    } finally {
      await restarted.close();
    }

    // The preview of a stored event is the pushed body but for the interchange date, time and references.
    const delivered = byReference.at(-1)!;
    const preview = (await t.api('POST', `/v1/webhooks/${hook.id}/preview`, { body: { eventId: delivered.eventId } }))
      .body;
    expect(preview.contentType).toBe('application/edifact');
    expect(parseIftsta(preview.body).unbReference).toBe('0');
    expect(withoutInterchangeStamp(preview.body)).toBe(withoutInterchangeStamp(delivered.body));
    expect(withoutInterchangeStamp(preview.body)).not.toBe(preview.body);
    const notEdi = await t.api('POST', `/v1/webhooks/${hook.id}/preview`, {
      body: { eventType: 'shipment.delivered' },
    });
    expect(notEdi.status).toBe(400);
  });

  it('refuses order events and bad EDIFACT settings with 400, naming each field', async () => {
    const base = { name: 'EDI', url: r.url, payloadFormat: 'edifact-iftsta' };
    const orders = await t.api('POST', '/v1/webhooks', {
      body: { ...base, eventTypes: ['order.created'], payloadOptions: OPTIONS },
    });
    expect(orders.status).toBe(400);
    expect(orders.body.errors[0].field).toBe('eventTypes');
    expect(orders.body.errors[0].message).toContain('EDIFACT IFTSTA carries only');
    const bad = await t.api('POST', '/v1/webhooks', {
      body: {
        ...base,
        eventTypes: ['*'],
        payloadOptions: {
          senderId: 'S'.repeat(36),
          receiverId: "ACME'ERP",
          usageIndicator: 'X',
          senderQualifier: 'ZZ',
        },
      },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).toEqual(
      expect.arrayContaining([
        'payloadOptions.senderId',
        'payloadOptions.receiverId',
        'payloadOptions.usageIndicator',
        'payloadOptions.senderQualifier',
      ]),
    );
    const draft = await t.api('POST', '/v1/webhooks/preview', {
      body: {
        payloadFormat: 'edifact-iftsta',
        payloadOptions: { senderId: 'WAYBILL', receiverId: 'ACME' },
        eventType: 'shipment.tracking_updated',
      },
    });
    expect(draft.status).toBe(200);
    expect(draft.body.contentType).toBe('application/edifact');
    expect(parseIftsta(draft.body.body).testIndicator).toBeUndefined();
  });
});
