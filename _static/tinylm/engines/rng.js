// Seeded randomness for the widget: weight init, training windows and sampling.
// mulberry32 (32-bit state): fast and reproducible, not cryptographic, and not the
// same stream as torch.Generator (a seeded widget run repeats itself, not PyTorch's).

/** A function returning uniform floats in [0, 1), seeded by a 32-bit integer. */
export function mulberry32(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.state = () => a;
  return next;
}

/** Standard normal from two uniforms (Box–Muller). */
export function normal(rand) {
  const u = 1 - rand(), v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** B random windows of T+1 tokens from data (Uint16Array): inputs and next-token targets, [B·T] each. */
export function randomWindows(data, B, T, rand) {
  if (data.length < T + 1) throw new Error(`the text has ${data.length} tokens; a training window needs ${T + 1}`);
  const inputs = new Int32Array(B * T), targets = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = Math.floor(rand() * (data.length - T));
    for (let t = 0; t < T; t++) {
      inputs[b * T + t] = data[start + t];
      targets[b * T + t] = data[start + t + 1];
    }
  }
  return { inputs, targets };
}

/** Index drawn from probabilities p (Float32Array summing to ~1). */
export function sampleIndex(p, rand) {
  let r = rand(), last = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] > 0) last = i;
    r -= p[i];
    if (r < 0) return i;
  }
  return last;
}
