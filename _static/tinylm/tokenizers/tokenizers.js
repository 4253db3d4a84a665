// GPT-2's and Llama's real tokenizers in the page, from tables the build exports
// (llmbook/part1/tokenizer_tables.py). The ids are the models' training tokenizers' own, and the
// fuzz suite (tests/lm/test_tokenizer_fuzz.py) holds them to it: GPT-2 = HF `tokenizers` on GPT-2's
// BPE files; Llama = `sentencepiece` on its tokenizer.model (its BPE: merge the adjacent pair whose
// merged piece scores highest, leftmost first; unknown characters fall back to bytes).
// A classic script: window.llmbookTokenizers.{gpt2, llama}(tables) -> {encode, piece}.
// Text is text: a typed "<s>" or "<|endoftext|>" is ordinary characters. A lone surrogate (half a
// UTF-16 pair) is read as U+FFFD, as TextEncoder does.
// Not handled: SentencePiece user-defined symbols (Llama has none), sampling (BPE-dropout).
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
  const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
  const wellFormed = (text) => String(text).replace(LONE_SURROGATE, "\uFFFD");
  // GPT-2's pattern with "\s" as the Unicode White_Space property, as the Rust regex reads it
  // (JavaScript's \s also takes U+FEFF and not U+0085).
  const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

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
        for (const [word] of wellFormed(text).matchAll(GPT2_SPLIT)) {
          if (!cache.has(word)) cache.set(word, bpe(Array.from(utf8.encode(word), (b) => t.byte_ids[b]), rank, (a, b) => 256 + rank(a, b)));
          ids.push(...cache.get(word));
        }
        return ids;
      },
      piece(id) { return new TextDecoder("utf-8", { ignoreBOM: true }).decode(Uint8Array.from(bytesOf[id])); },
      bytes(id) { return bytesOf[id] ? bytesOf[id].slice() : null; },
    };
  }

  /** A max-heap of candidate merges: highest score first, then leftmost (sentencepiece's order). */
  class Agenda {
    constructor() { this.h = []; }
    get size() { return this.h.length; }
    static before(x, y) { return x.score > y.score || (x.score === y.score && x.left < y.left); }
    push(x) {
      const h = this.h; h.push(x);
      for (let i = h.length - 1; i > 0;) {
        const p = (i - 1) >> 1;
        if (!Agenda.before(h[i], h[p])) break;
        [h[i], h[p]] = [h[p], h[i]]; i = p;
      }
    }
    pop() {
      const h = this.h, top = h[0], last = h.pop();
      if (h.length) {
        h[0] = last;
        for (let i = 0; ;) {
          const l = 2 * i + 1, r = l + 1;
          let m = i;
          if (l < h.length && Agenda.before(h[l], h[m])) m = l;
          if (r < h.length && Agenda.before(h[r], h[m])) m = r;
          if (m === i) break;
          [h[i], h[m]] = [h[m], h[i]]; i = m;
        }
      }
      return top;
    }
  }

  const NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

  /** Scores and types when the table carries only the pieces: Llama-2's tokenizer.model gives
   *  normal piece i the score -(i - first normal id), and whitespace-only pieces -1e9 (the tests
   *  check this rule against the file). Tables with "scores" and "types" use those. */
  function llamaMeta(t) {
    const byte = /^<0x[0-9A-F]{2}>$/;
    const types = t.types || t.pieces.map((p, i) =>
      i === t.unk ? UNKNOWN : byte.test(p) ? BYTE : (p === "<s>" || p === "</s>") ? CONTROL : NORMAL);
    let first = types.indexOf(NORMAL);
    const scores = t.scores || t.pieces.map((p, i) =>
      types[i] !== NORMAL ? 0 : /^\u2581+$/.test(p) ? -1e9 : -(i - first));
    return { types, scores };
  }

  function llama(t) {
    const { types, scores } = llamaMeta(t);
    const vocab = new Map();                             // sentencepiece's pieces_: what merges may make
    t.pieces.forEach((p, i) => { if (types[i] === NORMAL || types[i] === USER_DEFINED || types[i] === UNUSED) vocab.set(p, i); });
    const byteId = [];
    t.pieces.forEach((p, i) => { if (types[i] === BYTE) byteId[parseInt(p.slice(3, 5), 16)] = i; });
    const dummyPrefix = t.add_dummy_prefix !== false;
    const cache = new Map();
    function encodeText(text) {
      let s = text.replace(/ /g, "\u2581");             // identity normaliser: only U+0020 is escaped
      if (dummyPrefix) s = "\u2581" + s;
      const sym = Array.from(s), n = sym.length;        // code points
      const prev = sym.map((_, i) => i - 1), next = sym.map((_, i) => (i + 1 < n ? i + 1 : -1));
      const agenda = new Agenda(), revMerge = new Map();
      const maybeAdd = (l, r) => {
        if (l < 0 || r < 0) return;
        const p = sym[l] + sym[r], id = vocab.get(p);
        if (id === undefined) return;
        agenda.push({ score: scores[id], left: l, right: r, size: p.length });
        if (types[id] === UNUSED) revMerge.set(p, [sym[l], sym[r]]);
      };
      for (let i = 1; i < n; i++) maybeAdd(i - 1, i);
      while (agenda.size) {
        const top = agenda.pop(), l = top.left, r = top.right;
        if (!sym[l] || !sym[r] || sym[l].length + sym[r].length !== top.size) continue;   // stale
        sym[l] += sym[r];
        next[l] = next[r];
        if (next[r] >= 0) prev[next[r]] = l;
        sym[r] = "";
        maybeAdd(prev[l], l);
        maybeAdd(l, next[l]);
      }
      const out = [];
      const resegment = (p) => {
        const id = vocab.get(p);
        if (id !== undefined && types[id] !== UNUSED) { out.push(id); return; }
        const pair = revMerge.get(p);
        if (pair) { resegment(pair[0]); resegment(pair[1]); return; }
        for (const b of utf8.encode(p)) out.push(byteId[b] ?? t.unk);      // byte fallback
      };
      for (let i = 0; i !== -1 && n; i = next[i]) resegment(sym[i]);
      return out;
    }
    return {
      encode(text) {
        text = wellFormed(text);
        if (!text) return [];
        if (text.length > 256) return encodeText(text);
        if (!cache.has(text)) { if (cache.size > 4096) cache.clear(); cache.set(text, encodeText(text)); }
        return cache.get(text).slice();
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
