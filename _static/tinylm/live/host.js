// The live pages' engine host, both sides of it (try/live and try/llama share it):
//   page:   const host = await connect(source, createHost)   -> {where: "worker"|"page", call(op, args, transfer, onProgress)}
//   worker: serveHost(self, createHost, extra)                 answers the page's calls in order
// A host is `createHost()` of the page's worker module: call(op, args, onProgress) -> {result, transfer}.
// Also the page's pacing (nextFrame, nextTask) and loadScript. Not handled: more than one call in
// flight in the worker (calls queue), cancelling a call (the pages stop between calls).

/** The next frame drawn (or 50 ms where frames are throttled), then a fresh task. */
export function nextFrame() {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 50);
    requestAnimationFrame(() => { clearTimeout(timer); setTimeout(resolve, 0); });
  });
}

/** A new task, unthrottled: the page takes input between two calls of the host running on it. */
export function nextTask() {
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => { port1.close(); resolve(); };
    port2.postMessage(null);
  });
}

/**
 * The engine host: a Web Worker started from `source` (the bundle's own text, as a blob: URL)
 * -> {where: "worker", gpu, call(op, args, transfer, onProgress), worker}; where this browser starts
 * none (or it does not answer within `timeout` ms), `createHost()` on this page -> {where: "page", reason, call}.
 */
export async function connect(source, createHost, { timeout = 30_000 } = {}) {
  let reason = "no worker script";
  if (source && typeof Worker === "function") {
    try {
      return await startWorker(source, timeout);
    } catch (err) {
      reason = err && err.message ? err.message : String(err);
    }
  } else if (source) {
    reason = "Web Workers are not available";
  }
  const run = createHost();
  return { where: "page", reason, async call(op, args, transfer, onProgress) {
    await nextTask();                                           // let the page draw, and Stop be clicked, between calls
    return (await run(op, args, onProgress)).result;
  } };
}

function startWorker(source, timeout) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    let worker;
    try {
      worker = new Worker(url);
    } catch (err) {
      URL.revokeObjectURL(url);
      reject(err);
      return;
    }
    const pending = new Map();
    let next = 1, ready = false;
    const timer = setTimeout(() => { worker.terminate(); reject(new Error(`the worker did not start in ${timeout / 1000} s`)); }, timeout);
    const call = (op, args = {}, transfer = [], onProgress = null) => new Promise((res, rej) => {
      const id = next++;
      pending.set(id, { res, rej, onProgress });
      worker.postMessage({ id, op, args }, transfer);
    });
    worker.addEventListener("message", (e) => {
      const { id, result, error, progress } = e.data || {};
      if (e.data && e.data.ready) {
        ready = true;
        clearTimeout(timer);
        URL.revokeObjectURL(url);
        resolve({ where: "worker", gpu: e.data.gpu, call, worker });
        return;
      }
      const waiting = pending.get(id);
      if (!waiting) return;
      if (progress) { if (waiting.onProgress) waiting.onProgress(progress); return; }
      pending.delete(id);
      if (error) waiting.rej(Object.assign(new Error(error.message), { name: error.name || "Error" }));
      else waiting.res(result);
    });
    worker.addEventListener("error", (e) => {
      e.preventDefault();
      const message = e.message || "the engine's worker stopped";
      if (!ready) { clearTimeout(timer); worker.terminate(); reject(new Error(message)); return; }
      for (const w of pending.values()) w.rej(new Error(message));
      pending.clear();
    });
  });
}

/** In a worker: answer the page's calls in order (progress as it comes); `ready` (with `extra`) once listening. */
export function serveHost(scope, createHost, extra = {}) {
  const call = createHost();
  let queue = Promise.resolve();
  scope.addEventListener("message", (e) => {
    const { id, op, args } = e.data || {};
    queue = queue.then(async () => {
      try {
        const { result, transfer } = await call(op, args, (progress) => scope.postMessage({ id, progress }));
        scope.postMessage({ id, result }, transfer);
      } catch (err) {
        scope.postMessage({ id, error: { name: err && err.name, message: err && err.message ? err.message : String(err) } });
      }
    });
  });
  scope.postMessage({ ready: true, gpu: Boolean(scope.navigator && scope.navigator.gpu), ...extra });
}

/**
 * The result with every typed array copied into a buffer of its own, and those buffers
 * listed for transfer: the engine's arrays may be views into its WebAssembly memory or
 * buffers it reuses, which must neither be cloned whole nor detached.
 */
export function own(result) {
  const transfer = [];
  const walk = (v) => {
    if (ArrayBuffer.isView(v)) { const c = v.slice(); transfer.push(c.buffer); return c; }
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  return { result: walk(result), transfer };
}

/** A classic script's global, loading the script once if it is not there yet. */
export function loadScript(src, global) {
  if (window[global]) return Promise.resolve(window[global]);
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = () => (window[global] ? resolve(window[global]) : reject(new Error(`${src} did not define ${global}`)));
    s.onerror = () => reject(new Error(`${src} could not be loaded`));
    document.head.append(s);
  });
}
