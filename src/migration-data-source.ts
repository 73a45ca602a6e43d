import { DataSource } from 'typeorm';
import { dataSourceOptions } from './database/data-source.js';
import { Order } from './orders/order.entity.js';
import { Shipment } from './shipments/shipment.entity.js';
import { TrackingEvent } from './shipments/tracking-event.entity.js';
import { ApiKey } from './tenancy/api-key.entity.js';
import { Tenant } from './tenancy/tenant.entity.js';
import { Webhook } from './webhooks/subscriptions/webhook.entity.js';

/**
 * For the TypeORM CLI (`npm run migration:generate`; needs DATABASE_URL): every module's entities.
 * It lives beside app.module.ts, which may know every module; database/ knows none.
 */
export default new DataSource(
  dataSourceOptions(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/waybill', [
    Tenant,
    ApiKey,
    Order,
    Shipment,
    TrackingEvent,
    Webhook,
  ]),
);
