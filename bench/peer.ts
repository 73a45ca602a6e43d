import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { Pool } from 'undici';
import { serve, wallNow } from './rpc.js';

/**
 * The peer: what a team would otherwise build, graphile-worker 0.18 configured as its
 * performance page recommends for throughput (local queue of 500, batched completion and
 * failure, a pool one larger than the concurrency), whose job signs the payload with
 * standardwebhooks, POSTs it with undici and writes one audit row. Concurrency 32, as Waybill's
 * default per subscription.
 *
 * It lives as long as the bench (warm, like the service), has its own receiver process and its
 * own database, prepared the way the service's is before each measured round (see run.ts).
 */
const connectionString = process.env.DATABASE_URL!;
const receiverUrl = process.env.RECEIVER_URL!;
const CONCURRENCY = 32;
const secret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
const signer = new Webhook(secret);
/** Only warnings and errors: a line per job would cost the peer its own throughput. */
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`[peer] ${message}`);
});
const http = new Pool(new URL(receiverUrl).origin, { connections: 64, pipelining: 1 });

serve({
  prepare: async () => {
    const client = new pg.Client({ connectionString });
    await client.connect();
    await client.query(`CREATE TABLE IF NOT EXISTS peer_audit (
      id bigserial PRIMARY KEY, job_id text, started_at timestamptz, duration_ms int, url text,
      request_headers jsonb, request_body text, response_status int, response_body text)`);
    await client.end();
    const utils = await makeWorkerUtils({ connectionString, logger });
    await utils.migrate();
    await utils.release();
  },

  /** Commits `count` jobs (before the clock starts, like the service's backlog). */
  queue: async ({ count, payload, prefix }: { count: number; payload: string; prefix: string }) => {
    const client = new pg.Client({ connectionString });
    await client.connect();
    await client.query('TRUNCATE peer_audit');
    await client.end();
    const utils = await makeWorkerUtils({ connectionString, logger });
    for (let made = 0; made < count; made += 1000) {
      const n = Math.min(1000, count - made);
      await utils.addJobs(
        Array.from({ length: n }, (_, i) => ({
          identifier: 'deliver',
          payload: { id: `evt_${prefix}_${made + i}`, body: payload },
        })),
      );
    }
    await utils.release();
  },

  /** Starts the worker on the committed backlog; answers jobs/s until every job is done and its completion committed. */
  drain: async ({ count }: { count: number }) => {
    let done = 0;
    let finish: () => void = () => undefined;
    const allDone = new Promise<void>((resolve) => (finish = resolve));
    const started = wallNow();
    const runner = await run({
      noHandleSignals: true,
      logger,
      preset: {
        worker: {
          connectionString,
          concurrentJobs: CONCURRENCY,
          maxPoolSize: CONCURRENCY + 1,
          pollInterval: 1000,
          localQueue: { size: 500 },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      },
      taskList: {
        deliver: async (job, helpers) => {
          const { id, body } = job as { id: string; body: string };
          const now = new Date();
          const headers = {
            'content-type': 'application/json',
            'webhook-id': id,
            'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
            'webhook-signature': signer.sign(id, now, body),
          };
          const t0 = performance.now();
          const response = await http.request({ path: '/peer', method: 'POST', headers, body });
          const text = await response.body.text();
          await helpers.query(
            `INSERT INTO peer_audit (job_id, started_at, duration_ms, url, request_headers, request_body, response_status, response_body)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
            [
              id,
              now,
              Math.round(performance.now() - t0),
              `${receiverUrl}/peer`,
              headers,
              body,
              response.statusCode,
              text,
            ],
          );
          if (response.statusCode >= 300) throw new Error(`status ${response.statusCode}`);
        },
      },
    });
    runner.events.on('job:success', () => {
      done += 1;
      if (done === count) finish();
    });
    await allDone;
    // Completions are batched: the backlog is drained when the queue table says so.
    const client = new pg.Client({ connectionString });
    await client.connect();
    while (Number((await client.query('SELECT count(*) AS n FROM graphile_worker.jobs')).rows[0].n) > 0)
      await new Promise((resolve) => setTimeout(resolve, 5));
    const ended = wallNow();
    await client.end();
    await runner.stop();
    return { perSec: (count / (ended - started)) * 1000 };
  },
});
