import { describe, expect, it } from 'vitest';
import { verdictOf } from './attempt.js';
import { applyAttempt, type HealthState } from './health.js';
import { deliveryFailedEvent, healthChangeEvent, type SubscriptionIdentity } from './operational-events.js';

const subscription: SubscriptionIdentity = {
  id: '5e3b8f2a-9c1d-4e7f-8a6b-2d4c6e8f0a1b',
  tenantId: '7b0c7f0e-5d1a-4c43-9a7e-2f1f3f0b9d11',
  name: 'SAP S/4 inbound',
  url: 'https://erp.example.com/hooks',
};
const at = new Date('2026-11-23T10:00:00Z');
const healthy: HealthState = {
  status: 'healthy',
  disabledReason: null,
  consecutiveFailures: 0,
  failingSince: null,
  lastSuccessAt: null,
  lastFailureAt: null,
};
const RULES = { failingAfter: 2, disableAfterMs: 3_600_000 };
const outcome = (status: number | null) => ({
  startedAt: at,
  durationMs: 5,
  responseStatus: status,
  responseHeaders: {},
  responseBody: '',
  errorClass: status === null || status >= 300 ? ('http_status' as const) : null,
  errorMessage: null,
});

describe('verdictOf', () => {
  it('a status listed in permanentStatuses is permanent; 410 stays gone; 2xx stays success', () => {
    expect(verdictOf(outcome(422), undefined, [400, 422], 'bad').kind).toBe('permanent');
    expect(verdictOf(outcome(422), undefined, [], 'bad').kind).toBe('failure');
    expect(verdictOf(outcome(410), undefined, [410], 'gone').kind).toBe('gone');
    expect(verdictOf(outcome(200), undefined, [200], 'ok').kind).toBe('success');
    expect(verdictOf(outcome(429), 5_000, [429], 'slow down').kind).toBe('permanent');
    expect(verdictOf(outcome(null), undefined, [422]).kind).toBe('failure');
  });

  it('a permanent answer does not count toward health but keeps its reason', () => {
    const after = applyAttempt(healthy, { kind: 'permanent', at, reason: 'Customer C-9 unknown' }, RULES);
    expect(after).toMatchObject({
      status: 'healthy',
      consecutiveFailures: 0,
      lastFailureReason: 'Customer C-9 unknown',
    });
  });
});

describe('operational events', () => {
  it('records nothing when the status did not change', () => {
    const after = applyAttempt(healthy, { kind: 'failure', at, reason: '500 Internal Server Error' }, RULES);
    expect(healthChangeEvent(subscription, healthy, after)).toBeNull();
  });

  it('webhook.failing names the subscription, the count and the last reason, aggregated on the subscription', () => {
    let state = healthy;
    for (let i = 0; i < 2; i++)
      state = applyAttempt(state, { kind: 'failure', at, reason: '503 Service Unavailable' }, RULES);
    expect(healthChangeEvent(subscription, healthy, state)).toEqual({
      type: 'webhook.failing',
      aggregateType: 'webhook',
      aggregateId: subscription.id,
      data: {
        webhookId: subscription.id,
        name: 'SAP S/4 inbound',
        url: 'https://erp.example.com/hooks',
        status: 'failing',
        previousStatus: 'healthy',
        reason: '2 attempts in a row failed; last: 503 Service Unavailable',
        consecutiveFailures: 2,
        failingSince: at.toISOString(),
        lastSuccessAt: null,
        lastFailureAt: at.toISOString(),
      },
    });
  });

  it('webhook.disabled after a 410, webhook.recovered with the cause given', () => {
    const gone = applyAttempt(healthy, { kind: 'gone', at, reason: 'retired' }, RULES);
    expect(healthChangeEvent(subscription, healthy, gone)?.data).toMatchObject({
      status: 'disabled',
      reason: 'the endpoint answered 410 Gone; last: retired',
    });
    const back = { ...gone, status: 'healthy' as const, disabledReason: null };
    expect(healthChangeEvent(subscription, gone, back, 're-enabled through the API')).toMatchObject({
      type: 'webhook.recovered',
      data: { previousStatus: 'disabled', reason: 're-enabled through the API' },
    });
  });

  it('delivery.failed names the delivery, its event and the last answer', () => {
    const event = deliveryFailedEvent(subscription, {
      deliveryId: '9a1f3c5e-7b2d-4f6a-8c0e-1d3b5f7a9c2e',
      eventId: 'evt_01JDQ3Z8Y4K6M2N9P0R5S7T1V2',
      eventType: 'shipment.status_changed',
      attempts: 8,
      lastStatus: null,
      errorClass: 'timeout',
      reason: null,
      permanent: false,
      lastAttemptAt: at,
    });
    expect(event).toMatchObject({
      type: 'delivery.failed',
      aggregateId: subscription.id,
      data: { attempts: 8, lastStatus: null, reason: 'no answer', permanent: false, lastAttemptAt: at.toISOString() },
    });
  });
});
