import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContractChecker } from './support/contract.js';
import { createTestApp, type TestApp } from './support/test-app.js';

describe('the OpenAPI document as the contract', () => {
  let t: TestApp;
  let document: any;

  beforeAll(async () => {
    t = await createTestApp({ PUBLIC_URL: 'https://waybill.example.net' });
    document = (await t.api('GET', '/docs-json', { contract: false })).body;
  });
  afterAll(() => t.close());

  it('names the servers from PUBLIC_URL and gives every operation a summary, security and its error answers', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers).toEqual([{ url: 'https://waybill.example.net' }]);
    for (const [path, item] of Object.entries<any>(document.paths)) {
      for (const [method, operation] of Object.entries<any>(item)) {
        const where = `${method} ${path}`;
        expect(operation.summary, where).toBeTruthy();
        expect(Array.isArray(operation.security), where).toBe(true);
        const success = Object.keys(operation.responses).filter((s) => s.startsWith('2'));
        expect(success.length, where).toBe(1);
        for (const [status, response] of Object.entries<any>(operation.responses)) {
          if (Number(status) >= 400) {
            expect(response.content['application/json'].schema, `${where} ${status}`).toEqual({
              $ref: '#/components/schemas/Error',
            });
          } else if (status !== '204') {
            expect(Object.keys(response.content ?? {}).length, `${where} ${status}`).toBe(1);
          }
        }
        if (operation.security.length > 0) expect(Object.keys(operation.responses), where).toContain('401');
      }
    }
    expect(document.paths['/health'].get.security).toEqual([]);
    // /metrics takes its own token, not an API key and not nothing.
    expect(document.paths['/metrics'].get.security).toEqual([{ metricsToken: [] }]);
    expect(document.components.securitySchemes.metricsToken).toMatchObject({ type: 'http', scheme: 'bearer' });
    // The body parser runs before any route on every POST, PATCH and PUT, one that reads no body too.
    for (const [path, item] of Object.entries<any>(document.paths))
      for (const method of ['post', 'patch', 'put'])
        if (item[method])
          expect(Object.keys(item[method].responses), `${method} ${path}`).toEqual(
            expect.arrayContaining(['400', '413', '415']),
          );
    expect(
      document.paths['/v1/orders'].post.responses['400'].content['application/json'].examples.MalformedJsonBody,
    ).toEqual({ $ref: '#/components/examples/MalformedJsonBody' });
    expect(document.paths['/v1/webhooks/{id}/test'].post.requestBody.required).toBe(false);
    expect(document.paths['/v1/webhooks/{id}/rotate-secret'].post.requestBody.required).toBe(false);
  });

  it('is as strict as the API: unknown fields refused, quantities above 0, enums and limits as validated', () => {
    const schemas = document.components.schemas;
    expect(schemas.CreateOrderDto.additionalProperties).toBe(false);
    expect(schemas.OrderLineDto.additionalProperties).toBe(false);
    expect(schemas.OrderLineDto.properties.quantity.exclusiveMinimum).toBe(0);
    expect(schemas.OrderLineDto.properties.quantity.minimum).toBeUndefined();
    expect(schemas.CreateWebhookDto.properties.eventTypes.items.enum).toContain('*');
    expect(schemas.CreateWebhookDto.properties.eventTypes.minItems).toBe(1);
    expect(schemas.CreateWebhookDto.properties.maxConcurrency).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 256,
    });
    const limit = document.paths['/v1/orders'].get.parameters.find((p: { name: string }) => p.name === 'limit');
    expect(limit.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 200 });
    expect(schemas.WebhookCreated.required).toContain('secret');
    expect(schemas.Attempt.properties.responseStatus.anyOf).toContainEqual({ type: 'null' });
  });

  it('catches an answer that drifts from it: an unknown field, a missing one, an undocumented status', async () => {
    const checker = new ContractChecker(document);
    const order = (
      await t.api('POST', '/v1/orders', {
        body: { orderNumber: 'SO-C-1', customer: { name: 'Acme' }, lines: [{ sku: 'A', quantity: 1, unit: 'EA' }] },
      })
    ).body;
    const json = 'application/json; charset=utf-8';
    expect(checker.problems('GET', `/v1/orders/${order.id}`, 200, json, order)).toEqual([]);
    expect(checker.problems('GET', `/v1/orders/${order.id}`, 200, json, { ...order, surprise: 1 })).not.toEqual([]);
    const { status: _, ...withoutStatus } = order;
    expect(checker.problems('GET', `/v1/orders/${order.id}`, 200, json, withoutStatus)).not.toEqual([]);
    expect(checker.problems('GET', `/v1/orders/${order.id}`, 418, json, {})).not.toEqual([]);
    expect(checker.problems('GET', '/v1/orders', 500, json, {})).not.toEqual([]);
    expect(checker.problems('POST', '/v1/undocumented', 200, json, {})).not.toEqual([]);
  });
});
