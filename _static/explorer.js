// llmbook embedding explorer: every token of a vocabulary on a 2-D PCA map.
// Reads the JSON block the page carries (points as uint16 pairs in base64), draws
// them with plotly's WebGL scatter (SVG when WebGL is unavailable, with a note),
// highlights word groups, and finds tokens typed in the search box.
// A classic script (works from file://). Token text only reaches the page through
// plotly's text rendering and textContent, never innerHTML.
(() => {
  const GROUP_COLORS = ["#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e"];
  const MAX_MATCHES = 50;

  function decode(data) {
    const bin = atob(data.xy);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const q = new Uint16Array(bytes.buffer);                 // little-endian pairs, as written
    const [x0, x1, y0, y1] = data.box;
    const x = new Float32Array(data.n), y = new Float32Array(data.n);
    for (let i = 0; i < data.n; i++) {
      x[i] = x0 + (q[2 * i] / 65535) * (x1 - x0);
      y[i] = y0 + (q[2 * i + 1] / 65535) * (y1 - y0);
    }
    return { x, y };
  }

  function webglWorks() {
    try {
      const c = document.createElement("canvas");
      return !!(c.getContext("webgl") || c.getContext("experimental-webgl"));
    } catch (e) { return false; }
  }

  const shown = (t) => JSON.stringify(t).slice(1, -1);   // quotes off, escapes visible
  // plotly reads a few HTML-like tags in labels: give it entities so every token shows as itself
  const label = (t) => shown(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

  function pick(ids, pts, data) {
    return { x: ids.map((i) => pts.x[i]), y: ids.map((i) => pts.y[i]),
             text: ids.map((i) => `${label(data.tokens[i])} · id ${i}`) };
  }

  function setup(box) {
    const data = JSON.parse(box.querySelector(".ex-data").textContent);
    const pts = decode(data);
    const plot = box.querySelector(".ex-plot");
    const status = box.querySelector(".ex-status");
    const gl = webglWorks();
    const type = gl ? "scattergl" : "scatter";
    const all = { type, mode: "markers", name: `all ${data.n.toLocaleString()} tokens`, x: pts.x, y: pts.y,
                  text: data.tokens.map((t, i) => `${label(t)} · id ${i}`), hoverinfo: "text",
                  marker: { size: 2, color: "rgba(120,120,120,0.35)" } };
    const groups = Object.entries(data.groups).map(([name, ids], k) => ({
      type, mode: "markers+text", name: `${name} (${ids.length})`, ...pick(ids, pts, data), hoverinfo: "text",
      textposition: "top center", textfont: { size: 10, color: GROUP_COLORS[k % GROUP_COLORS.length] },
      marker: { size: 8, color: GROUP_COLORS[k % GROUP_COLORS.length], line: { width: 1, color: "#fff" } } }));
    const narrow = plot.clientWidth < 600;
    groups.forEach((g) => {
      g.text = g.text.map((t) => t.split(" · ")[0]);
      // alternate labels above and below their points, so neighbours in a group overlap less
      g.textposition = g.text.map((_, i) => (i % 2 ? "bottom center" : "top center"));
      if (narrow) g.mode = "markers";            // on a phone, names only on hover
    });
    const found = { type: "scatter", mode: "markers", name: "search", x: [], y: [], text: [], hoverinfo: "text",
                    marker: { size: 16, symbol: "circle-open", color: "#e7298a", line: { width: 3 } } };
    const [v1, v2] = data.variance;                          // percent, already rounded by Python
    const layout = {
      title: { text: `${data.title}: ${data.n.toLocaleString()} token embeddings, PCA`, x: 0, xanchor: "left" },
      xaxis: { title: { text: `PC 1 (${v1}% of variance)` }, zeroline: false },
      yaxis: { title: { text: `PC 2 (${v2}% of variance)` }, zeroline: false },
      hovermode: "closest", dragmode: "pan", height: 560, margin: { l: 60, r: 10, t: 50, b: 50 },
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)",
      legend: narrow ? { orientation: "h", y: -0.2, yanchor: "top", x: 0, xanchor: "left" }
                     : { orientation: "h", y: 1.0, yanchor: "bottom", x: 1, xanchor: "right" } };
    if (narrow) { layout.margin.b = 130; layout.title.font = { size: 13 }; }
    window.Plotly.newPlot(plot, [all, ...groups, found], layout,
                          { displaylogo: false, responsive: true, scrollZoom: true });
    if (!gl) status.textContent = "WebGL is not available: drawing with SVG, which is slower.";

    const input = box.querySelector(".ex-q");
    const foundIndex = 1 + groups.length;
    input.addEventListener("input", () => {
      const q = input.value.trim().toLowerCase();
      let ids = [];
      if (q) {
        const exact = [], partial = [];
        data.tokens.forEach((t, i) => {
          const s = t.trim().toLowerCase();
          if (s === q) exact.push(i); else if (partial.length < MAX_MATCHES && s.includes(q)) partial.push(i);
        });
        ids = exact.concat(partial).slice(0, MAX_MATCHES);
      }
      const p = pick(ids, pts, data);
      window.Plotly.restyle(plot, { x: [p.x], y: [p.y], text: [p.text] }, [foundIndex]);
      status.textContent = !q ? "" : ids.length
        ? `${ids.length}${ids.length === MAX_MATCHES ? "+" : ""} match${ids.length === 1 ? "" : "es"}: ` +
          ids.slice(0, 8).map((i) => `"${shown(data.tokens[i])}" (id ${i})`).join(", ") + (ids.length > 8 ? ", …" : "")
        : `no token contains "${input.value.trim()}"`;
    });
  }

  function init() {
    if (!window.Plotly) return;
    document.querySelectorAll(".llmbook-explorer").forEach((box) => {
      try { setup(box); } catch (err) {
        box.querySelector(".ex-status").textContent = `The explorer could not start: ${err.message}`;
        throw err;
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
