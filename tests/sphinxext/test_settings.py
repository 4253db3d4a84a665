"""The extension's settings and its choices that need no build."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from llmbook.sphinxext import quick, settings, widget


def _app(tmp_path, conf=None, **config):
    cfg = SimpleNamespace(llmbook_conf=conf or {}, exclude_patterns=["_build"], suppress_warnings=[], **config)
    return SimpleNamespace(config=cfg, confdir=str(tmp_path / "book"), srcdir=str(tmp_path / "book"))


def test_unknown_settings_are_refused_naming_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown key.*tiny_page.*known: .*tiny_pages"):
        settings.settings(_app(tmp_path, {"tiny_page": []}).config)


def test_folder_settings_are_relative_to_conf_py(tmp_path):
    app = _app(tmp_path, {"generated": "_gen"})
    assert settings.path(app, "generated") == (tmp_path / "book" / "_gen").resolve()
    assert settings.path(app, "static_sources") == (tmp_path / "_static").resolve()


def test_only_the_books_with_part2_pages_need_the_tiny_model(tmp_path):
    app = _app(tmp_path)
    assert widget.needs_tiny_files(app, {"index", "part2/bpe"})
    assert widget.needs_tiny_files(app, {"try/widget"})
    assert not widget.needs_tiny_files(app, {"index", "part1/verify", "chapter"})


def test_llmbook_only_excludes_every_other_chapter_and_the_gallery(tmp_path, monkeypatch):
    book = tmp_path / "book"
    for doc in ("index", "part1/verify", "part1/block", "part2/bpe"):
        (book / doc).parent.mkdir(parents=True, exist_ok=True)
        (book / f"{doc}.md").write_text("# x\n")
    monkeypatch.setenv("LLMBOOK_ONLY", "part1/verify.md")
    app = _app(tmp_path)
    quick.exclude_other_chapters(app, app.config)
    excluded = set(app.config.exclude_patterns)
    assert {"part1/block.md", "part2/bpe.md", "auto_examples"} <= excluded
    assert "part1/verify.md" not in excluded and "index.md" not in excluded
    assert "ref.doc" in app.config.suppress_warnings and not quick.gallery_enabled()
    monkeypatch.delenv("LLMBOOK_ONLY")
    monkeypatch.setenv("LLMBOOK_GALLERY", "0")
    assert not quick.gallery_enabled()
