"""axe-core on every page of the built book, light and dark: no serious or critical
violations (measured during the one visit of each page, :mod:`tests.browser.visits`). The light theme
gets every rule; the dark one the rules a theme can change (:data:`COLOUR_RULES`: the themes differ
in colours only, the markup is the same). axe-core comes from the npm registry (``make test`` installs it under
``.venv/axe``; ``LLMBOOK_AXE`` may point at another ``axe.min.js``) and is loaded
into the page under test from that local file, never from a CDN."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("LLMBOOK_AXE", ROOT / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"))
BAD = ("serious", "critical")
# the theme fades colours on a switch; with transitions off the final colours apply at once
NO_TRANSITIONS = "*, *::before, *::after { transition: none !important; animation: none !important; }"
COLOUR_RULES = ["color-contrast", "link-in-text-block"]      # axe's rules that read colours (AA; AAA's are off by default)


def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"axe-core not found at {AXE}: run `make axe` (npm install axe-core) or set LLMBOOK_AXE")
    return AXE.read_text()


def violations(page, rules: list[str] | None = None) -> list[str]:
    """Serious and critical violations of every rule, or of `rules` only."""
    found = page.evaluate("""async (rules) => {
        const r = await axe.run(document, {resultTypes: ['violations'], ...(rules ? {runOnly: {type: 'rule', values: rules}} : {})});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""", rules)
    return [f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in found if v["impact"] in BAD]


def test_no_serious_accessibility_violations_light_or_dark(visits):
    problems = {f"{rel} ({theme})": bad for rel, v in visits.items() for theme, bad in v["a11y"].items() if bad}
    assert len(visits) >= 35 and all(set(v["a11y"]) == {"light", "dark"} for v in visits.values())
    assert not problems, problems
