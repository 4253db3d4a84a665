// The tokenizer box of Part II: type text, see the book's BPE tokens and ids.
// A classic script (works from file:// too): needs bpe-classic.js and merges-data.js first.
// User text only ever reaches the page through textContent, never innerHTML.
(() => {
  const MAX_SHOWN = 2000;          // tokens drawn; the count covers everything
  const MAX_OTHERS = 5000;         // characters given to GPT-2's and Llama's tokenizers

  function spans(out, pieces) {
    pieces.slice(0, MAX_SHOWN).forEach(([id, text], k) => {
      const span = document.createElement("span");
      span.className = "tok tok-" + (k % 6);
      span.textContent = text.replace(/ /g, "\u2423").replace(/\n/g, "\u21b5");
      span.title = "id " + id;
      span.dataset.id = id;
      out.append(span);
    });
  }

  function renderOthers(box, others) {
    const text = box.querySelector("textarea").value.slice(0, MAX_OTHERS);
    for (const [name, tok] of Object.entries(others)) {
      const row = box.querySelector(`.tok-other[data-tokenizer="${name}"]`);
      if (!row) continue;
      const ids = tok.encode(text);
      const out = row.querySelector(".tok-pieces");
      out.replaceChildren();
      spans(out, ids.map((id) => [id, tok.piece(id)]));
      row.querySelector(".tok-count").textContent = `${ids.length.toLocaleString()} tokens` +
        (box.querySelector("textarea").value.length > MAX_OTHERS ? ` (first ${MAX_OTHERS.toLocaleString()} characters)` : "");
    }
  }

  function render(box, bpe, merges, table, others) {
    const input = box.querySelector("textarea");
    const out = box.querySelector(".tok-out");
    const stats = box.querySelector(".tok-stats");
    const ids = bpe.encode(input.value, merges);
    const bytes = new TextEncoder().encode(input.value).length;
    out.replaceChildren();
    spans(out, Array.from(ids, (id) => [id, bpe.tokenText(id, table)]));
    const idsLine = document.createElement("div");
    idsLine.className = "tok-ids";
    idsLine.textContent = "ids: [" + Array.from(ids.slice(0, MAX_SHOWN)).join(", ") +
      (ids.length > MAX_SHOWN ? ", …" : "") + "]";
    out.append(idsLine);
    stats.textContent = input.value.length === 0
      ? "Empty text: no tokens."
      : `${ids.length.toLocaleString()} tokens from ${bytes.toLocaleString()} bytes` +
        (ids.length > MAX_SHOWN ? ` (first ${MAX_SHOWN} shown)` : "");
    if (others) renderOthers(box, others);
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
      const tables = window.LLMBOOK_TOKENIZER_TABLES, make = window.llmbookTokenizers;
      const others = tables && make ? { gpt2: make.gpt2(tables.gpt2), llama: make.llama(tables.llama) } : null;
      if (!others) box.querySelectorAll(".tok-other .tok-count").forEach((c) => { c.textContent = "tables did not load"; });
      let timer = 0;
      box.querySelector("textarea").addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => render(box, bpe, merges, table, others), 60);
      });
      render(box, bpe, merges, table, others);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
