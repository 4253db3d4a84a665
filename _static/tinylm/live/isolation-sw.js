// The live pages' service worker: it re-serves this site's own responses with the two headers
// that make a page cross-origin isolated (Cross-Origin-Opener-Policy: same-origin,
// Cross-Origin-Embedder-Policy: require-corp), so SharedArrayBuffer exists there and the CPU
// engine can run on several threads (engines/pool.js) where the host sends no such headers
// (Read the Docs, a plain static server). The build copies it to the site's root (a service
// worker controls only pages below its own folder); live/isolation.js registers it for the
// live pages' folder alone and reloads such a page once when it first takes control.
//
// Requests to other origins (the weights from huggingface.co, fetched with CORS) pass through
// untouched: under require-corp a CORS response loads as before. Not handled: another origin's
// resources loaded without CORS (an <img>, a <script> from a CDN: require-corp blocks them; the
// live pages load none), browsers without service workers or on file:// (one thread there).

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (new URL(request.url).origin !== self.location.origin) return;            // the network, as if we were not here
  if (request.cache === "only-if-cached" && request.mode !== "same-origin") return;
  event.respondWith(fetch(request).then(isolated));
});

/** The response with the isolation headers added (an opaque or error response as it came). */
function isolated(response) {
  if (response.status === 0 || response.type === "opaque" || response.type === "opaqueredirect") return response;
  const headers = new Headers(response.headers);
  headers.set("Cross-Origin-Opener-Policy", "same-origin");
  headers.set("Cross-Origin-Embedder-Policy", "require-corp");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
