import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import axios from 'axios';

export interface ServiceProcess {
  child: ChildProcess;
  logFile: string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** The last lines of the service's log. */
  tail(lines?: number): string;
  /** SIGTERM (the service stops its embedded PostgreSQL itself), SIGKILL after `graceMs`; resolves on exit. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Runs `node <entry>` as a child with its stdout and stderr in `logFile` (truncated), so its log
 * lines stay out of the caller's output but are there to read when it fails.
 */
export function startService(entry: string, env: NodeJS.ProcessEnv, logFile: string): ServiceProcess {
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(process.execPath, [entry], { env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    logFile,
    exited,
    tail: (lines = 20) => {
      const text = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    },
    stop: async (graceMs = 20_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls GET /health until it answers 200; fails when the service exits first or after `timeoutMs`. */
export async function waitForHealth(baseUrl: string, service: ServiceProcess, timeoutMs: number): Promise<void> {
  let exitCode: number | null | undefined;
  void service.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the service exited during start-up (code ${exitCode})`);
    try {
      const response = await axios.get(`${baseUrl}/health`, { timeout: 2_000, validateStatus: () => true });
      if (response.status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`the service did not answer GET /health within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
