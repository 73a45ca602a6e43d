import 'reflect-metadata';
import { type ArgumentMetadata, ValidationPipe } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { ChangeOrderStatusDto, CreateOrderDto, UpdateOrderDto } from '../orders/orders.dto.js';
import {
  ChangeShipmentStatusDto,
  CreateShipmentDto,
  CreateTrackingEventDto,
  UpdateShipmentDto,
} from '../shipments/shipments.dto.js';
import { CreateWebhookDto, UpdateWebhookDto } from '../webhooks/subscriptions/webhooks.dto.js';
import { compileDto } from './compiled-dto.js';
import { AppValidationPipe } from './validation.pipe.js';

/** The pipe as it was: class-transformer and class-validator on every body. */
const classValidator = new ValidationPipe({
  whitelist: true,
  forbidNonWhitelisted: true,
  transform: true,
  transformOptions: { enableImplicitConversion: false },
});
const body = (metatype: new () => object): ArgumentMetadata => ({ type: 'body', metatype });

async function slow(metatype: new () => object, value: unknown): Promise<{ ok: true; value: unknown } | { ok: false }> {
  try {
    return { ok: true, value: await classValidator.transform(structuredClone(value), body(metatype)) };
  } catch {
    return { ok: false };
  }
}

/** Every body derived from `base` by dropping, nulling or replacing one field (nested ones too) with odd values. */
function variants(base: Record<string, unknown>): unknown[] {
  const odd: unknown[] = [
    undefined,
    null,
    '',
    ' ',
    'x',
    'x'.repeat(5000),
    0,
    -1,
    1.5,
    1e10,
    true,
    {},
    [],
    [{}],
    ['x'],
    '2026-11-23T08:00:00.000Z',
    '2026-13-40',
    'DE',
    'de',
    'DEU',
  ];
  const out: unknown[] = [
    base,
    {},
    { ...base, unknownField: 1 },
    { ...base, constructor: 'x' },
    { ...base, toString: 1 },
  ];
  const walk = (value: unknown, set: (v: unknown) => unknown) => {
    if (Array.isArray(value)) {
      const items: unknown[] = value;
      items.forEach((item, i) => walk(item, (v) => set(items.map((x, j) => (j === i ? v : x)))));
      out.push(set([]), set([...items, ...items]), set([null]));
    } else if (value !== null && typeof value === 'object') {
      for (const key of Object.keys(value)) {
        const rest = value as Record<string, unknown>;
        walk(rest[key], (v) => set({ ...rest, [key]: v }));
        const { [key]: _, ...without } = rest;
        out.push(set(without));
      }
      out.push(set({ ...(value as object), extra: 'x' }));
    }
    for (const v of odd) out.push(set(v));
  };
  walk(base, (v) => v);
  return out;
}

const order = {
  orderNumber: 'SO-1',
  externalRef: 'PO-88231',
  customer: { name: 'Acme Retail GmbH', ref: 'C-42' },
  shipFrom: { name: 'DC Hamburg', street: 'Am Kaiserkai 1', city: 'Hamburg', postalCode: '20457', country: 'DE' },
  shipTo: { city: 'Munich', country: 'de' },
  requestedPickupAt: '2026-11-23T08:00:00.000Z',
  requestedDeliveryAt: '2026-11-25T16:00:00+01:00',
  lines: [
    { sku: 'PAL-EUR-01', description: 'Euro pallet', quantity: 4, unit: 'PLT', weightKg: 1480 },
    { sku: 'B', quantity: 0.5, unit: 'EA', description: null, weightKg: null },
  ],
  notes: 'Dock 4',
};
const shipment = {
  shipmentNumber: 'SH-1',
  carrier: { name: 'DHL Freight', scac: 'DHLF' },
  mode: 'ltl',
  serviceLevel: 'standard',
  trackingNumber: 'JJD1',
  packages: [{ reference: 'PLT-1', weightKg: 370, lengthCm: 120, widthCm: 80, heightCm: 150 }],
  plannedPickupAt: '2026-11-23T08:00:00.000Z',
};

const cases: Array<[string, new () => object, Record<string, unknown>]> = [
  ['CreateOrderDto', CreateOrderDto, order],
  ['UpdateOrderDto', UpdateOrderDto, { customer: order.customer, lines: order.lines, shipTo: null, notes: null }],
  [
    'ChangeOrderStatusDto',
    ChangeOrderStatusDto,
    { status: 'confirmed', reason: 'r', occurredAt: order.requestedPickupAt },
  ],
  ['CreateShipmentDto', CreateShipmentDto, shipment],
  ['UpdateShipmentDto', UpdateShipmentDto, { carrier: shipment.carrier, packages: shipment.packages }],
  [
    'ChangeShipmentStatusDto',
    ChangeShipmentStatusDto,
    { status: 'delivered', proofOfDelivery: { signedBy: 'M. Muster', at: order.requestedPickupAt } },
  ],
  [
    'CreateTrackingEventDto',
    CreateTrackingEventDto,
    {
      code: 'arrived',
      description: 'Arrived at hub',
      location: { city: 'Kassel', country: 'DE' },
      occurredAt: order.requestedPickupAt,
    },
  ],
  ['CreateWebhookDto', CreateWebhookDto, { name: 'ERP', url: 'https://erp.example/hooks', eventTypes: ['*'] }],
  ['UpdateWebhookDto', UpdateWebhookDto, { paused: true }],
];

describe('compiled DTO rules', () => {
  it.each(cases)(
    '%s: accepts only what class-validator accepts, and builds the same instance',
    async (_, dto, base) => {
      const compiled = compileDto(dto);
      let accepted = 0;
      for (const value of variants(base)) {
        const fast = compiled?.accept(structuredClone(value));
        const reference = await slow(dto, value);
        if (fast === undefined) continue;
        accepted += 1;
        expect(reference, JSON.stringify(value)).toEqual({ ok: true, value: fast });
        expect(fast.constructor).toBe(dto);
      }
      if (compiled && dto !== UpdateWebhookDto) expect(accepted).toBeGreaterThan(10);
    },
  );

  it('compiles the hot bodies (orders, shipments, status moves, tracking)', () => {
    for (const dto of [CreateOrderDto, UpdateOrderDto, ChangeOrderStatusDto, CreateShipmentDto, CreateTrackingEventDto])
      expect(compileDto(dto), dto.name).not.toBeNull();
  });

  it('gives the pipe the same instance or the same 400 as class-validator', async () => {
    const pipe = new AppValidationPipe();
    for (const value of variants(order)) {
      const reference = await slow(CreateOrderDto, value);
      const answer = await pipe.transform(structuredClone(value), body(CreateOrderDto)).then(
        (v) => ({ ok: true as const, value: v }),
        (error: { getResponse(): unknown }) => ({ ok: false as const, response: error.getResponse() }),
      );
      if (reference.ok) expect(answer).toEqual(reference);
      else expect(answer.ok, JSON.stringify(value)).toBe(false);
    }
  });
});
