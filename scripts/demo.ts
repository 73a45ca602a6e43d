import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWaybillClient, type DeliverySummary, ok, type Schemas } from '../client/index.js';
import { DemoErp } from './demo-erp.js';
import { freePort, isPortFree } from './ports.js';
import { type ServiceProcess, startService, waitForHealth } from './service-process.js';

/**
 * `npm run demo`: the whole product in one command. Starts Waybill (embedded PostgreSQL) and a
 * demo ERP receiver, creates a tenant and a subscription through the API, drives orders and
 * shipments through their lifecycle (with an ERP outage, so retries show), and leaves both
 * running for the settings screen until Ctrl-C.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const SERVICE_ENTRY = path.resolve(here, '../src/main.js');
/** Short enough that a retry shows within seconds. */
const RETRY_SCHEDULE = '3s,6s,10s';
/** How long the ERP stays down after the last event of the outage step: longer than nothing, shorter than the first retry. */
const OUTAGE_TAIL_MS = 2_000;
const HEALTH_TIMEOUT_MS = 120_000;
const DELIVERIES_TIMEOUT_MS = 60_000;

const print = (line = '') => console.log(line);
const heading = (text: string) => print(`\n${text}`);
const step = (text: string) => print(`  → ${text}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number (got "${raw}")`);
  return Number(raw);
}

type Delivery = DeliverySummary;

/** The generated, typed API client (client/); a failed call throws naming the call and the answer. */
const client = (baseUrl: string, token: string) => createWaybillClient({ baseUrl, token });

let service: ServiceProcess | undefined;
let erp: DemoErp | undefined;
let stopping: Promise<never> | undefined;

/** Closes the receiver, stops the service (SIGTERM, awaited: it stops its PostgreSQL) and exits. */
function stop(code: number): Promise<never> {
  stopping ??= (async () => {
    print('\nStopping: closing the demo ERP and stopping Waybill (it stops its embedded PostgreSQL) …');
    await erp?.close();
    const exitCode = await service?.stop();
    if (exitCode !== undefined && exitCode !== 0) {
      print(`Waybill exited with code ${exitCode}. Last lines of ${service!.logFile}:\n${service!.tail()}`);
      process.exit(1);
    }
    print('Stopped.');
    process.exit(code);
  })();
  return stopping;
}

let signalledAt = 0;
function onSignal(): void {
  // Ctrl-C in a terminal may reach us twice at once (directly and forwarded by npm): only a
  // second press a moment later forces.
  if (signalledAt && Date.now() - signalledAt > 500) {
    print('\nForced stop: killing Waybill. Its embedded PostgreSQL may outlive it; the next start stops it.');
    service?.child.kill('SIGKILL');
    process.exit(130);
  }
  signalledAt ||= Date.now();
  void stop(0);
}

async function main(): Promise<void> {
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const pace = intFromEnv('DEMO_PACE_MS', 700);
  const port = intFromEnv('PORT', 3000);
  const receiverPort = intFromEnv('DEMO_RECEIVER_PORT', 0);
  const dataDir = path.resolve(process.env.DEMO_DATA_DIR || '.data/demo');
  const shown = (file: string) => {
    const relative = path.relative(process.cwd(), file);
    return relative.startsWith('..') ? file : relative || '.';
  };
  const publicUrl = (process.env.PUBLIC_URL || `http://localhost:${port}`).replace(/\/+$/, '');
  const apiBase = `http://127.0.0.1:${port}`;
  const adminToken = randomBytes(24).toString('base64url');
  const pause = (factor = 1) => sleep(pace * factor);

  print('Waybill demo: a TMS moves orders and shipments; Waybill pushes every change, signed, to an ERP.');
  fs.mkdirSync(dataDir, { recursive: true });
  const logFile = path.join(dataDir, 'service.log');
  const { DATABASE_URL: _external, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = {
    ...inherited,
    PORT: String(port),
    HOST: process.env.HOST || '127.0.0.1',
    DATA_DIR: dataDir,
    // A port of its own, so the demo runs beside `npm start` or the test suite.
    EMBEDDED_PG_PORT: process.env.EMBEDDED_PG_PORT || String(await freePort()),
    ADMIN_TOKEN: adminToken,
    WEBHOOK_ALLOW_PRIVATE: 'true',
    WEBHOOK_RETRY_SCHEDULE: RETRY_SCHEDULE,
    // Its log goes to a file: no colour codes there.
    NO_COLOR: '1',
  };
  // Checked first: the service would find a taken port only after starting its PostgreSQL (and stop it again).
  if (!(await isPortFree(port, env.HOST!))) {
    print(`  Port ${port} is taken (another Waybill, or \`npm start\`?): stop it, or run with PORT=<another port>.`);
    process.exit(1);
  }
  step(`Starting Waybill on ${publicUrl} with an embedded PostgreSQL (data in ${shown(dataDir)}) …`);
  print(`    Its log goes to ${shown(logFile)}`);
  const startedAt = Date.now();
  service = startService(SERVICE_ENTRY, env, logFile);
  const running = service;
  void running.exited.then((code) => {
    if (stopping) return;
    print(`\nWaybill exited unexpectedly (code ${code}). Last lines of ${shown(logFile)}:\n${running.tail()}`);
    void Promise.resolve(erp?.close()).finally(() => process.exit(1));
  });
  await waitForHealth(apiBase, service, HEALTH_TIMEOUT_MS);
  print(`    Waybill is up (${((Date.now() - startedAt) / 1000).toFixed(1)} s).`);

  erp = new DemoErp(print);
  const erpUrl = await erp.start(receiverPort);
  step(`Demo ERP listening on ${erpUrl}; it verifies every push with the standardwebhooks library.`);

  step('Creating a tenant "Demo Logistics" (POST /v1/tenants with the operator token) …');
  const operator = client(apiBase, adminToken);
  const { apiKey } = await ok(operator.POST('/v1/tenants', { body: { name: 'Demo Logistics' } }));
  const api = client(apiBase, apiKey);

  const catalog = (await ok(api.GET('/v1/event-types'))).data;
  const eventTypes = catalog.map((entry) => entry.name).filter((name) => /^(order|shipment)\./.test(name));
  step(
    `Subscribing the ERP to ${eventTypes.length} event types, in order per order and shipment (POST /v1/webhooks) …`,
  );
  const webhook = await ok(
    api.POST('/v1/webhooks', { body: { name: 'Demo ERP', url: erpUrl, eventTypes, ordered: true } }),
  );
  erp.useSecret(webhook.secret);
  print(`    Subscription ${webhook.id}; its signing secret goes to the ERP.`);
  await pause();
  step('Sending a test event, as the settings screen\'s "Send test" does …');
  await ok(api.POST('/v1/webhooks/{id}/test', { params: { path: { id: webhook.id } }, body: {} }));
  await pause();

  const now = Date.now();
  const at = (hours: number) => new Date(now + hours * 3_600_000).toISOString();
  const hamburg = { name: 'DC Hamburg', street: 'Am Kaiserkai 1', city: 'Hamburg', postalCode: '20457', country: 'DE' };
  const munich = {
    name: 'Acme Store Munich',
    street: 'Marienplatz 8',
    city: 'Munich',
    postalCode: '80331',
    country: 'DE',
  };
  const bremen = {
    name: 'Warehouse Bremen',
    street: 'Überseetor 20',
    city: 'Bremen',
    postalCode: '28217',
    country: 'DE',
  };
  const vienna = {
    name: 'Nordwind Vienna',
    street: 'Praterstraße 31',
    city: 'Vienna',
    postalCode: '1020',
    country: 'AT',
  };
  const ids: Record<string, string> = {};

  const createOrder = async (body: Schemas['CreateOrderDto']) => {
    ids[body.orderNumber] = (await ok(api.POST('/v1/orders', { body }))).id;
  };
  type OrderMove = Schemas['ChangeOrderStatusDto'];
  const moveOrder = (number: string, status: OrderMove['status'], extra: Omit<OrderMove, 'status'> = {}) =>
    ok(api.POST('/v1/orders/{id}/status', { params: { path: { id: ids[number] } }, body: { status, ...extra } }));
  const createShipment = async (body: Schemas['CreateShipmentDto']) => {
    ids[body.shipmentNumber] = (await ok(api.POST('/v1/shipments', { body }))).id;
  };
  type ShipmentMove = Schemas['ChangeShipmentStatusDto'];
  const moveShipment = (number: string, status: ShipmentMove['status'], extra: Omit<ShipmentMove, 'status'> = {}) =>
    ok(api.POST('/v1/shipments/{id}/status', { params: { path: { id: ids[number] } }, body: { status, ...extra } }));
  const track = (number: string, event: Omit<Schemas['CreateTrackingEventDto'], 'occurredAt'>) =>
    ok(
      api.POST('/v1/shipments/{id}/tracking-events', {
        params: { path: { id: ids[number] } },
        body: { occurredAt: new Date().toISOString(), ...event },
      }),
    );

  /** Every delivery of the subscription, once none is pending or being sent (or after `timeoutMs`). */
  const settledDeliveries = async (timeoutMs: number): Promise<{ deliveries: Delivery[]; settled: boolean }> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const deliveries: Delivery[] = [];
      let cursor: string | null = null;
      do {
        const page: { data: Delivery[]; nextCursor: string | null } = await ok(
          api.GET('/v1/deliveries', {
            params: { query: { webhookId: webhook.id, limit: 200, cursor: cursor ?? undefined } },
          }),
        );
        deliveries.push(...page.data);
        cursor = page.nextCursor;
      } while (cursor);
      const settled = deliveries.every((d) => d.status !== 'pending' && d.status !== 'delivering');
      if (settled || Date.now() > deadline) return { deliveries, settled };
      await sleep(250);
    }
  };

  heading('1. Orders arrive from the TMS');
  step('Creating order SO-1001 for Acme Retail GmbH (4 pallets, Hamburg → Munich) …');
  await createOrder({
    orderNumber: 'SO-1001',
    externalRef: 'PO-88231',
    customer: { name: 'Acme Retail GmbH', ref: 'C-42' },
    shipFrom: hamburg,
    shipTo: munich,
    requestedPickupAt: at(2),
    requestedDeliveryAt: at(26),
    lines: [{ sku: 'PAL-EUR-01', description: 'Euro pallet, mixed goods', quantity: 4, unit: 'PLT', weightKg: 1480 }],
    notes: 'Dock 4',
  });
  await pause();
  step('Creating order SO-1002 for Nordwind Bikes AG (24 bikes, Bremen → Vienna) …');
  await createOrder({
    orderNumber: 'SO-1002',
    externalRef: 'PO-4410',
    customer: { name: 'Nordwind Bikes AG', ref: 'C-77' },
    shipFrom: bremen,
    shipTo: vienna,
    requestedPickupAt: at(3),
    requestedDeliveryAt: at(48),
    lines: [{ sku: 'BIKE-TRK-28', description: 'Trekking bike, boxed', quantity: 24, unit: 'EA', weightKg: 432 }],
  });
  await pause();
  step('Creating order SO-1003 for Café Lumen (1 parcel) …');
  await createOrder({
    orderNumber: 'SO-1003',
    customer: { name: 'Café Lumen', ref: 'C-91' },
    shipFrom: hamburg,
    shipTo: { name: 'Café Lumen', street: 'Schanzenstraße 5', city: 'Hamburg', postalCode: '20357', country: 'DE' },
    lines: [{ sku: 'ESP-BEANS-1KG', quantity: 6, unit: 'EA', weightKg: 6 }],
  });
  await pause();
  step('Confirming SO-1001 and SO-1002 …');
  await moveOrder('SO-1001', 'confirmed');
  await moveOrder('SO-1002', 'confirmed');
  await pause();
  step('Café Lumen asks for a later delivery date on SO-1003 (PATCH → order.updated) …');
  await ok(
    api.PATCH('/v1/orders/{id}', { params: { path: { id: ids['SO-1003'] } }, body: { requestedDeliveryAt: at(72) } }),
  );
  await pause();
  step('Café Lumen cancels SO-1003 …');
  await moveOrder('SO-1003', 'cancelled', { reason: 'Customer cancelled by phone' });
  await pause();
  step('Planning SO-1001 …');
  await moveOrder('SO-1001', 'planned');
  await pause();

  heading('2. Shipments are booked with carriers');
  step('Creating shipment SH-2001 for SO-1001 (DHL Freight, LTL) …');
  await createShipment({
    shipmentNumber: 'SH-2001',
    orderId: ids['SO-1001'],
    carrier: { name: 'DHL Freight', scac: 'DHLF' },
    mode: 'ltl',
    serviceLevel: 'standard',
    origin: hamburg,
    destination: munich,
    plannedPickupAt: at(2),
    plannedDeliveryAt: at(26),
    packages: [1, 2, 3, 4].map((n) => ({
      reference: `PLT-${n}`,
      weightKg: 370,
      lengthCm: 120,
      widthCm: 80,
      heightCm: 150,
    })),
  });
  await pause();
  step('Creating shipment SH-2002 for SO-1002 (DB Schenker, FTL) …');
  await createShipment({
    shipmentNumber: 'SH-2002',
    orderId: ids['SO-1002'],
    carrier: { name: 'DB Schenker', scac: 'DBSG' },
    mode: 'ftl',
    origin: bremen,
    destination: vienna,
    plannedPickupAt: at(3),
    plannedDeliveryAt: at(48),
  });
  await pause();
  step('Booking SH-2001 and SH-2002 …');
  await moveShipment('SH-2001', 'booked');
  await moveShipment('SH-2002', 'booked');
  await pause();
  step('DHL Freight confirms SH-2001 with tracking number JJD000390017 (PATCH → shipment.updated) …');
  await ok(
    api.PATCH('/v1/shipments/{id}', {
      params: { path: { id: ids['SH-2001'] } },
      body: { trackingNumber: 'JJD000390017' },
    }),
  );
  await pause();
  step('SH-2001 is picked up in Hamburg; its order SO-1001 follows to in_transit …');
  await moveShipment('SH-2001', 'picked_up');
  await pause(1.5);

  heading('3. The ERP goes down for maintenance (it answers 503 for a few seconds)');
  erp.outage = true;
  print('    ERP: down for maintenance, answering 503');
  step('SH-2001 arrives at hub Nuremberg; the carrier sends a new ETA …');
  await track('SH-2001', {
    code: 'ARRIVED_AT_HUB',
    description: 'Arrived at hub Nuremberg',
    location: { name: 'Hub Nuremberg', city: 'Nuremberg', region: 'BY', postalCode: '90451', country: 'DE' },
    eta: at(20),
  });
  await pause();
  step(
    'SH-2001 leaves the hub for Munich (the subscription is ordered: Waybill holds this behind the refused hub event) …',
  );
  await moveShipment('SH-2001', 'in_transit');
  await pause();
  step('SH-2002 is picked up in Bremen; its order SO-1002 follows to in_transit …');
  await moveShipment('SH-2002', 'picked_up');
  await pause();
  step('SH-2002 is on its way …');
  await moveShipment('SH-2002', 'in_transit');
  await sleep(OUTAGE_TAIL_MS);
  erp.outage = false;
  print('    ERP: back online');
  step(
    `Waybill kept every event; it retries the refused pushes on its schedule (${RETRY_SCHEDULE.split(',').join(', ')}, each ±20 %) …`,
  );
  const caughtUp = await settledDeliveries(DELIVERIES_TIMEOUT_MS);
  if (caughtUp.settled) print('    All caught up: the held events of each shipment and order follow, in order.');
  await pause();

  heading('4. Deliveries, and one exception');
  step('SH-2001 is out for delivery in Munich …');
  await moveShipment('SH-2001', 'out_for_delivery');
  await pause();
  step('SH-2001 is delivered, signed by M. Weber; SO-1001 follows to delivered …');
  await moveShipment('SH-2001', 'delivered', { proofOfDelivery: { signedBy: 'M. Weber' } });
  await pause();
  step('SH-2002 hits an exception: the consignee is closed …');
  await moveShipment('SH-2002', 'exception', { reason: 'Consignee closed, delivery refused' });
  await pause();
  step('DB Schenker reschedules SH-2002 for tomorrow (a tracking event with a new ETA) …');
  await track('SH-2002', {
    code: 'REDELIVERY_SCHEDULED',
    description: 'Redelivery booked with the consignee',
    location: { name: 'Depot Vienna South', city: 'Vienna', country: 'AT' },
    eta: at(24),
  });
  await pause();
  step('SH-2002 is out for delivery again …');
  await moveShipment('SH-2002', 'out_for_delivery');
  await pause();
  step('SH-2002 is delivered, signed by J. Gruber; SO-1002 follows to delivered …');
  await moveShipment('SH-2002', 'delivered', { proofOfDelivery: { signedBy: 'J. Gruber' } });
  await pause();

  heading('5. Summary');
  step('Waiting until every delivery has arrived (GET /v1/deliveries) …');
  const { deliveries, settled } = await settledDeliveries(DELIVERIES_TIMEOUT_MS);
  const count = (status: string) => deliveries.filter((d) => d.status === status).length;
  const retried = deliveries.filter((d) => d.attemptCount > 1);
  print(
    `    ${deliveries.length} deliveries: ${count('delivered')} delivered, ${count('failed')} failed, ${retried.length} needed a retry`,
  );
  if (!settled)
    print(
      `    ${count('pending') + count('delivering')} still pending after ${DELIVERIES_TIMEOUT_MS / 1000} s; see ${shown(logFile)}`,
    );
  for (const delivery of retried) {
    const full = await ok(api.GET('/v1/deliveries/{id}', { params: { path: { id: delivery.id } } }));
    const data = JSON.parse(full.attempts[0]?.requestBody ?? '{}')?.data ?? {};
    const outcomes = full.attempts.map((a) => a.responseStatus ?? a.errorClass).join(' → ');
    print(
      `      ${delivery.eventType.padEnd(26)} ${String(data.orderNumber ?? data.shipmentNumber ?? '-').padEnd(8)} attempts: ${outcomes}`,
    );
  }
  const { verified, refused, rejected } = erp.tally;
  print(`    The ERP verified ${verified} pushes, refused ${refused} during the outage and rejected ${rejected}.`);
  const health = (await ok(api.GET('/v1/webhooks/{id}', { params: { path: { id: webhook.id } } }))).status;
  print(`    The subscription is ${health}.`);

  print();
  const portal = await ok(api.POST('/v1/portal-sessions', { body: { ttlSeconds: 3600 } }));
  print(`Demo ready: ${publicUrl}/settings   (sign in with the API key ${apiKey})`);
  print(`  Or open this one-time link, as the TMS would embed it (no key needed, valid once for an hour):`);
  print(`            ${portal.url}`);
  print(`  API docs: ${publicUrl}/docs`);
  print(`  Try:      curl -H "Authorization: Bearer ${apiKey}" "${publicUrl}/v1/deliveries?webhookId=${webhook.id}"`);
  print(`  The demo ERP keeps listening at ${erpUrl}; Waybill's log is in ${shown(logFile)}.`);
  print('Press Ctrl-C to stop.');
}

main().catch(async (error: unknown) => {
  // A stop in progress, or the service died (its exit handler reports that and exits).
  if (stopping || (service && service.child.exitCode !== null)) return;
  print(`\nThe demo failed: ${error instanceof Error ? error.message : String(error)}`);
  if (service) print(`Last lines of ${service.logFile}:\n${service.tail()}`);
  await stop(1);
});
