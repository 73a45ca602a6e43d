import { Order } from '../orders/order.entity.js';
import { Shipment } from '../shipments/shipment.entity.js';
import { TrackingEvent } from '../shipments/tracking-event.entity.js';
import { ApiKey } from '../tenancy/api-key.entity.js';
import { Tenant } from '../tenancy/tenant.entity.js';
import { Webhook } from '../webhooks/subscriptions/webhook.entity.js';

export const ENTITIES = [Tenant, ApiKey, Order, Shipment, TrackingEvent, Webhook];
