// Starts the widget on the page that hosts it (book/try/widget.md): needs
// widget-data.js (window.LLMBOOK_TINYLM) and widget.js (window.llmbookTinyLM) first.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("tinylm-widget");
  if (!root) return;
  if (!window.LLMBOOK_TINYLM || !window.llmbookTinyLM) {
    root.textContent = "The widget's files did not load (widget-data.js, widget.js); try reloading the page.";
    return;
  }
  window.llmbookWidget = window.llmbookTinyLM.ui.mountWidget(root, window.LLMBOOK_TINYLM);
});
