"""How the pages show numbers: computed floats rounded for reading, stored values untouched.

Scores are stored as computed (``20.999999999999996``); a page shows them by the score's
kind in the instrument's declaration (:class:`ketapain.instruments._spec.Score`): a count as
a whole number, a yes/no flag as Oui/Non or Yes/No, any other number with one decimal
(``21``, ``4.3``; a trailing ``.0`` is dropped, so integer scales read as integers). French
pages use a decimal comma. Exports and the API keep the stored values.

>>> number(20.999999999999996, "en"), number(4.25, "fr"), number(None, "en"), number(72.0, "en")
('21', '4,3', '—', '72')
>>> score_text("bpi", "interference_mean", 3.2857142857142856, "en"), score_text("bpi", "least_gt_worst", True, "fr")
('3.3', 'Oui')
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from ketapain.capture.web.i18n import translator
from ketapain.errors import KetapainError
from ketapain.instruments import get_instrument

__all__ = ["formatters", "number", "score_text"]

MISSING = "—"


def number(value: object, lang: str, digits: int = 1) -> str:
    """``value`` rounded half up to ``digits`` decimals, trailing zeros dropped, in ``lang``'s
    decimal mark; ``—`` when missing; anything not a number as text."""
    if value is None:
        return MISSING
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if value != value:  # NaN
        return MISSING
    q = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    text = f"{q:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace(".", ",") if lang == "fr" else text


@cache
def _score_kind(instrument: str, name: str) -> str:
    try:
        inst = get_instrument(instrument)
    except KetapainError:
        return "number"
    return next((s.kind for s in (*inst.scores, *inst.reports) if s.name == name), "number")


def score_text(instrument: str, name: str, value: object, lang: str) -> str:
    """One stored score of ``instrument`` as a page shows it (see the module docstring)."""
    kind = _score_kind(instrument, name)
    if value is None:
        return MISSING
    if kind == "bool" or isinstance(value, bool):
        t = translator(lang)
        return t("common.yes") if value else t("common.no")
    return number(value, lang, 0 if kind == "count" else 1)


def formatters(lang: str) -> dict[str, Callable[..., str]]:
    """The template functions ``num(value, digits=1)`` and ``score(instrument, name, value)``."""
    return {"num": lambda value, digits=1: number(value, lang, digits),
            "score": lambda instrument, name, value: score_text(instrument, name, value, lang)}
