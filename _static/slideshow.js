// llmbook slideshows: turn each .llmbook-slideshow (all slides visible without JS)
// into one slide at a time with Prev / Play / Next, a clickable step indicator,
// arrow keys, Home/End. Honours prefers-reduced-motion: no fades, and plotly
// animations inside slides jump to their frames instead of tweening.
// A classic script (works from file://). Never writes user text as HTML.
(() => {
  const PLAY_MS = 4000;
  const reduced = () => window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function resizePlots(slide) {
    if (!window.Plotly) return;
    slide.querySelectorAll(".plotly-graph-div").forEach((gd) => {
      if (gd._fullLayout) window.Plotly.Plots.resize(gd);
    });
  }

  // plotly's Play buttons carry {frame, transition} options: zero the tweening
  function calmAnimations(root) {
    if (!window.Plotly) return;
    root.querySelectorAll(".plotly-graph-div").forEach((gd) => {
      const menus = gd.layout && gd.layout.updatemenus;
      if (!menus) return;
      const calm = menus.map((m) => ({ ...m, buttons: (m.buttons || []).map((b) => {
        const args = (b.args || []).slice();
        if (args[1] && typeof args[1] === "object") args[1] = { ...args[1], transition: { duration: 0 } };
        return { ...b, args };
      }) }));
      window.Plotly.relayout(gd, { updatemenus: calm });
    });
  }

  function setup(show) {
    const slides = [...show.querySelectorAll(".ss-slide")];
    const tabs = [...show.querySelectorAll(".ss-tab")];
    const controls = show.querySelector(".ss-controls");
    const status = show.querySelector(".ss-status");
    const play = show.querySelector(".ss-play");
    let current = 0, timer = null;

    function go(i, focusTab) {
      if (show.dataset.step !== undefined) show.classList.add("ss-moved");   // fade only after a move
      current = Math.max(0, Math.min(slides.length - 1, i));
      slides.forEach((s, k) => { s.hidden = k !== current; });
      tabs.forEach((t, k) => {
        t.setAttribute("aria-current", k === current ? "step" : "false");
        t.classList.toggle("done", k < current);
      });
      status.textContent = `Step ${current + 1} of ${slides.length}: ${slides[current].dataset.label || tabs[current].textContent.trim()}`;
      show.querySelector(".ss-prev").disabled = current === 0;
      show.querySelector(".ss-next").disabled = current === slides.length - 1;
      show.dataset.step = String(current);
      resizePlots(slides[current]);
      if (focusTab) tabs[current].focus();
    }

    function stop() {
      clearInterval(timer); timer = null;
      play.textContent = "\u25b6 Play";
    }

    function start() {
      if (current === slides.length - 1) go(0);
      play.textContent = "\u275a\u275a Pause";
      timer = setInterval(() => { current === slides.length - 1 ? stop() : go(current + 1); }, PLAY_MS);
    }

    show.querySelector(".ss-prev").addEventListener("click", () => { stop(); go(current - 1); });
    show.querySelector(".ss-next").addEventListener("click", () => { stop(); go(current + 1); });
    play.addEventListener("click", () => (timer ? stop() : start()));
    tabs.forEach((t, k) => t.addEventListener("click", () => { stop(); go(k); }));
    show.addEventListener("keydown", (e) => {
      if (e.target.closest(".plotly-graph-div") || e.altKey || e.ctrlKey || e.metaKey) return;
      const to = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: slides.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault(); e.stopPropagation(); stop(); go(to, e.target.classList.contains("ss-tab"));
    });
    controls.hidden = false;
    show.classList.add("ss-ready");
    if (reduced()) { show.classList.add("ss-reduced"); calmAnimations(show); }
    go(0);
  }

  function init() { document.querySelectorAll(".llmbook-slideshow:not(.ss-ready)").forEach(setup); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
