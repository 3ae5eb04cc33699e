"""Languages of the web pages: every UI string lives in ``locales/<lang>.json``.

The language of a request is, in order: ``?lang=`` (then remembered in the cookie
:data:`LANG_COOKIE`), that cookie, the best ``Accept-Language`` match, English.

>>> negotiate(query=None, cookie=None, accept="fr-CH, fr;q=0.9, en;q=0.8")
'fr'
>>> negotiate(query="en", cookie="fr", accept="fr")
'en'
>>> negotiate(query="xx", cookie=None, accept="de, en;q=0.5")
'en'
>>> translator("fr")("diary.save")
'Enregistrer'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

__all__ = ["DEFAULT_LANG", "LANGS", "LANG_COOKIE", "load_locale", "negotiate", "translator"]

LANGS = ("en", "fr")
"""Languages with a complete locale file (``locales/en.json``, ``locales/fr.json``)."""

DEFAULT_LANG = "en"
LANG_COOKIE = "ketapain_lang"
_DIR = Path(__file__).parent / "locales"


@cache
def load_locale(lang: str) -> dict[str, str]:
    """The key -> text table of ``lang`` (one of :data:`LANGS`)."""
    if lang not in LANGS:
        raise KeyError(f"lang={lang!r}: allowed {', '.join(LANGS)}")
    return json.loads((_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def _accept(header: str) -> list[str]:
    """Language tags of an ``Accept-Language`` header, best first (q-values honoured)."""
    out: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag:
            out.append((-q, i, tag.strip().lower()))
    return [tag for _, _, tag in sorted(out)]


def negotiate(*, query: str | None, cookie: str | None, accept: str | None) -> str:
    """The language to use: ``query`` or ``cookie`` when valid, else ``Accept-Language``."""
    for choice in (query, cookie):
        if choice and choice.lower() in LANGS:
            return choice.lower()
    for tag in _accept(accept or ""):
        base = tag.split("-")[0]
        if base in LANGS:
            return base
    return DEFAULT_LANG


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)``: the text of ``key`` in ``lang`` with ``{name}`` fields filled in
    (English when the key is missing in ``lang``; the key itself when missing everywhere)."""
    table, fallback = load_locale(lang), load_locale(DEFAULT_LANG)

    def t(key: str, **values: object) -> str:
        text = table.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t
