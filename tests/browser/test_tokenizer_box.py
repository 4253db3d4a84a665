"""Part II's tokenizer box in Chromium: same ids as Python, and bad input handled."""

from __future__ import annotations


import pytest

from llmbook.tiny import bpe
from tests.browser.harness import open_page

CASES = ["To be, or not to be", "", "今天天气很好", "I love 🍕 and 🎉", "<script>alert('x')</script>",
         "ROMEO:\nBut soft!\n\n", "x" * 100_000]


@pytest.fixture(scope="module")
def merges(site):
    return bpe.load_merges(site / "_static" / "tinylm" / "merges.json")


@pytest.fixture(scope="module")
def box(base_url, chromium):
    page, log = open_page(chromium, f"{base_url}/part2/tokenize.html")
    page.wait_for_selector(".llmbook-tokenizer .tok-stats:not(:empty)")
    yield page, log
    page.close()


def _type(page, text: str) -> dict:
    page.evaluate("""(text) => {
        const area = document.querySelector('.llmbook-tokenizer textarea');
        area.value = text;
        area.dispatchEvent(new Event('input'));
    }""", text)
    page.wait_for_timeout(250)
    return page.evaluate("""() => ({
        ids: [...document.querySelectorAll('.llmbook-tokenizer > .tok-out .tok')].map(s => Number(s.dataset.id)),
        stats: document.querySelector('.llmbook-tokenizer .tok-stats').textContent,
        scripts: document.querySelectorAll('.llmbook-tokenizer script').length,
        text: [...document.querySelectorAll('.llmbook-tokenizer > .tok-out .tok')].map(s => s.textContent).join('')})""")


def test_gpt2_and_llama_rows_match_python(box):
    from llmbook.lm.specs import get_spec
    from llmbook.lm.tokenizers import offline_tokenizer

    page, log = box
    for text in ("To be, or not to be", "今天 🍕 <b>x</b>", ""):
        _type(page, text)
        rows = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('.tok-other')].map(r =>
            [r.dataset.tokenizer, [...r.querySelectorAll('.tok')].map(s => Number(s.dataset.id))]))""")
        for key, name in (("gpt2", "distilgpt2"), ("llama", "tinyllama")):
            assert rows[key] == offline_tokenizer(get_spec(name)).encode(text, add_special_tokens=False)
    assert not log.page_errors


@pytest.mark.parametrize("text", CASES, ids=["hamlet", "empty", "cjk", "emoji", "script", "newlines", "100kB"])
def test_box_gives_python_ids(box, merges, text):
    page, log = box
    got = _type(page, text)
    want = bpe.encode(text, merges)
    assert got["ids"] == want[:2000]
    assert f"{len(want):,} tokens" in got["stats"] or (not text and "Empty" in got["stats"])
    assert got["scripts"] == 0 and not log.page_errors


def test_script_text_is_shown_as_text(box):
    page, _ = box
    got = _type(page, "<b>bold</b><img src=x onerror=alert(1)>")
    assert got["text"].replace("␣", " ") == "<b>bold</b><img src=x onerror=alert(1)>"
    assert page.evaluate("document.querySelectorAll('.llmbook-tokenizer img, .llmbook-tokenizer b').length") == 0


def test_lone_surrogate_becomes_replacement_character(box, merges):
    page, _ = box
    ids = page.evaluate("""() => {
        const area = document.querySelector('.llmbook-tokenizer textarea');
        area.value = 'a\\ud800b';
        area.dispatchEvent(new Event('input'));
        return new Promise(r => setTimeout(() => r(
            [...document.querySelectorAll('.llmbook-tokenizer > .tok-out .tok')].map(s => Number(s.dataset.id))), 250));
    }""")
    assert ids == bpe.encode("a\ud800b", merges) == bpe.encode("a\ufffdb", merges)


def test_box_works_from_disk(site, chromium, merges):
    page, log = open_page(chromium, (site / "part2" / "tokenize.html").as_uri())
    page.wait_for_selector(".llmbook-tokenizer .tok-stats:not(:empty)")
    ids = page.evaluate("[...document.querySelectorAll('.llmbook-tokenizer > .tok-out .tok')].map(s => Number(s.dataset.id))")
    page.close()
    assert ids == bpe.encode("To be, or not to be, that is the question.", merges)
    assert not log.console_errors and not log.page_errors
