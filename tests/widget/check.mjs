// One parity case, run by Node (CPU engine) and by Chromium (WebGPU engine): the
// widget's logits, loss, gradients and AdamW trajectory for a case that Python
// computed with llmbook.tiny and torch.optim.AdamW (tests/widget/test_engine.py).

export async function runCase(createModel, c, backend) {
  const m = await createModel(c.weights, { backend });
  const out = { backend: m.backend, fallbackReason: m.fallbackReason };
  out.logits = Array.from(await m.forward(c.ids));
  const g = await m.gradients(c.batches[0].inputs, c.batches[0].targets, { seqLen: c.seqLen });
  out.loss = g.loss;
  out.grads = Object.fromEntries(Object.entries(g.grads).map(([k, v]) => [k, Array.from(v)]));
  out.losses = [];
  for (const b of c.batches) out.losses.push(await m.trainStep(b.inputs, b.targets, { lr: c.lr, seqLen: c.seqLen }));
  out.final = Object.fromEntries(Object.entries(m.tensors()).map(([k, v]) => [k, Array.from(v)]));
  out.json = m.toJSON();
  m.destroy();
  return out;
}
