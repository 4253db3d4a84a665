// Byte-level BPE encoder/decoder (CONTRACTS §5), the same ids as llmbook.bpe.
// No dependencies; runs in browsers and in Node >= 18.
//
// encode: UTF-8 bytes (lone surrogates become U+FFFD, as in Python), then every
// merge in index order, each applied left to right without overlaps. That equals
// "repeatedly merge the lowest-index pair": a merge only creates pairs that hold the
// new token, and those have later indices.

const utf8 = new TextEncoder();

/** Check merges: a list of [left, right], each id below 256 + its own index. */
export function validateMerges(merges) {
  if (!Array.isArray(merges)) throw new Error("merges must be a list of [left, right] pairs");
  merges.forEach((m, step) => {
    const ok = Array.isArray(m) && m.length === 2 &&
      m.every((x) => Number.isInteger(x) && x >= 0 && x < 256 + step);
    if (!ok) throw new Error(`merge ${step} is ${JSON.stringify(m)}: ids must be below ${256 + step}`);
  });
  return merges;
}

/** text -> token ids (Int32Array). */
export function encode(text, merges) {
  if (typeof text !== "string") throw new TypeError("encode() takes a string");
  let ids = Int32Array.from(utf8.encode(text));
  let n = ids.length;
  const out = new Int32Array(n);
  for (let step = 0; step < merges.length && n > 1; step++) {
    const [a, b] = merges[step];
    const id = 256 + step;
    let w = 0;
    let i = 0;
    while (i < n) {
      if (ids[i] === a && i + 1 < n && ids[i + 1] === b) {
        out[w++] = id;
        i += 2;
      } else {
        out[w++] = ids[i++];
      }
    }
    if (w !== n) {           // something merged: swap buffers
      ids.set(out.subarray(0, w));
      n = w;
    }
  }
  return ids.slice(0, n);
}

/** The bytes of every token id: 256 single bytes, then each merge's concatenation. */
export function vocabBytes(merges) {
  const table = [];
  for (let i = 0; i < 256; i++) table.push(Uint8Array.of(i));
  for (const [a, b] of merges) {
    const t = new Uint8Array(table[a].length + table[b].length);
    t.set(table[a]);
    t.set(table[b], table[a].length);
    table.push(t);
  }
  return table;
}

/** ids -> text; invalid UTF-8 shows as U+FFFD. */
export function decode(ids, merges, table = vocabBytes(merges)) {
  let length = 0;
  for (const i of ids) {
    if (!(i >= 0 && i < table.length)) throw new RangeError(`id ${i} is outside this vocabulary of ${table.length}`);
    length += table[i].length;
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const i of ids) {
    bytes.set(table[i], at);
    at += table[i].length;
  }
  return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(bytes);
}

/** One token's text for display: its bytes decoded, invalid bytes as U+FFFD. */
export function tokenText(id, table) {
  return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(table[id]);
}
