// The tokenizer box of Part II: type text, see the book's BPE tokens and ids.
// A classic script (works from file:// too): needs bpe-classic.js and merges-data.js first.
// User text only ever reaches the page through textContent, never innerHTML.
(() => {
  const MAX_SHOWN = 2000;          // tokens drawn; the count covers everything

  function render(box, bpe, merges, table) {
    const input = box.querySelector("textarea");
    const out = box.querySelector(".tok-out");
    const stats = box.querySelector(".tok-stats");
    const ids = bpe.encode(input.value, merges);
    const bytes = new TextEncoder().encode(input.value).length;
    out.replaceChildren();
    ids.slice(0, MAX_SHOWN).forEach((id, k) => {
      const span = document.createElement("span");
      span.className = "tok tok-" + (k % 6);
      span.textContent = bpe.tokenText(id, table).replace(/ /g, "\u2423").replace(/\n/g, "\u21b5");
      span.title = "id " + id;
      span.dataset.id = id;
      out.append(span);
    });
    const idsLine = document.createElement("div");
    idsLine.className = "tok-ids";
    idsLine.textContent = "ids: [" + Array.from(ids.slice(0, MAX_SHOWN)).join(", ") +
      (ids.length > MAX_SHOWN ? ", …" : "") + "]";
    out.append(idsLine);
    stats.textContent = input.value.length === 0
      ? "Empty text: no tokens."
      : `${ids.length.toLocaleString()} tokens from ${bytes.toLocaleString()} bytes` +
        (ids.length > MAX_SHOWN ? ` (first ${MAX_SHOWN} shown)` : "");
  }

  function start() {
    const bpe = window.llmbookBPE;
    const merges = window.LLMBOOK_BPE_MERGES;
    document.querySelectorAll(".llmbook-tokenizer").forEach((box) => {
      const stats = box.querySelector(".tok-stats");
      if (!bpe || !merges) {
        stats.textContent = "The tokenizer data did not load, so the box cannot run.";
        return;
      }
      const table = bpe.vocabBytes(merges);
      let timer = 0;
      box.querySelector("textarea").addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => render(box, bpe, merges, table), 60);
      });
      render(box, bpe, merges, table);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
