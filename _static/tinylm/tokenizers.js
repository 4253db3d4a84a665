// GPT-2's and Llama's real tokenizers in the page, from tables the build exports
// (llmbook/tokenizer_tables.py). Same ids as the Python tokenizers: tests check it.
// A classic script: window.llmbookTokenizers.{gpt2, llama}(tables) -> {encode, pieces}.
// Not handled: special tokens typed as text (tokenized as plain text).
(() => {
  /** Merge the lowest-ranked adjacent pair (all its occurrences, left to right) until none is left. */
  function bpe(symbols, rank, merged) {
    while (symbols.length > 1) {
      let best = Infinity, a = -1, b = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const r = rank(symbols[i], symbols[i + 1]);
        if (r !== undefined && r < best) { best = r; a = symbols[i]; b = symbols[i + 1]; }
      }
      if (a < 0) break;
      const id = merged(a, b), out = [];
      for (let i = 0; i < symbols.length;) {
        if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) { out.push(id); i += 2; }
        else out.push(symbols[i++]);
      }
      symbols = out;
    }
    return symbols;
  }

  function rankTable(flat) {
    const ranks = new Map();
    for (let r = 0; 2 * r < flat.length; r++) ranks.set(flat[2 * r] * 65536 + flat[2 * r + 1], r);
    return ranks;
  }

  const utf8 = new TextEncoder();
  const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

  function gpt2(t) {
    const ranks = rankTable(t.merges);
    const bytesOf = [];                                 // id -> its bytes
    t.byte_ids.forEach((id, b) => { bytesOf[id] = [b]; });
    for (let r = 0; 2 * r < t.merges.length; r++) bytesOf[256 + r] = bytesOf[t.merges[2 * r]].concat(bytesOf[t.merges[2 * r + 1]]);
    const rank = (a, b) => ranks.get(a * 65536 + b);
    const cache = new Map();
    return {
      encode(text) {
        const ids = [];
        for (const [word] of text.matchAll(GPT2_SPLIT)) {
          if (!cache.has(word)) cache.set(word, bpe(Array.from(utf8.encode(word), (b) => t.byte_ids[b]), rank, (a, b) => 256 + rank(a, b)));
          ids.push(...cache.get(word));
        }
        return ids;
      },
      piece(id) { return new TextDecoder().decode(Uint8Array.from(bytesOf[id])); },
      bytes(id) { return bytesOf[id] ? bytesOf[id].slice() : null; },
    };
  }

  function llama(t) {
    const ranks = rankTable(t.merges);
    const idOf = new Map(t.pieces.map((p, i) => [p, i]));
    const rank = (a, b) => ranks.get(a * 65536 + b);
    return {
      encode(text) {
        if (!text) return [];
        let s = text.replace(/ /g, "\u2581");
        if (!s.startsWith("\u2581")) s = "\u2581" + s;  // Metaspace, prepend_scheme "first"
        const symbols = [];
        for (const ch of s) {                             // code points; unknown ones fall back to bytes
          const id = idOf.get(ch);
          if (id !== undefined) symbols.push(id);
          else for (const b of utf8.encode(ch)) symbols.push(idOf.get("<0x" + b.toString(16).toUpperCase().padStart(2, "0") + ">") ?? t.unk);
        }
        return bpe(symbols, rank, (a, b) => idOf.get(t.pieces[a] + t.pieces[b]));
      },
      piece(id) {
        const p = t.pieces[id];
        const byte = /^<0x([0-9A-F]{2})>$/.exec(p);
        if (byte) { const v = parseInt(byte[1], 16); return v < 128 ? String.fromCharCode(v) : p; }
        return p.replace(/\u2581/g, " ");
      },
    };
  }

  (typeof window !== "undefined" ? window : globalThis).llmbookTokenizers = { gpt2, llama };
})();
