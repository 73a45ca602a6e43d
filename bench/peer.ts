import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { Pool } from 'undici';
import { serve, wallNow } from './rpc.js';

/**
 * The peer: what a team would otherwise build, graphile-worker 0.18 (batched: local queue and
 * batched completion, concurrency 32) whose job signs the payload with standardwebhooks, POSTs
 * it with undici and writes one audit row.
 */
const connectionString = process.env.DATABASE_URL!;
const receiverUrl = process.env.RECEIVER_URL!;
const secret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
const signer = new Webhook(secret);
/** Only warnings and errors: a line per job would cost the peer its own throughput. */
const logger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') console.error(`[peer] ${message}`);
});
const pool = new Pool(new URL(receiverUrl).origin, { connections: 64, pipelining: 1 });

async function prepare(): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  await client.query(`CREATE TABLE IF NOT EXISTS peer_audit (
    id bigserial PRIMARY KEY, job_id text, started_at timestamptz, duration_ms int, url text,
    request_headers jsonb, request_body text, response_status int, response_body text)`);
  await client.query('TRUNCATE peer_audit');
  await client.end();
}

serve({
  /** Queues `count` jobs (committed before the clock starts, like the drain's backlog), then works them off. */
  drain: async ({ count, payload }: { count: number; payload: string }) => {
    await prepare();
    const utils = await makeWorkerUtils({ connectionString, logger });
    await utils.migrate();
    for (let made = 0; made < count; made += 1000) {
      const n = Math.min(1000, count - made);
      await utils.addJobs(
        Array.from({ length: n }, (_, i) => ({
          identifier: 'deliver',
          payload: { id: `evt_peer_${made + i}`, body: payload },
        })),
      );
    }
    await utils.release();

    let done = 0;
    let finish: (t: number) => void = () => undefined;
    const finished = new Promise<number>((resolve) => (finish = resolve));
    const started = wallNow();
    const runner = await run({
      connectionString,
      concurrency: 32,
      maxPoolSize: 40,
      logger,
      noHandleSignals: true,
      pollInterval: 1000,
      preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
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
          const response = await pool.request({ path: '/peer', method: 'POST', headers, body });
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
      if (done === count) finish(wallNow());
    });
    const ended = await finished;
    await runner.stop();
    return { perSec: (count / (ended - started)) * 1000 };
  },
});
