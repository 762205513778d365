import { Worker } from 'node:worker_threads';

/** What one git process was asked to do; the same options execFile takes. */
export interface SpawnRequest {
  args: readonly string[];
  cwd: string;
  env: Record<string, string | undefined>;
  maxBuffer: number;
  input?: string | Buffer | undefined;
}

/** How it ended: execFile's error (code, message) or none, and what it wrote. */
export interface SpawnOutcome {
  stdout: string;
  stderr: string;
  error?: { code: number | string; message: string } | undefined;
}

/**
 * Node's spawn is synchronous up to the child's exec: the calling thread forks and waits,
 * about 2 ms for a small process and 4–5 ms for one of a few hundred MB. On the main thread
 * that stalls every RPC, database hop and stream of the agent for each git command it runs
 * (a job fetch, a status scan). Spawning from a worker thread keeps that wait off the event
 * loop; the child, its pipes and its exit are the worker's, and only the outcome comes back.
 *
 * The worker's source is inline so it travels with any bundle of this module.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { execFile } = require('node:child_process');
// Aborts of calls in flight, and the processes not yet reaped. An aborted call is answered
// at once (as execFile does), but its process is reaped only at its exit, by this thread's
// loop: the thread may end only once that is done, or the process stays a zombie.
const aborts = new Map();
const unreaped = new Set();
let closing = false;
const drained = () => closing && unreaped.size === 0 && parentPort.postMessage({ drained: true });
parentPort.on('message', (message) => {
  if (message.abort !== undefined) {
    aborts.get(message.abort)?.abort();
    return;
  }
  if (message.close) {
    closing = true;
    for (const abort of aborts.values()) abort.abort();
    drained();
    return;
  }
  const { id, args, cwd, env, maxBuffer, input } = message;
  const abort = new AbortController();
  aborts.set(id, abort);
  let child;
  try {
    child = execFile('git', args, { cwd, env, maxBuffer, signal: abort.signal }, (error, stdout, stderr) => {
      aborts.delete(id);
      parentPort.postMessage({
        id,
        stdout,
        stderr,
        error: error ? { code: error.code ?? 1, message: error.message } : undefined,
      });
    });
  } catch (error) {
    aborts.delete(id);
    parentPort.postMessage({ id, stdout: '', stderr: '', error: { code: error.code ?? 1, message: error.message } });
    return;
  }
  if (child.pid !== undefined) {
    unreaped.add(child);
    child.on('exit', () => (unreaped.delete(child), drained()));
  }
  child.stdin?.on('error', () => {});
  if (input !== undefined) child.stdin?.end(input);
});
`;

type Pending = { resolve: (outcome: SpawnOutcome) => void; reject: (err: Error) => void };

/**
 * Runs git processes from one worker thread, started on first use. A worker that dies fails
 * its calls in flight; the next call starts a new one.
 */
export class GitSpawner {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly inFlight = new Set<Promise<SpawnOutcome>>();
  private nextId = 0;

  run(request: SpawnRequest, signal?: AbortSignal): Promise<SpawnOutcome> {
    if (signal?.aborted) return Promise.resolve(aborted());
    const worker = this.started();
    const id = this.nextId++;
    // Referenced only while a call is in flight: an idle worker keeps no process alive.
    if (this.pending.size === 0) worker.ref();
    const call = new Promise<SpawnOutcome>((resolve, reject) => {
      const onAbort = () => worker.postMessage({ abort: id });
      signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        resolve: (outcome) => (settle(), resolve(outcome)),
        reject: (err) => (settle(), reject(err)),
      });
      worker.postMessage({ id, ...request });
    });
    this.inFlight.add(call);
    return call.finally(() => this.inFlight.delete(call));
  }

  /**
   * Stops the worker once its processes are killed and reaped (calls in flight answer
   * ABORT_ERR); a later call starts a new one.
   */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const drained = new Promise<void>((resolve) => {
      worker.on('message', (message: { drained?: boolean }) => message.drained && resolve());
      worker.on('exit', () => resolve());
    });
    worker.ref();
    worker.postMessage({ close: true });
    await Promise.allSettled([drained, ...this.inFlight]);
    await worker.terminate();
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    // No flags of the parent (an ESM --input-type would make this CommonJS source fail).
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    worker.unref();
    worker.on('message', ({ id, ...outcome }: SpawnOutcome & { id: number }) => {
      if (id === undefined) return;
      const call = this.pending.get(id);
      this.pending.delete(id);
      if (this.pending.size === 0) worker.unref();
      call?.resolve(outcome);
    });
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      const calls = [...this.pending.values()];
      this.pending.clear();
      for (const call of calls) call.reject(err);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the git worker thread exited (${code})`)));
    this.worker = worker;
    return worker;
  }
}

function aborted(): SpawnOutcome {
  return { stdout: '', stderr: '', error: { code: 'ABORT_ERR', message: 'The operation was aborted' } };
}
