"""Names and lookups shared by the paper's layout: how arms, diary items, endpoints, scores,
models and df methods are called in the report, and where the layout finds a fit's numbers.

Score and instrument names come from the instruments' own labels
(:meth:`ketapain.instruments.Instrument.score_label`), said once when the parts repeat
(:func:`~ketapain.report.without_repeats`); the rest from the results' study and settings.
Words that refer to the reference study's publication ("paper's model", "the published
specification") are used only when the results are the reference study's
(:func:`is_reference_study`); another protocol's models are named by what they hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ketapain.analysis import AnalysisResults, AnalysisSettings
from ketapain.errors import InstrumentError
from ketapain.instruments import get_instrument

from ._document import DisplayTable
from ._format import without_repeats

__all__ = [
    "IMPUTE_LABELS",
    "REFERENCE_STUDY_ID",
    "arm_codes",
    "arm_labels",
    "df_label",
    "df_method_label",
    "display_table",
    "endpoint_label",
    "endpoint_order",
    "fit_value",
    "instrument_label",
    "is_reference_study",
    "item_label",
    "model_name",
    "primary_rows",
    "records",
    "scale_label",
    "score_label",
    "sentence",
    "used_fits",
]

_ITEM_LABELS = {"avg_pain": "average pain", "max_pain": "maximal pain", "night_pain": "night pain",
                "pre_infusion_pain": "pre-infusion pain"}
IMPUTE_LABELS = {"none": "no imputation", "locf": "LOCF", "linear": "linear interpolation"}
_DF_LABELS = {"kenward-roger": "Kenward-Roger", "satterthwaite": "Satterthwaite", "residual": "residual",
              "containment": "containment", "between-within": "between-within"}


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts."""
    return frame.to_dict("records")  # type: ignore[return-value]


def sentence(text: str) -> str:
    """``text`` with a capital first letter."""
    return text[:1].upper() + text[1:]


def item_label(value: str) -> str:
    """A diary item in words (``avg_pain`` -> ``average pain``)."""
    return _ITEM_LABELS.get(value, value.replace("_", " "))


def endpoint_label(settings: AnalysisSettings, endpoint: str, *, impute: bool = True) -> str:
    """``AUC of average pain at day 35 (LOCF)`` (without the imputation when ``impute`` is False);
    the name itself for an outcome that is not an endpoint."""
    info = settings.endpoint(endpoint)
    if info is None:
        return endpoint
    text = f"AUC of {item_label(info.value)} at day {info.window_day}"
    return f"{text} ({IMPUTE_LABELS.get(info.impute, info.impute)})" if impute else text


def instrument_label(name: str) -> str:
    """An instrument's short label, from its declaration (``sf36`` -> ``SF-36``); the name in
    capitals for an instrument that is not registered."""
    try:
        return without_repeats(get_instrument(name).label)
    except InstrumentError:
        return name.upper()


def score_label(outcome: str) -> str:
    """A questionnaire score ``instrument.score`` in words, from the instrument's declaration
    (``bpi.severity_mean`` -> ``BPI pain severity``; :meth:`~ketapain.instruments.Instrument.score_label`)."""
    instrument, _, score = outcome.partition(".")
    try:
        return without_repeats(get_instrument(instrument).score_label(score))
    except InstrumentError:
        return without_repeats(f"{instrument.upper()} {score.replace('_', ' ')}")


REFERENCE_STUDY_ID = "ketapain"
"""The protocol id of the reference study, whose publication the ``paper`` model follows."""

_MODEL_NAMES = {"standard": "standard model"}
_REFERENCE_MODEL_NAMES = {"paper": "paper's model"}
_OTHER_MODEL_NAMES = {"paper": "model without period"}


def scale_label(study: Mapping[str, Any]) -> str:
    """The diary scale in words: ``NRS 0-10`` (a study without ``diary_scale``: the analysis
    records it only when it is not the NRS 0..10), else e.g. ``0-100 scale``.

    >>> scale_label({}), scale_label({"diary_scale": [0.0, 100.0]})
    ('NRS 0-10', '0-100 scale')
    """
    lo, hi = (float(x) for x in study.get("diary_scale", (0.0, 10.0)))
    return "NRS 0-10" if (lo, hi) == (0.0, 10.0) else f"{lo:g}-{hi:g} scale"


def is_reference_study(study: Mapping[str, Any]) -> bool:
    """True when ``study`` (``results.study``) is the reference study's protocol."""
    return str(study.get("protocol_id", "")).casefold() == REFERENCE_STUDY_ID


def model_name(model: str, study: Mapping[str, Any]) -> str:
    """``paper's model`` (the reference study) or ``model without period`` (another protocol),
    ``standard model``; ``<name> model`` for another model."""
    names = {**_MODEL_NAMES, **(_REFERENCE_MODEL_NAMES if is_reference_study(study) else _OTHER_MODEL_NAMES)}
    return names.get(model, f"{model} model")


def df_label(settings: AnalysisSettings) -> str:
    """The df method in words (``Kenward-Roger``)."""
    return df_method_label(settings.df_method)


def df_method_label(method: str) -> str:
    """A df method in words (``satterthwaite`` -> ``Satterthwaite``)."""
    return _DF_LABELS.get(method, method)


def arm_codes(results: AnalysisResults) -> list[str]:
    """Arm codes in protocol order."""
    return [a["code"] for a in results.study["arms"]]


def arm_labels(results: AnalysisResults) -> dict[str, str]:
    """``{code: "K (ketamine)"}`` in protocol order."""
    return {a["code"]: f"{a['code']} ({a['name']})" for a in results.study["arms"]}


def used_fits(models: pd.DataFrame, section: str) -> pd.DataFrame:
    """The used fit per outcome x model of ``section``, indexed by (outcome, model)."""
    m = models[(models["section"] == section) & models["used"].astype(bool)]
    return m.set_index(["outcome", "model"])


def fit_value(frame: pd.DataFrame, key: tuple[str, str], column: str) -> Any:
    """``frame.loc[key, column]`` of :func:`used_fits`, None when there is no such fit."""
    return frame[column].get(key, None) if key in frame.index else None


def primary_rows(frame: pd.DataFrame, results: AnalysisResults, section: str = "table2") -> pd.DataFrame:
    """Rows of the protocol's model, used scale, of ``section`` (contrasts or effect sizes)."""
    return frame[(frame["section"] == section) & (frame["model"] == results.settings.model)
                 & frame["used"].astype(bool)]


def endpoint_order(results: AnalysisResults) -> list[str]:
    """Table 2's endpoints: grouped by diary item (first appearance), by window within an item."""
    s = results.settings
    endpoints = [str(e) for e in pd.unique(results.table2["endpoint"])]

    def value(e: str) -> str:
        info = s.endpoint(e)
        return info.value if info is not None else e

    items = list(dict.fromkeys(value(e) for e in endpoints))
    return sorted(endpoints, key=lambda e: (items.index(value(e)), getattr(s.endpoint(e), "window_day", 0)))


def display_table(key: str, title: str, header: Sequence[str], rows: Sequence[Sequence[str]], data: pd.DataFrame,
                  notes: Sequence[str] = (), groups: Sequence[int] = (), *, numbered: bool = False) -> DisplayTable:
    """A :class:`DisplayTable` from lists (the frame's index reset); row labels (first cells)
    and headings said without repeated words (:func:`~ketapain.report.without_repeats`);
    ``numbered`` tables get their number when the report is rendered."""
    return DisplayTable(key=key, title=title, header=tuple(without_repeats(h) for h in header),
                        rows=tuple((without_repeats(r[0]), *r[1:]) if len(r) else tuple(r) for r in rows),
                        data=data.reset_index(drop=True), notes=tuple(notes), group_rows=frozenset(groups),
                        numbered=numbered)
