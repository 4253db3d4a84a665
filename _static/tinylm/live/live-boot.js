// Starts the live-prompt page (book/try/live.md): needs live-data.js (window.LLMBOOK_LIVE),
// gpt2-tables.js and tokenizers.js (GPT-2's tokenizer) and live.js (window.llmbookLive) first.
// The engine's worker runs live.js's own text (window.llmbookLiveSource) and serves from it.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("llmbook-live");
  if (!root) return;
  const tables = window.LLMBOOK_TOKENIZER_TABLES, make = window.llmbookTokenizers;
  if (!window.LLMBOOK_LIVE || !window.llmbookLive || !tables || !make) {
    root.textContent = "The page's scripts did not load (live-data.js, live.js, gpt2-tables.js, tokenizers.js); try reloading it.";
    return;
  }
  const workerSource = window.llmbookLiveSource && `${window.llmbookLiveSource()}self.llmbookLive["live-worker"].serve(self);\n`;
  const mount = () => { window.llmbookLivePage = window.llmbookLive.live.mountLive(root, window.LLMBOOK_LIVE, make.gpt2(tables.gpt2), { workerSource }); };
  // Threads need a cross-origin isolated page: the service worker makes it one (reloading once), else one thread.
  window.llmbookLive.isolation.isolate(window.LLMBOOK_LIVE.isolation_sw)
    .then((r) => { window.llmbookLiveIsolation = r; if (!r.reloading) mount(); }, mount);
});
