// Accessibility fixes for markup the theme writes (axe-core found them; tests keep them fixed):
// - the search buttons' aria-label "Search" hid their visible text "Search Ctrl+K"
//   (WCAG 2.5.3 label in name): the visible text becomes the accessible name;
// - the sidebar's <summary> toggles held only an icon: they get a name saying what they open.
(() => {
  function fix() {
    document.querySelectorAll(".search-button-field[aria-label]").forEach((b) => b.removeAttribute("aria-label"));
    document.querySelectorAll("nav details > summary").forEach((s) => {
      if (s.textContent.trim() || s.hasAttribute("aria-label")) return;
      const link = s.parentElement.parentElement.querySelector(":scope > a");
      s.setAttribute("aria-label", `Show or hide the pages under ${link ? link.textContent.trim() : "this section"}`);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fix);
  else fix();
})();
