// Starts the live TinyLlama page (book/try/llama.md): needs llama-data.js (window.LLMBOOK_LLAMA),
// llama-tables.js and tokenizers.js (Llama's tokenizer) and llama-live.js (window.llmbookLlama) first.
// The engine's worker runs llama-live.js's own text (window.llmbookLlamaSource) and serves from it.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("llmbook-llama");
  if (!root) return;
  const tables = window.LLMBOOK_TOKENIZER_TABLES, make = window.llmbookTokenizers;
  if (!window.LLMBOOK_LLAMA || !window.llmbookLlama || !tables || !tables.llama || !make) {
    root.textContent = "The page's scripts did not load (llama-data.js, llama-live.js, llama-tables.js, tokenizers.js); try reloading it.";
    return;
  }
  const workerSource = window.llmbookLlamaSource && `${window.llmbookLlamaSource()}self.llmbookLlama["llama-worker"].serve(self);\n`;
  window.llmbookLlamaPage = window.llmbookLlama["llama-page"].mountLlama(root, window.LLMBOOK_LLAMA, make.llama(tables.llama),
    tables.llama.pieces, { workerSource });
});
