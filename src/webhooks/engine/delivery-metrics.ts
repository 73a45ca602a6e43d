import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DeliveryRepository } from '../deliveries/delivery.repository.js';

/** The delivery engine's Prometheus metrics; the queue gauges are read from the database at scrape time. */
@Injectable()
export class DeliveryMetrics {
  readonly deliveries: Counter<'outcome'>;
  readonly attemptDuration: Histogram<'outcome'>;
  readonly commitToSend: Histogram;
  readonly webhookFailures: Counter<'webhook_id'>;
  readonly inFlight: Gauge;

  constructor(registry: Registry, @Inject(DeliveryRepository) deliveries: DeliveryRepository) {
    this.deliveries = new Counter({
      name: 'waybill_delivery_attempts_total',
      help: 'Delivery attempts by outcome: delivered, retry (failed, will be retried), failed (no retry left)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    this.attemptDuration = new Histogram({
      name: 'waybill_delivery_attempt_duration_seconds',
      help: 'Duration of one HTTP attempt',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.commitToSend = new Histogram({
      name: 'waybill_delivery_commit_to_send_seconds',
      help: 'From the commit that created a delivery to the start of its first attempt',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers: [registry],
    });
    this.webhookFailures = new Counter({
      name: 'waybill_webhook_failed_attempts_total',
      help: 'Failed attempts per subscription',
      labelNames: ['webhook_id'],
      registers: [registry],
    });
    this.inFlight = new Gauge({
      name: 'waybill_deliveries_in_flight',
      help: 'Deliveries held by this instance (sending or queued behind a subscription limit)',
      registers: [registry],
    });
    new Gauge({
      name: 'waybill_deliveries_pending',
      help: 'Deliveries waiting to be sent (all instances), held ones included: exact up to 1000, an estimate beyond',
      registers: [registry],
      async collect() {
        this.set(await deliveries.countWaiting());
      },
    });
    new Gauge({
      name: 'waybill_oldest_pending_delivery_age_seconds',
      help: 'Age of the oldest delivery that is due and not yet sent (held ones, of paused, disabled or maintenance-held subscriptions, are not due)',
      registers: [registry],
      async collect() {
        this.set(await deliveries.oldestDueAgeSeconds());
      },
    });
  }
}
