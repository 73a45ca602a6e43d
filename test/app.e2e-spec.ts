import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrdersService } from '../src/orders/orders.service.js';
import { createTestApp, METRICS_TOKEN, type TestApp } from './support/test-app.js';

describe('the application', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('injects constructor dependencies (decorator metadata survives the test transformer)', () => {
    const orders = t.app.get(OrdersService) as unknown as Record<string, unknown>;
    expect(orders.dataSource).toBeDefined();
    expect(orders.outbox).toBeDefined();
  });

  it('answers /health with 200 and the database state, without a key', async () => {
    const answer = await t.api('GET', '/health', { key: null });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: 'ok', database: 'up' });
  });

  it('serves the OpenAPI document at /docs-json and the UI at /docs', async () => {
    const doc = await t.api('GET', '/docs-json', { key: null });
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining([
        '/v1/orders',
        '/v1/shipments/{id}/status',
        '/v1/shipments/{id}/tracking-events',
        '/v1/events',
        '/v1/tenants',
      ]),
    );
    const ui = await t.api('GET', '/docs', { key: null });
    expect(ui.status).toBe(200);
    expect(String(ui.body)).toContain('swagger');
  });

  it('serves Prometheus metrics at /metrics with the METRICS_TOKEN', async () => {
    const answer = await t.api('GET', '/metrics', { key: METRICS_TOKEN });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toContain('text/plain');
    for (const name of [
      'waybill_delivery_attempts_total',
      'waybill_delivery_attempt_duration_seconds',
      'waybill_delivery_commit_to_send_seconds',
      'waybill_deliveries_in_flight',
      'waybill_webhook_failed_attempts_total',
    ]) {
      expect(answer.body).toContain(`# TYPE ${name}`);
    }
    expect(answer.body).toMatch(/^waybill_deliveries_pending 0$/m);
    expect(answer.body).toMatch(/^waybill_oldest_pending_delivery_age_seconds 0$/m);
  });

  it('answers a body that is not JSON with 400 saying so', async () => {
    const answer = await t.api('POST', '/v1/orders', { raw: '{"orderNumber": ' });
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/not valid JSON/);
    expect(answer.body.error).toBe('Bad Request');
  });

  it('answers a JSON body that is not an object with 400', async () => {
    const answer = await t.api('POST', '/v1/orders', { raw: '[1,2]' });
    expect(answer.status).toBe(400);
    expect(answer.body.errors).toEqual([{ field: '(body)', message: 'must be a JSON object' }]);
  });

  it('answers an unknown route with a 404 in the error shape', async () => {
    const answer = await t.api('GET', '/v1/nothing-here');
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ statusCode: 404, error: 'Not Found' });
  });
});
