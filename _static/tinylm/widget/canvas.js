// The widget's canvases: weight heatmaps on a fixed diverging scale, and the loss curves.
// Not handled: high-DPI scaling (canvases are drawn at their CSS pixel size).

import { fmt } from "../common/dom.js";

export const SCALE = 0.5;          // heatmap colours: −0.5 (blue) … 0 (white) … +0.5 (red), fixed

// --- canvases ------------------------------------------------------------------------------
function diverging(v) {
  const t = Math.max(-1, Math.min(1, v / SCALE));
  const [r, g, b] = t < 0 ? [33, 102, 172] : [178, 24, 43];
  const k = Math.abs(t);
  return [255 + (r - 255) * k, 255 + (g - 255) * k, 255 + (b - 255) * k];
}

export function drawHeatmap(canvas, values, R, C, transposed) {
  const ctx = canvas.getContext("2d"), img = ctx.createImageData(canvas.width, canvas.height);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const [x, y] = transposed ? [r, c] : [c, r], o = (y * canvas.width + x) * 4, rgb = diverging(values[r * C + c]);
      img.data[o] = rgb[0]; img.data[o + 1] = rgb[1]; img.data[o + 2] = rgb[2]; img.data[o + 3] = 255;
    }
  }
  ctx.putImageData(img, 0, 0);
}

export function drawLoss(canvas, h, uniform) {
  const ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 36;
  const color = getComputedStyle(canvas).color || "#333";
  ctx.clearRect(0, 0, W, H);
  const maxStep = Math.max(10, h.steps.at(-1) || 0, h.evalSteps.at(-1) || 0);
  const all = [...h.loss, ...h.evalLoss].filter(Number.isFinite);
  const lo = Math.min(0, ...all), hi = Math.max(uniform + 0.3, ...all.slice(-200));
  const x = (s) => pad + ((W - pad - 8) * s) / maxStep, y = (v) => H - pad + ((pad - H + 8) * (v - lo)) / (hi - lo);
  ctx.strokeStyle = color; ctx.fillStyle = color; ctx.font = "12px sans-serif"; ctx.lineWidth = 1;
  ctx.beginPath(); ctx.moveTo(pad, 8); ctx.lineTo(pad, H - pad); ctx.lineTo(W - 8, H - pad); ctx.stroke();
  for (const v of [lo, (lo + hi) / 2, hi]) ctx.fillText(v.toFixed(1), 2, y(v) + 4);
  ctx.fillText(`step ${maxStep}`, W - 70, H - pad + 16);
  ctx.setLineDash([4, 4]); ctx.beginPath(); ctx.moveTo(pad, y(uniform)); ctx.lineTo(W - 8, y(uniform)); ctx.stroke(); ctx.setLineDash([]);
  ctx.fillText("uniform guess ln V", pad + 4, y(uniform) - 4);
  line(ctx, h.steps, h.loss, x, y, "#1b9e77");
  line(ctx, h.evalSteps, h.evalLoss, x, y, "#d95f02", true);
  ctx.fillStyle = "#1b9e77"; ctx.fillText("— train (each step)", pad + 80, H - 6);
  ctx.fillStyle = "#d95f02"; ctx.fillText("● held-out (8 fixed windows)", pad + 230, H - 6);
  const last = h.evalLoss.length ? `, held-out ${fmt(h.evalLoss.at(-1))} at step ${h.evalSteps.at(-1)}` : "";
  canvas.setAttribute("aria-label", h.loss.length ? `Loss curve: train loss ${fmt(h.loss.at(-1))} at step ${h.steps.at(-1)}${last}` : "Loss curve: no training yet");
}

function line(ctx, xs, ys, x, y, colour, dots = false) {
  ctx.strokeStyle = colour; ctx.fillStyle = colour; ctx.lineWidth = 1.5;
  ctx.beginPath();
  xs.forEach((s, i) => { if (Number.isFinite(ys[i])) { if (i) ctx.lineTo(x(s), y(ys[i])); else ctx.moveTo(x(s), y(ys[i])); } });
  ctx.stroke();
  if (dots) xs.forEach((s, i) => { ctx.beginPath(); ctx.arc(x(s), y(ys[i]), 3, 0, 7); ctx.fill(); });
}

