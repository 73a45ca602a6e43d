import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeWalk } from '../scripts/readme-walk.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('the README walk through the generated client', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('creates an order and its shipment, moves the shipment to delivered and the order follows', async () => {
    const result = await readmeWalk(t.baseUrl, t.tenant.key);
    expect(result.orderStatus).toBe('delivered');
    expect(result.eventTypes).toEqual(
      expect.arrayContaining(['order.created', 'shipment.created', 'shipment.delivered', 'order.status_changed']),
    );
  });
});
