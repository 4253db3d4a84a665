// Cross-origin isolation for the live pages where the host sends no headers for it: register the
// service worker (isolation-sw.js, at the site's root) for the page's own folder and, the first
// time it takes control of the page, reload once so the page comes back isolated (then
// SharedArrayBuffer exists and the CPU engine runs on a pool of threads, engines/pool.js).
//
//   const { isolated, why, reloading } = await isolate(swUrl)
//
// isolated: the page is cross-origin isolated now; why: the reason it is not (shown on the
// page's engine line); reloading: the page is about to reload (do nothing more). A reload
// happens at most once a tab session (sessionStorage guards against a loop, e.g. a browser
// that keeps the worker but ignores its headers); never from file:// or where service workers
// are missing (one thread there). Not handled: undoing the registration (a reader can in the
// browser's settings; the worker only adds headers to this site's own responses).

const RELOADED = "llmbook-isolation-reloaded";
const TAKE_CONTROL_MS = 5000;

export async function isolate(swUrl, { scope = "./", win = globalThis, wait = TAKE_CONTROL_MS } = {}) {
  const storage = sessionStore(win);
  if (win.crossOriginIsolated) {
    if (storage) storage.removeItem(RELOADED);
    return { isolated: true, why: null };
  }
  const no = (why) => ({ isolated: false, why });
  if (!swUrl) return no("page not cross-origin isolated");
  if (win.location.protocol === "file:") return no("page not cross-origin isolated: opened from disk");
  const sw = win.navigator && win.navigator.serviceWorker;
  if (!sw || !win.isSecureContext) return no("page not cross-origin isolated: no service workers here");
  try {
    await sw.register(swUrl, { scope });
  } catch (err) {
    return no(`page not cross-origin isolated: its service worker could not start (${err && err.message})`);
  }
  if (sw.controller || !storage || storage.getItem(RELOADED)) return no("page not cross-origin isolated");
  if (!(await controlled(sw, wait))) return no("page not cross-origin isolated: its service worker did not take control");
  storage.setItem(RELOADED, String(Date.now()));
  win.location.reload();
  return { isolated: false, why: "reloading to turn on threads", reloading: true };
}

/** True once the service worker controls the page (false after `wait` ms). */
function controlled(sw, wait) {
  if (sw.controller) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), wait);
    sw.addEventListener("controllerchange", () => { clearTimeout(timer); resolve(true); }, { once: true });
  });
}

function sessionStore(win) {
  try {
    const s = win.sessionStorage;
    s.getItem(RELOADED);
    return s;
  } catch {
    return null;                                    // storage blocked: no reload, so no loop
  }
}
