"""Questionnaire scoring: one module per instrument, each declaring its items, options and
scores (``_spec.Instrument``); ``score`` and ``score_frame`` run any of them.

No licensed item wording is stored: items carry neutral labels (docs/instruments.md).
"""

from __future__ import annotations

from ketapain.instruments._fhir import (
    CANONICAL_BASE,
    read_wording,
    responses_from_fhir,
    to_fhir_questionnaire,
    to_fhir_questionnaire_response,
)
from ketapain.instruments._registry import (
    INCOMPLETE,
    get_instrument,
    instruments,
    score,
    score_frame,
)
from ketapain.instruments._spec import Instrument, Item, Option, Score

__all__ = [
    "CANONICAL_BASE",
    "INCOMPLETE",
    "Instrument",
    "Item",
    "Option",
    "Score",
    "get_instrument",
    "instruments",
    "read_wording",
    "responses_from_fhir",
    "score",
    "score_frame",
    "to_fhir_questionnaire",
    "to_fhir_questionnaire_response",
]
