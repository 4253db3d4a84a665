// A small pool of threads that share one WebAssembly memory with the CPU engine (gpt2.js) and
// split its big products between them: a product's output columns are cut into a few chunks,
// which the threads claim one at a time, so a thread streams only its chunks' band of the
// weights and writes only that band of the result. The sums are the single-threaded kernels'
// own, column by column, so the results are bit for bit the same.
//
//   const plan = poolPlan(asked)              // {threads, why}: how many threads can run here, and why only one
//   const pool = await Pool.start(arena, plan.threads)    // arena: linalg.js sharedArena()
//   pool.gemv(x, w, y, K, N)                  // y[N] += x[K] W[K, N] (byte offsets into the memory)
//   pool.gemm(a, w, c, M4, K, N, slice)       // C[M4, N] += A W, A packed by pack4, W in slices of `slice` rows
//   pool.close()
//
// The engine's thread claims chunks too, then waits for the others on a control block
// (Atomics.wait/notify on a small SharedArrayBuffer): so it must be a thread that may block,
// a Web Worker or Node, never a page's main thread. Threads run where SharedArrayBuffer exists,
// which in a browser means a cross-origin isolated page (COOP + COEP headers, or the service
// worker isolation-sw.js adds); in Node (worker_threads) only when asked for. The pool's threads
// are workers started from this file's own text (a blob: URL; eval under Node), so nothing
// more is fetched. Not handled: attention, LayerNorm and the other small steps (one thread),
// a thread the browser ends without an error (the engine gives up after WAIT_MS).

const GEN = 0, DONE = 1, OP = 2, CHUNKS = 3, FAILED = 4, ARGS = 5, CLAIM = 13, WORDS = 16;   // the control block, int32s
const OP_STOP = 0, OP_GEMV = 1, OP_GEMM = 2;
const MAX_THREADS = 8, MIN_CHUNK = 64;          // columns
// Chunks per thread: a row's product (gemv) runs best on wide bands (8 narrow ones take twice
// as long on one thread), the prompt's products (gemm) cut finer so threads finish together.
const PER_THREAD = { [OP_GEMV]: 1, [OP_GEMM]: 2 };
const WAIT_MS = 120_000;

const isNode = () => typeof process !== "undefined" && Boolean(process.versions && process.versions.node) && typeof window === "undefined";

/**
 * How many threads the engine can use here: {threads, why} (why: null, or the reason it is one).
 * asked: "auto" (a browser: min(cores, 4) where the page is cross-origin isolated; Node: 1) or a count.
 */
export function poolPlan(asked = "auto") {
  if (asked !== "auto" && !(Number.isInteger(asked) && asked >= 1)) {
    throw new Error(`threads must be "auto" or a whole number ≥ 1, not ${JSON.stringify(asked)}`);
  }
  const one = (why) => ({ threads: 1, why });
  if (asked === 1) return one("one thread asked for");
  if (typeof SharedArrayBuffer === "undefined" || typeof Atomics === "undefined") {
    return one(globalThis.crossOriginIsolated === false ? "page not cross-origin isolated" : "no SharedArrayBuffer here");
  }
  let cores;
  if (isNode()) {
    if (asked === "auto") return one("Node: threads not asked for");
    if (typeof process.getBuiltinModule !== "function") return one("this Node has no process.getBuiltinModule");
    cores = process.getBuiltinModule("node:os").availableParallelism();
  } else {
    if (globalThis.crossOriginIsolated !== true) return one("page not cross-origin isolated");
    if (typeof window !== "undefined") return one("the engine runs on the page's main thread");
    if (typeof Worker === "undefined" || typeof Blob === "undefined") return one("no nested Web Workers here");
    cores = (globalThis.navigator && navigator.hardwareConcurrency) || 1;
  }
  const threads = Math.min(asked === "auto" ? Math.min(cores, 4) : asked, MAX_THREADS);
  return threads < 2 ? one("one core") : { threads, why: null };
}

/**
 * Claim chunks of job `gen` (its columns, in order) and run them on kernels `k`, until none is
 * left: a thread the system has not scheduled leaves its share to the others. The claim word
 * holds the job's generation (low 15 bits) above the next chunk, so a late thread never
 * claims a chunk of the wrong job; the engine moves on only when every claimed chunk is done.
 * Self-contained: the pool's threads run this function's own text (numbers: the control block).
 */
function work(k, c, gen) {
  for (;;) {
    const v = Atomics.load(c, 13), n = c[3];
    if (v >>> 16 !== (gen & 0x7fff) || (v & 0xffff) >= n) return;
    if (Atomics.compareExchange(c, 13, v, v + 1) !== v) continue;
    const i = v & 0xffff, N = c[9], edge = (j) => (j >= n ? N : Math.round((N * j) / n / 16) * 16);
    const lo = edge(i), hi = edge(i + 1);
    try {
      if (hi > lo) {
        const x = c[5], w = c[6], y = c[7], K = c[8];
        if (c[2] === 1) {
          k.gemv_part(x, w + 4 * lo, y + 4 * lo, K, hi - lo, N);
        } else {
          const M4 = c[10], slice = c[11];
          for (let k0 = 0; k0 < K; k0 += slice) {
            k.gemm_cols_part(x + 16 * k0, w + 4 * (k0 * N + lo), y + 4 * lo, M4, Math.min(slice, K - k0), hi - lo, K, N);
          }
        }
      }
    } catch {
      Atomics.store(c, 4, 1);
    }
    if (Atomics.add(c, 1, 1) + 1 === n) Atomics.notify(c, 1);
  }
}

/** A pool thread: instantiate the kernels on the shared memory, then work on each job until told to stop. */
function poolThread() {
  /* global work */
  const node = typeof self === "undefined";
  const port = node ? process.getBuiltinModule("node:worker_threads").parentPort : self;
  const onMessage = (f) => (node ? port.once("message", f) : port.addEventListener("message", (e) => f(e.data), { once: true }));
  onMessage(async ({ module, memory, control }) => {
    let k;
    try {
      k = (await WebAssembly.instantiate(module, { env: { memory } })).exports;
    } catch (err) {
      port.postMessage({ error: String(err && err.message ? err.message : err) });
      return;
    }
    const c = new Int32Array(control);
    port.postMessage({ ready: true });
    for (let seen = Atomics.load(c, 0); ;) {
      for (let spin = 0; spin < 4000 && Atomics.load(c, 0) === seen; spin++);   // the next product comes soon
      Atomics.wait(c, 0, seen);
      seen = Atomics.load(c, 0);
      if (c[2] === 0) break;
      work(k, c, seen);
    }
    if (!node) self.close();
  });
}

const THREAD_SOURCE = () => `"use strict";\n${work}\n(${poolThread})();\n`;

export class Pool {
  /** n threads in all (this one and n - 1 workers) on a shared arena's memory, running its module's kernels. */
  static async start({ module, memory, k }, n) {
    const control = new SharedArrayBuffer(4 * WORDS);
    const workers = [];
    try {
      for (let i = 1; i < Math.min(n, MAX_THREADS); i++) workers.push(spawn());
      await Promise.all(workers.map((wk) => ready(wk, { module, memory, control })));
    } catch (err) {
      for (const wk of workers) wk.terminate();
      throw err;
    }
    return new Pool(k, control, workers);
  }

  constructor(k, control, workers) {
    this.k = k;
    this.c = new Int32Array(control);
    this.workers = workers;
    this.size = workers.length + 1;
    this.gen = 0;
  }

  /** y[N] += x[K] W[K, N]: W [K, N] row-major. Byte offsets; N a multiple of 8. */
  gemv(x, w, y, K, N) { this.run(OP_GEMV, [x, w, y, K, N], N); }

  /** C[M4, N] += A[M4, K] W[K, N], A packed by pack4 at `a`, W read in slices of `slice` rows. */
  gemm(a, w, c, M4, K, N, slice) { this.run(OP_GEMM, [a, w, c, K, N, M4, slice], N); }

  /** Post a job, work on it, wait until every chunk is done. */
  run(op, args, N) {
    const c = this.c;
    if (!this.workers) throw new Error("the thread pool was closed");
    const chunks = Math.max(1, Math.min(this.size * PER_THREAD[op], Math.floor(N / MIN_CHUNK)));
    const gen = (this.gen = (this.gen + 1) | 0);
    c[OP] = op;
    c[CHUNKS] = chunks;
    c.set(args, ARGS);
    Atomics.store(c, DONE, 0);
    Atomics.store(c, CLAIM, (gen & 0x7fff) << 16);
    Atomics.store(c, GEN, gen);
    Atomics.notify(c, GEN);
    work(this.k, c, gen);
    for (let spin = 0; spin < 4000 && Atomics.load(c, DONE) < chunks; spin++);     // the last chunk is nearly done
    for (let done = Atomics.load(c, DONE); done < chunks; done = Atomics.load(c, DONE)) {
      if (Atomics.wait(c, DONE, done, WAIT_MS) === "timed-out") throw new Error("a thread of the engine's pool stopped answering");
    }
    if (Atomics.exchange(c, FAILED, 0)) throw new Error("a thread of the engine's pool failed in its kernel");
  }

  /** Stop the threads (the pool cannot run again). */
  close() {
    if (!this.workers) return;
    this.c[OP] = OP_STOP;
    Atomics.add(this.c, GEN, 1);
    Atomics.notify(this.c, GEN);
    for (const wk of this.workers) wk.terminate();
    this.workers = null;
  }
}

/** A worker running poolThread: a blob: URL in a browser, eval under Node (unref'd: it never keeps Node alive). */
function spawn() {
  if (isNode()) {
    const { Worker } = process.getBuiltinModule("node:worker_threads");
    const wk = new Worker(THREAD_SOURCE(), { eval: true });
    wk.unref();
    return wk;
  }
  const url = URL.createObjectURL(new Blob([THREAD_SOURCE()], { type: "text/javascript" }));
  try {
    return new Worker(url);
  } finally {
    setTimeout(() => URL.revokeObjectURL(url), 60_000);   // the worker has fetched it by then
  }
}

/** Hand the worker its part; resolves when its kernels are instantiated. */
function ready(wk, init) {
  return new Promise((resolve, reject) => {
    const listen = (type, f) => (wk.on ? wk.on(type, f) : wk.addEventListener(type, f));
    listen("message", (e) => {
      const data = wk.on ? e : e.data;
      if (data && data.ready) resolve();
      else if (data && data.error) reject(new Error(`a pool thread could not start its kernels: ${data.error}`));
    });
    listen("error", (e) => reject(new Error(`a pool thread could not start: ${(e && e.message) || e}`)));
    wk.postMessage(init);
  });
}
