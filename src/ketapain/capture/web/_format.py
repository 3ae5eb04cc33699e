"""How the pages show numbers and codes: computed floats rounded for reading, stored codes
in words, stored values untouched.

Scores are stored as computed (``20.999999999999996``); a page shows them by the score's
kind in the instrument's declaration (:class:`ketapain.instruments._spec.Score`): a count as
a whole number, a yes/no flag as Oui/Non or Yes/No, any other number with one decimal
(``21``, ``4.3``; a trailing ``.0`` is dropped, so integer scales read as integers). French
pages use a decimal comma. Exports and the API keep the stored values.

>>> number(20.999999999999996, "en"), number(4.25, "fr"), number(None, "en"), number(72.0, "en")
('21', '4,3', '—', '72')
>>> score_text("bpi", "interference_mean", 3.2857142857142856, "en"), score_text("bpi", "least_gt_worst", True, "fr")
('3.3', 'Oui')

Stored codes (a table name, a visit, a status, a role, an adverse event's severity or
causality, a drug class, a pain type, a sex, a screening outcome) are shown by
:func:`code_text` as the words of the page's language (``locales/*.json``, one key family per
kind, :data:`CODE_KEYS`); a code without a key is shown as stored (never a raw key). Visits
are named by the protocol: ``end_period_<n>`` and ``p<n>_d<m>`` read "End of period n",
"Period n, day m"; another visit name without a key of its own is the protocol's name with
spaces. The audit trail shows its rows as stored (``data-verbatim``).

>>> code_text("table", "adverse_events", "fr"), code_text("status", "entered_in_error", "en")
('événements indésirables', 'entered in error')
>>> code_text("visit", "end_period_2", "fr"), code_text("visit", "p1_d35", "en"), code_text("visit", "week_two", "en")
('Fin de la période 2', 'Period 1, day 35', 'Week two')
>>> code_text("drug_class", "paracetamol_nsaids", "fr"), code_text("sex", "F", "fr"), code_text("status", "xyz", "fr")
('paracétamol, AINS', 'femme', 'xyz')
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from ketapain.capture.web.i18n import load_locale, translator
from ketapain.errors import KetapainError
from ketapain.instruments import get_instrument

__all__ = ["CODE_KEYS", "code_text", "formatters", "number", "score_text"]

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


CODE_KEYS: dict[str, str] = {
    "table": "table.", "visit": "visit.name.", "status": "status.", "role": "role.", "severity": "ae.sev.",
    "causality": "ae.caus.", "drug_class": "cm.class.", "pain_type": "pain.", "sex": "sex.", "outcome": "scr.outcome.",
    "query_status": "qry.status.", "change_status": "chg.status.", "user_status": "users.status.",
}
"""Kind of stored code -> prefix of its locale keys (the key is the prefix + the code)."""

_VISIT_PATTERNS = ((re.compile(r"end_period_(\d+)"), "visit.name.end_period"), (re.compile(r"p(\d+)_d(\d+)"), "visit.name.period_day"))


def code_text(kind: str, value: object, lang: str) -> str:
    """The stored code ``value`` of ``kind`` (a key of :data:`CODE_KEYS`) in ``lang``'s words;
    ``—`` when missing; the code as stored when it has no words (see the module docstring)."""
    if value is None or value == "":
        return MISSING
    table, t = load_locale(lang), translator(lang)
    key = CODE_KEYS[kind] + str(value)
    if key in table or key in load_locale("en"):
        return t(key)
    if kind == "visit":
        for pattern, pkey in _VISIT_PATTERNS:
            if m := pattern.fullmatch(str(value)):
                return t(pkey, **dict(zip(("period", "day"), m.groups(), strict=False)))
        return str(value).replace("_", " ").capitalize()
    return str(value)


def formatters(lang: str) -> dict[str, Callable[..., str]]:
    """The template functions ``num(value, digits=1)``, ``score(instrument, name, value)`` and
    ``label_of(kind, value)``."""
    return {"num": lambda value, digits=1: number(value, lang, digits),
            "score": lambda instrument, name, value: score_text(instrument, name, value, lang),
            "label_of": lambda kind, value: code_text(kind, value, lang)}
