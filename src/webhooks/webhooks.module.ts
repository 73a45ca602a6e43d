import { Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { DATABASE_URL } from '../database/database.tokens.js';
import { EventsModule } from '../events/events.module.js';
import { TenancyModule } from '../tenancy/tenancy.module.js';
import { DeliveriesController } from './deliveries/deliveries.controller.js';
import { DeliveriesService } from './deliveries/deliveries.service.js';
import { ConnectionCheck } from './transport/connection-check.js';
import { DeliveryMetrics } from './engine/delivery-metrics.js';
import { DeliverySignal, FeedSignal } from './engine/delivery-signal.js';
import { DeliveryRepository } from './deliveries/delivery.repository.js';
import { AttemptPipeline } from './engine/attempt.js';
import { ControlNumbers } from './formats/control-numbers.js';
import { SubscriptionHealthStore } from './subscriptions/subscription-health.store.js';
import { MaintenanceStore } from './subscriptions/maintenance-store.js';
import { MaintenanceSwitch } from './engine/maintenance-switch.js';
import { CLOCK, systemClock } from '../common/clock.js';
import { DataSource } from 'typeorm';
import { Dispatcher } from './engine/dispatcher.js';
import { FanOut } from './engine/fan-out.js';
import { RequestComposer } from './transport/request-composer.js';
import { ReceiverClient } from './transport/receiver-client.js';
import { Sender } from './transport/sender.js';
import { Egress } from './transport/egress.js';
import { JsonataSandboxShutdown } from './formats/jsonata-sandbox.js';
import { PreviewService } from './formats/preview.service.js';
import { TestSender } from './engine/test-sender.js';
import { RESOLVER, type Resolver, systemResolver, UrlGuard } from './transport/url-guard.js';
import { loadSecretBox, type SecretBox } from './transport/secret-box.js';
import { Webhook } from './subscriptions/webhook.entity.js';
import { WebhooksController } from './subscriptions/webhooks.controller.js';
import { WebhooksService } from './subscriptions/webhooks.service.js';
import { SECRET_BOX } from './webhooks.tokens.js';
import { FeedController } from './feed/feed.controller.js';
import { FeedService } from './feed/feed.service.js';
import { FeedTokenStore } from './feed/feed-token.store.js';

/**
 * Subscriptions, the delivery engine and its audit. It knows events (through the outbox) and
 * nothing of orders or shipments, so it can be lifted into another NestJS app.
 */
@Module({
  imports: [EventsModule, TenancyModule, TypeOrmModule.forFeature([Webhook])],
  controllers: [WebhooksController, DeliveriesController, FeedController],
  providers: [
    { provide: RESOLVER, useValue: systemResolver },
    { provide: CLOCK, useValue: systemClock },
    {
      provide: SECRET_BOX,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig): SecretBox => loadSecretBox(config, (m) => new Logger('Secrets').warn(m)),
    },
    {
      provide: UrlGuard,
      inject: [APP_CONFIG, RESOLVER],
      useFactory: (config: AppConfig, resolver: Resolver) => new UrlGuard(config.webhooks.allowPrivate, resolver),
    },
    {
      provide: Sender,
      inject: [UrlGuard, APP_CONFIG],
      useFactory: (guard: UrlGuard, config: AppConfig) =>
        new Sender(guard, new Egress(guard, config.webhooks.egressProxy)),
    },
    {
      provide: ReceiverClient,
      inject: [Sender, UrlGuard, SECRET_BOX],
      useFactory: (sender: Sender, guard: UrlGuard, box: SecretBox) => new ReceiverClient(sender, guard, box),
    },
    { provide: RequestComposer, inject: [SECRET_BOX], useFactory: (box: SecretBox) => new RequestComposer(box) },
    {
      provide: DeliveryRepository,
      inject: [DataSource, DATABASE_URL],
      useFactory: (dataSource: DataSource, url: string) =>
        new DeliveryRepository(dataSource, url, `${process.pid}-${Math.random().toString(36).slice(2, 10)}`),
    },
    ControlNumbers,
    FeedTokenStore,
    SubscriptionHealthStore,
    MaintenanceStore,
    MaintenanceSwitch,
    AttemptPipeline,
    DeliverySignal,
    FeedSignal,
    DeliveryMetrics,
    FanOut,
    Dispatcher,
    WebhooksService,
    DeliveriesService,
    TestSender,
    PreviewService,
    JsonataSandboxShutdown,
    FeedService,
    ConnectionCheck,
  ],
  exports: [Dispatcher, DeliverySignal, RESOLVER, CLOCK],
})
export class WebhooksModule {}
