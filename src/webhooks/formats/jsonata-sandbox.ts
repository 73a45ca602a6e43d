import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { fileURLToPath } from 'node:url';
import workerpool from 'workerpool';
import { FairQueue } from './fair-queue.js';

/**
 * Limits of one evaluation of a tenant's expression. JSONata checks its own timeout and depth
 * only between expression nodes, so one built-in (`$pad`, a backtracking `$match`) can run far
 * past them: the hard deadline and the heap limit are what contain it.
 */
export const JSONATA_LIMITS = {
  /** JSONata's own bound, checked between nodes (answers D1012). */
  timeoutMs: 1_000,
  maxDepth: 200,
  /** Past this the child process is killed and replaced. */
  deadlineMs: 2_000,
  heapMb: 128,
  /** Child processes evaluating at once, shared by every tenant. */
  processes: 2,
  /** Evaluations of one tenant waiting for a process; past this its next one fails at once ("busy"). */
  maxWaitingPerTenant: 200,
  /** EDI and ERP documents are large; a body past this is a transform error. */
  maxResultBytes: 1_048_576,
} as const;

const WORKER_SCRIPT = fileURLToPath(new URL('./jsonata-worker.mjs', import.meta.url));

export type SandboxResult =
  { ok: true; body: string; isText: boolean } | { ok: false; code: string | null; message: string };

let pool: workerpool.Pool | null = null;

/**
 * Child processes, not worker threads: a worker thread shares the service's process, and a
 * single large allocation in it (`$pad("", 2e8)`, a 10-million range) aborts the whole process
 * despite `resourceLimits` (measured on Node 20). A child process dies alone.
 */
function sandboxPool(): workerpool.Pool {
  pool ??= workerpool.pool(WORKER_SCRIPT, {
    workerType: 'process',
    minWorkers: 1,
    maxWorkers: JSONATA_LIMITS.processes,
    workerTerminateTimeout: 100,
    emitStdStreams: true,
    forkOpts: {
      // Only what the evaluation needs: no secret of the service reaches the child.
      env: { NODE_ENV: process.env.NODE_ENV ?? '' },
      execArgv: [`--max-old-space-size=${JSONATA_LIMITS.heapMb}`, '--max-semi-space-size=16'],
    },
  });
  return pool;
}

/** One evaluation waiting for a process. */
interface Evaluation {
  expression: string;
  envelopeJson: string;
  resolve: (result: SandboxResult) => void;
}

/**
 * Evaluations wait here, not in the pool's own first-come queue: the processes are shared by
 * every tenant, and one tenant's flood of expressions that each run into the deadline (previews,
 * saves, pushes of a mapping that is slow on real data) must not hold up another's. The next
 * free process goes to the tenant that has used the least process time.
 */
const waiting = new FairQueue<Evaluation>(JSONATA_LIMITS.deadlineMs, JSONATA_LIMITS.maxWaitingPerTenant);
let running = 0;

/**
 * Evaluates a tenant's expression over an envelope in the sandbox, off the service's event loop.
 * `tenantId`: whose evaluation it is, for the sandbox's fair share between tenants.
 */
export function evaluateInSandbox(expression: string, envelopeJson: string, tenantId: string): Promise<SandboxResult> {
  return new Promise<SandboxResult>((resolve) => {
    if (!waiting.enqueue(tenantId, { expression, envelopeJson, resolve }))
      return resolve({
        ok: false,
        code: 'busy',
        message: `the JSONata sandbox already holds ${JSONATA_LIMITS.maxWaitingPerTenant} evaluations of this tenant; try again later`,
      });
    startWaiting();
  });
}

function startWaiting(): void {
  while (running < JSONATA_LIMITS.processes) {
    const next = waiting.next();
    if (!next) return;
    running++;
    const started = performance.now();
    void runInPool(next.item.expression, next.item.envelopeJson).then((result) => {
      running--;
      waiting.settle(next.owner, performance.now() - started);
      next.item.resolve(result);
      startWaiting();
    });
  }
}

/**
 * How long a child process may take to start evaluating (starting one after a kill, under the
 * machine's load) before the evaluation is given up as lost: a safety bound, not the deadline.
 */
const CHILD_START_LIMIT_MS = 30_000;

/** A child that never started the evaluation, or died without answering. */
class LostEvaluation extends Error {}

/** One evaluation in a process of the pool, started now; never rejects. */
async function runInPool(expression: string, envelopeJson: string): Promise<SandboxResult> {
  let deadline: NodeJS.Timeout | undefined;
  let lost: NodeJS.Timeout | undefined;
  let task: workerpool.Promise<unknown> | undefined;
  try {
    // The deadline counts from when the child starts evaluating (it says so), not from when the
    // task was handed to a child that may still be starting: starting a process takes what the
    // machine's load makes it take, and that is no fault of the expression.
    task = sandboxPool().exec('render', [expression, envelopeJson, JSONATA_LIMITS], {
      on: (event: unknown) => {
        if (event === 'started' && !deadline) deadline = setTimeout(() => task?.cancel(), JSONATA_LIMITS.deadlineMs);
      },
    });
    // Our own bound too, so no caller ever waits on a task the pool lost (a child that died oddly
    // or never started).
    const bound = new Promise<never>((_, reject) => {
      lost = setTimeout(() => reject(new LostEvaluation()), JSONATA_LIMITS.deadlineMs + CHILD_START_LIMIT_MS);
    });
    return (await Promise.race([task, bound])) as SandboxResult;
  } catch (error) {
    if (error instanceof workerpool.Promise.CancellationError)
      return {
        ok: false,
        code: 'deadline',
        message: `it ran longer than ${JSONATA_LIMITS.deadlineMs} ms and was stopped`,
      };
    if (error instanceof LostEvaluation) {
      task?.cancel();
      return {
        ok: false,
        code: 'lost',
        message: 'the sandbox did not evaluate it (its process did not start or answer); try again',
      };
    }
    return {
      ok: false,
      code: 'crashed',
      message: `it exceeded the sandbox's limits (memory ${JSONATA_LIMITS.heapMb} MB) and was stopped`,
    };
  } finally {
    clearTimeout(deadline);
    clearTimeout(lost);
  }
}

/** Ends the sandbox's child processes (at shutdown); the next evaluation starts a new pool. */
export async function closeJsonataSandbox(): Promise<void> {
  const closing = pool;
  pool = null;
  if (!closing) return;
  // workerpool can wait forever on a child that already died (an OOM): never let that hold a shutdown.
  await Promise.race([
    closing.terminate(true, 1_000).catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
  ]);
}

/** Stops the sandbox's processes with the application. */
@Injectable()
export class JsonataSandboxShutdown implements OnApplicationShutdown {
  async onApplicationShutdown(): Promise<void> {
    await closeJsonataSandbox();
  }
}
