"""The book's Markdown sources: included code that exists, a glossary its chapters use, questions.

These read the chapters as text (no build): a renamed function or a dropped glossary term fails
here in a second instead of deep inside a five-minute build.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[2] / "book"
CHAPTERS = sorted(p for p in BOOK.glob("part*/*.md")) + sorted(BOOK.glob("try/*.md"))
INCLUDE = re.compile(r"^```\{literalinclude\}\s+(\S+)\s*\n((?::[\w-]+:.*\n)*)", re.M)
TERM_REF = re.compile(r"\{term\}`([^`]+)`")


def _includes():
    """(chapter, included file, pyobject or None) for every literalinclude in the book."""
    for chapter in CHAPTERS:
        for m in INCLUDE.finditer(chapter.read_text(encoding="utf-8")):
            options = dict(re.findall(r"^:([\w-]+):\s*(.*)$", m.group(2), re.M))
            yield chapter, (chapter.parent / m.group(1)).resolve(), options.get("pyobject")


def _find(tree: ast.Module, dotted: str) -> ast.AST | None:
    """The class or function ``A.b`` in a module's syntax tree, as :pyobject: finds it."""
    scope: list[ast.stmt] = tree.body
    node = None
    for name in dotted.split("."):
        node = next((n for n in scope if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == name), None)
        if node is None:
            return None
        scope = node.body
    return node


def test_every_included_object_exists_in_the_package():
    includes = list(_includes())
    assert includes, "no chapter includes the package's code"
    for chapter, path, obj in includes:
        assert path.is_file(), f"{chapter.name} includes {path}, which does not exist"
        if obj:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assert _find(tree, obj) is not None, f"{chapter.name} includes {obj}, no longer in {path.name}"


def test_part2_shows_the_forward_pass_and_a_training_step():
    shown = {obj for _, _, obj in _includes() if obj}
    for needed in ("TinyTransformer.hidden", "Attention.forward", "FeedForward.forward", "Block.forward",
                   "train_step"):
        assert needed in shown, f"Part II no longer shows {needed}"


def test_finder_sees_a_missing_object(tmp_path):
    tree = ast.parse("class A:\n    def b(self):\n        pass\n")
    assert _find(tree, "A.b") is not None
    assert _find(tree, "A.c") is None and _find(tree, "B") is None


def _glossary() -> dict[str, str]:
    """Every term of book/glossary.md (lowercased) -> the first term of its entry."""
    text = (BOOK / "glossary.md").read_text(encoding="utf-8")
    body = text.split("```{glossary}", 1)[1].split("\n```", 1)[0]
    terms, group = {}, []
    for line in body.splitlines():
        if line and not line.startswith((" ", ":")):
            group.append(line.strip())
        elif line.startswith("  ") and group:
            for t in group:
                terms[t.lower()] = group[0]
            group = []
    return terms


def _linked_terms() -> set[str]:
    found = set()
    for chapter in CHAPTERS:
        for ref in TERM_REF.findall(chapter.read_text(encoding="utf-8")):
            m = re.match(r"(.*)<(.+)>\s*$", ref)
            found.add((m.group(2) if m else ref).strip().lower())
    return found


def test_the_glossary_has_forty_entries_each_linked_from_a_chapter():
    terms = _glossary()
    entries = set(terms.values())
    assert len(entries) >= 40, f"the glossary has {len(entries)} entries"
    linked = {terms[t] for t in _linked_terms() if t in terms}
    unlinked = sorted(entries - linked)
    assert not unlinked, f"glossary entries no chapter links to: {unlinked}"


def test_every_term_link_names_a_glossary_term():
    terms = _glossary()
    unknown = sorted(t for t in _linked_terms() if t not in terms)
    assert not unknown, f"{{term}} links to words the glossary lacks: {unknown}"


@pytest.mark.parametrize("chapter", [p for p in CHAPTERS if p.parent.name in ("part1", "part2")],
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_each_chapter_ends_with_questions_whose_answers_fold_away(chapter):
    text = chapter.read_text(encoding="utf-8")
    assert "## Check yourself" in text, f"{chapter.name} has no Check yourself section"
    questions = re.findall(r"^:{3,}\{dropdown\}", text.split("## Check yourself", 1)[1], re.M)
    assert 2 <= len(questions) <= 4, f"{chapter.name} has {len(questions)} questions"
