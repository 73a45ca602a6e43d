import type { ChildProcess } from 'node:child_process';

/** Request/answer over a child process's IPC channel. */
export type Handlers = Record<string, (args: any) => Promise<unknown> | unknown>;

export function serve(handlers: Handlers): void {
  process.on('message', async (message: { id: number; cmd: string; args: unknown }) => {
    try {
      const handler = handlers[message.cmd];
      if (!handler) throw new Error(`unknown command ${message.cmd}`);
      const result = await handler(message.args);
      process.send!({ id: message.id, result });
    } catch (error) {
      process.send!({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });
  // The bench ended (or died): nothing is left to serve.
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true });
}

export class Remote {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  readonly ready: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {
    let markReady: () => void = () => undefined;
    this.ready = new Promise((resolve, reject) => {
      markReady = resolve;
      child.once('exit', (code) => reject(new Error(`${name} exited early (code ${code})`)));
    });
    child.on('message', (message: { id?: number; ready?: boolean; result?: unknown; error?: string }) => {
      if (message.ready) return markReady();
      const waiter = this.pending.get(message.id!);
      if (!waiter) return;
      this.pending.delete(message.id!);
      if (message.error) waiter.reject(new Error(`${name}: ${message.error}`));
      else waiter.resolve(message.result);
    });
  }

  call<T = any>(cmd: string, args: unknown = {}): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ id, cmd, args });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const wallNow = () => performance.timeOrigin + performance.now();
