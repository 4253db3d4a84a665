"""What plotly actually draws on the built pages: labels, colour scales, room.

Faults a reader sees and a figure's Python cannot: a tick label that plotly took for
markup and drew empty (``<s>``), rows merged because two labels were equal, a heatmap
with no colour bar to read it by, bar text running off the figure, buttons on top of
a title. :data:`AUDIT` checks one page's figures in the browser; :func:`figure_audits`
runs it on every page with a figure (reusing the shared visit's record when
:mod:`tests.browser.visits` stores one under ``"figure_audit"``, else visiting those
pages only).
"""

from __future__ import annotations

import pytest

from tests.browser.harness import open_page
from tests.browser.test_site import _pages, _plotly_state

# One page's plotly figures -> {"figures": n, "labels": [...], "duplicates": [...], "scales": [...], "room": [...]}
AUDIT = r"""() => {
    const ENTITIES = {lt: '<', gt: '>', amp: '&', quot: '"', apos: "'", nbsp: '\u00a0'};
    const decode = s => s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (m, e) =>
        e[0] === '#' ? String.fromCodePoint(e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : +e.slice(1))
                     : (ENTITIES[e.toLowerCase()] ?? m));
    // the text a reader should see for a plotly label source: its few markup tags dropped, entities decoded
    const visible = s => decode(String(s).replace(/<br\s*\/?>/gi, '')
                                         .replace(/<\/?(b|i|em|sup|sub|span|a)(\s[^>]*)?>/gi, '')).replace(/\s+/g, '');
    const name = (gd, k) => `figure ${k} "${(gd.layout.title && (gd.layout.title.text ?? gd.layout.title)) || ''}"`;
    const overlap = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1;
    const out = {figures: 0, labels: [], duplicates: [], scales: [], room: []};
    const divs = [...document.querySelectorAll('.llmbook-plotly .plotly-graph-div')].filter(d => d._fullLayout);
    divs.forEach((gd, k) => {
        out.figures++;
        const fig = name(gd, k);
        // 1. every drawn tick label shows its source text
        for (const t of gd.querySelectorAll('.xaxislayer-above text, .yaxislayer-above text')) {
            const d = t.__data__;
            if (!d || d.text === undefined) continue;
            const want = visible(d.text), got = t.textContent.replace(/\s+/g, '');
            if (want !== got) out.labels.push(`${fig}: tick ${JSON.stringify(String(d.text))} drawn as ${JSON.stringify(t.textContent)}`);
        }
        // 2. no two positions share a category label (plotly would merge their rows/bars)
        const frames = (gd._transitionData && gd._transitionData._frames) || [];
        const traces = [...gd.data, ...frames.flatMap(f => f.data || [])];
        for (const tr of traces) {
            const axes = tr.type === 'heatmap' ? ['x', 'y'] : tr.type === 'bar' ? [tr.orientation === 'h' ? 'y' : 'x'] : [];
            for (const a of axes) {
                const v = tr[a];
                if (!v || !v.length || typeof v[0] !== 'string') continue;
                const seen = new Set(), dup = new Set();
                for (const s of v) (seen.has(s) ? dup : seen).add(s);
                if (dup.size) out.duplicates.push(`${fig}: ${tr.type} ${a} repeats ${JSON.stringify([...dup])} (${v.length} labels, ${seen.size} drawn)`);
            }
        }
        // 3. every heatmap has a colour scale: its own, its colour axis's, or an identical one shown by a sibling
        // a heatmap whose colours are categories, not values, says so in its meta ("categorical: what each colour means")
        const heat = gd.data.filter(t => t.type === 'heatmap' && !String(t.meta ?? '').startsWith('categorical: '));
        const key = t => JSON.stringify([t.colorscale ?? null, t.zmin ?? null, t.zmax ?? null]);
        const shown = new Set(heat.filter(t => t.showscale !== false && !t.coloraxis && t.zmin !== undefined).map(key));
        heat.forEach((t, i) => {
            const ok = t.coloraxis ? (gd.layout[t.coloraxis] || {}).showscale !== false
                                   : t.showscale !== false || shown.has(key(t));
            if (!ok) out.scales.push(`${fig}: heatmap ${i} (${t.name || 'unnamed'}) has no colour scale`);
        });
        if (gd._fullData.some(t => t.type === 'heatmap' && t.visible === true && !String(t.meta ?? '').startsWith('categorical: '))
            && !gd.querySelector('.colorbar'))
            out.scales.push(`${fig}: heatmaps drawn without any colour bar`);
        // 4. bar text inside the figure; buttons clear of the title and subplot titles
        const box = gd.querySelector('.main-svg').getBoundingClientRect();
        for (const t of gd.querySelectorAll('.bartext')) {
            const r = t.getBoundingClientRect();
            if (r.width && (r.right > box.right + 1 || r.left < box.left - 1))
                out.room.push(`${fig}: bar text ${JSON.stringify(t.textContent)} runs off the figure`);
        }
        const titles = [...gd.querySelectorAll('.gtitle, .annotation')].map(e => [e, e.getBoundingClientRect()]);
        for (const b of gd.querySelectorAll('.updatemenu-button')) {
            const r = b.getBoundingClientRect();
            for (const [e, tr] of titles)
                if (tr.width && overlap(r, tr))
                    out.room.push(`${fig}: button ${JSON.stringify(b.textContent)} covers ${JSON.stringify(e.textContent)}`);
        }
    });
    return out;
}"""


PHONE = {"width": 390, "height": 844}


def figure_audit(page) -> dict:
    """Run :data:`AUDIT` on an open page once its figures are drawn, at its width and at a phone's.

    The page's viewport is left at the phone's width.
    """
    _plotly_state(page)
    wide = page.evaluate(AUDIT)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(400)                       # plotly's responsive relayout runs on resize
    phone = page.evaluate(AUDIT)
    merged = {"figures": wide["figures"]}
    for field in ("labels", "duplicates", "scales", "room"):
        merged[field] = list(dict.fromkeys(wide[field] + [f"at {PHONE['width']} px: {p}" for p in phone[field]
                                                          if p not in wide[field]]))
    return merged


def _has_figure(site, rel: str) -> bool:
    return "llmbook-plotly" in (site / rel).read_text(errors="replace")


@pytest.fixture(scope="module")
def figure_audits(visits, site, base_url, chromium) -> dict:
    """{page: audit} for every built page with a plotly figure (``visits`` named here, not looked
    up, so tests/conftest.py sees this module uses the shared visit and orders it so)."""
    from tests.browser import visits as shared_visit

    # the shared visit records audits once visits.py sets AUDITS_FIGURES; until then, visit figure pages here
    shared = visits if getattr(shared_visit, "AUDITS_FIGURES", False) else {}
    out = {}
    for rel in _pages(site):
        if not _has_figure(site, rel):
            continue
        if "figure_audit" in shared.get(rel, {}):
            out[rel] = shared[rel]["figure_audit"]
            continue
        page, _ = open_page(chromium, f"{base_url}/{rel}")
        out[rel] = figure_audit(page)
        page.close()
    assert out, "no page of the built site has a plotly figure"
    return out


def _problems(audits: dict, field: str) -> dict:
    return {rel: a[field] for rel, a in audits.items() if a[field]}


def test_every_page_with_figures_was_audited(figure_audits):
    assert all(a["figures"] for a in figure_audits.values()), {r: a["figures"] for r, a in figure_audits.items()}


def test_tick_labels_draw_their_text(figure_audits):
    """`<s>` must draw as `<s>`, not as nothing: token text is escaped for plotly."""
    assert not _problems(figure_audits, "labels"), _problems(figure_audits, "labels")


def test_no_two_positions_share_a_label(figure_audits):
    """Equal category labels merge rows: "15 rows" would draw 12."""
    assert not _problems(figure_audits, "duplicates"), _problems(figure_audits, "duplicates")


def test_every_heatmap_has_a_colour_scale(figure_audits):
    """Every heatmap of values can be read by a colour bar; one whose colours are categories
    (a mask, a highlight) must say what they mean in its ``meta`` (``"categorical: ..."``)."""
    assert not _problems(figure_audits, "scales"), _problems(figure_audits, "scales")


def test_text_and_buttons_have_room(figure_audits):
    assert not _problems(figure_audits, "room"), _problems(figure_audits, "room")
