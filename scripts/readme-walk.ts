import { createWaybillClient, ok } from '../client/index.js';

/**
 * The README's first walk (an order, its shipment moved to delivered, the order following, the
 * events) through the generated client: it type-checks under strict (npm run lint) and runs in
 * test/readme-walk.e2e-spec.ts, so the README's promise and the document cannot drift apart.
 *   node dist/scripts/readme-walk.js http://localhost:3000 <API key>
 */
export async function readmeWalk(baseUrl: string, apiKey: string) {
  const api = createWaybillClient({ baseUrl, token: apiKey });
  const suffix = Date.now().toString(36);

  const order = await ok(
    api.POST('/v1/orders', {
      body: {
        orderNumber: `SO-${suffix}`,
        customer: { name: 'Acme', ref: 'C-42' },
        lines: [{ sku: 'PAL-1', quantity: 4, unit: 'PLT' }],
      },
    }),
  );
  const shipment = await ok(
    api.POST('/v1/shipments', {
      body: {
        shipmentNumber: `SH-${suffix}`,
        orderId: order.id,
        carrier: { name: 'DHL Freight', scac: 'DHLF' },
        mode: 'ltl',
      },
    }),
  );
  for (const status of ['booked', 'picked_up', 'in_transit', 'delivered'] as const) {
    await ok(api.POST('/v1/shipments/{id}/status', { params: { path: { id: shipment.id } }, body: { status } }));
  }
  const followed = await ok(api.GET('/v1/orders/{id}', { params: { path: { id: order.id } } }));
  const events = await ok(api.GET('/v1/events', { params: { query: { limit: 10 } } }));
  return { orderStatus: followed.status, eventTypes: events.data.map((event) => event.type) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [baseUrl, apiKey] = process.argv.slice(2);
  readmeWalk(baseUrl ?? 'http://localhost:3000', apiKey ?? process.env.WAYBILL_API_KEY ?? '').then(
    (result) => console.log(JSON.stringify(result, null, 2)),
    (error: unknown) => {
      console.error(error instanceof Error ? error.message : String(error));
      process.exit(1);
    },
  );
}
