import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { configureApp, createHttpAdapter } from '../src/app.js';
import { AppModule } from '../src/app.module.js';
import { loadConfig } from '../src/config/config.js';
import { runMigrations } from '../src/database/migrate.js';
import { TransactionRunner } from '../src/database/transaction.js';
import { catalogEntry } from '../src/events/event-catalog.js';
import { type DomainEvent, OutboxService } from '../src/events/outbox.service.js';
import { TenancyService } from '../src/tenancy/tenancy.service.js';
import { DeliveryRepository } from '../src/webhooks/deliveries/delivery.repository.js';
import { serve, wallNow } from './rpc.js';

/**
 * The service under test: the real application (every module, the real dispatcher) in its own
 * process, plus an in-process producer that commits events through the outbox path exactly as
 * a REST change does.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const url = config.databaseUrl!;
  await runMigrations(url);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config, url), createHttpAdapter(), {
    logger: ['error', 'warn'],
  });
  configureApp(app);
  await app.listen(config.port, '127.0.0.1');
  const transactions = app.get(TransactionRunner);
  const outbox = app.get(OutboxService);
  const sample = catalogEntry('shipment.status_changed').example.data;

  const event = (): DomainEvent => {
    const id = randomUUID();
    return { type: 'shipment.status_changed', aggregateType: 'shipment', aggregateId: id, data: { ...sample, id } };
  };
  // The backlog scenario times each claim statement as the engine issues it.
  const repository = app.get(DeliveryRepository);
  const claim = repository.claimDueDeliveries.bind(repository);
  let claimTimes: number[] | undefined;
  repository.claimDueDeliveries = async (...args: Parameters<typeof claim>) => {
    if (!claimTimes) return claim(...args);
    const times = claimTimes;
    const t0 = performance.now();
    const claimed = await claim(...args);
    times.push(performance.now() - t0);
    return claimed;
  };
  let rssPeak = 0;
  let rssTimer: NodeJS.Timeout | undefined;

  serve({
    createTenant: async () => {
      const created = await app.get(TenancyService).createTenant('bench');
      return { id: created.tenant.id, key: created.apiKey };
    },
    /** `count` events, `perTransaction` to a commit (1 = one change per transaction, like the API). */
    seed: async ({ tenantId, count, perTransaction }: { tenantId: string; count: number; perTransaction: number }) => {
      for (let made = 0; made < count; made += perTransaction) {
        const n = Math.min(perTransaction, count - made);
        await transactions.run((tx) => outbox.record(tx, tenantId, Array.from({ length: n }, event)));
      }
    },
    /** Commits one event at a time at a steady rate; answers each event's commit time. */
    produce: async ({ tenantId, perSecond, seconds }: { tenantId: string; perSecond: number; seconds: number }) => {
      const committed: Record<string, number> = {};
      const total = perSecond * seconds;
      const start = performance.now();
      const inFlight: Promise<void>[] = [];
      for (let i = 0; i < total; i++) {
        const due = start + (i * 1000) / perSecond;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        let committedAt = 0;
        inFlight.push(
          transactions
            .run(
              (tx) => outbox.record(tx, tenantId, [event()]),
              () => (committedAt = wallNow()),
            )
            .then(([recorded]) => {
              committed[recorded.id] = committedAt;
            }),
        );
      }
      await Promise.all(inFlight);
      return committed;
    },
    claimTimingStart: () => {
      claimTimes = [];
    },
    /** Milliseconds of each claim statement since claimTimingStart. */
    claimTimingStop: () => {
      const times = claimTimes ?? [];
      claimTimes = undefined;
      return times;
    },
    rssStart: () => {
      rssPeak = process.memoryUsage.rss();
      rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 100);
    },
    rssStop: () => {
      clearInterval(rssTimer);
      return Math.max(rssPeak, process.memoryUsage.rss()) / (1024 * 1024);
    },
  });

  process.on('SIGTERM', () => {
    void app.close().finally(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
