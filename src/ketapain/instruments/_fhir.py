"""HL7 FHIR R4 export and import: ``Questionnaire`` from an instrument, responses both ways.

The export is built from the instrument's declaration alone, so every registered instrument
has one. How an :class:`~ketapain.instruments.Item` becomes a FHIR ``Questionnaire.item``:

============================================  =================================================
item declaration                              FHIR item
============================================  =================================================
``kind="clock"``                              ``type: "time"`` (answers ``valueTime`` "HH:MM:00")
explicit ``values`` (all whole numbers)       ``type: "choice"``, ``answerOption[].valueInteger``
explicit ``values`` (some fractional)         ``type: "choice"``, ``answerOption[].valueCoding``
                                              (``code`` = the number as written; R4 has no
                                              ``answerOption.valueDecimal``)
a range with a ``step`` (<= 101 values)       ``type: "choice"`` listing every allowed value, as
                                              above (FHIR has no step constraint)
``kind="integer"`` range                      ``type: "integer"`` + ``minValue``/``maxValue``
                                              extensions (``valueInteger``)
``kind="number"`` range                       ``type: "decimal"`` + ``minValue``/``maxValue``
                                              extensions (``valueDecimal``)
============================================  =================================================

``linkId`` is the item key, ``text`` the neutral label (or the site's licensed wording when
given, see docs/instruments.md), ``required`` the item's flag; ``copyright`` holds the
instrument's licence statement. Canonical URLs use the placeholder base :data:`CANONICAL_BASE`
(``https://ketapain.org/fhir``); a site publishing the resources replaces it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ketapain.errors import InstrumentError
from ketapain.instruments._registry import get_instrument, instruments
from ketapain.instruments._spec import Instrument, Item, plain_number

__all__ = [
    "CANONICAL_BASE",
    "read_wording",
    "responses_from_fhir",
    "to_fhir_questionnaire",
    "to_fhir_questionnaire_response",
]

CANONICAL_BASE = "https://ketapain.org/fhir"
"""Placeholder canonical base of the exported resources (``<base>/Questionnaire/<id>``)."""

MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
DECIMAL_CODES = f"{CANONICAL_BASE}/CodeSystem/decimal-value"
"""Code system of ``valueCoding`` answers to fractional choices: the code is the number."""
MAX_CHOICES = 101
"""A stepped range with more allowed values than this stays integer/decimal (no step check)."""

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(\.\d+)?)?$")
_FHIR_ID = re.compile(r"[^A-Za-z0-9\-.]")


def _fhir_id(inst: Instrument) -> str:
    return _FHIR_ID.sub("-", inst.name)[:64]


def _canonical(inst: Instrument) -> str:
    return f"{CANONICAL_BASE}/Questionnaire/{_fhir_id(inst)}"


def _computable_name(inst: Instrument) -> str:
    """FHIR ``name`` (constraint que-0: ``[A-Z]([A-Za-z0-9_]){0,254}``)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", inst.name.upper())
    return name if name[:1].isalpha() else f"Q_{name}"


def _choices(item: Item) -> tuple[float, ...] | None:
    """The allowed values when the item is exported as a choice, else None."""
    if item.kind == "clock":
        return None
    if item.values is not None:
        return tuple(float(v) for v in item.values)
    if item.step is not None and item.minimum is not None and item.maximum is not None:
        n = math.floor((item.maximum - item.minimum) / item.step + 1e-9) + 1
        if n <= MAX_CHOICES:
            return tuple(round(item.minimum + k * item.step, 12) for k in range(n))
    return None


def _fhir_type(item: Item) -> str:
    if item.kind == "clock":
        return "time"
    if _choices(item) is not None:
        return "choice"
    return "integer" if item.kind == "integer" else "decimal"


def _code(v: float) -> str:
    return str(plain_number(round(v, 12)))


def _option_value(item: Item, v: float) -> dict[str, Any]:
    choices = _choices(item) or ()
    if all(float(c).is_integer() for c in choices):
        return {"valueInteger": int(v)}
    return {"valueCoding": {"system": DECIMAL_CODES, "code": _code(v), "display": _code(v)}}


def _questionnaire_item(item: Item, text: str) -> dict[str, Any]:
    kind = _fhir_type(item)
    out: dict[str, Any] = {"linkId": item.key, "text": text, "type": kind, "required": item.required}
    if kind == "choice":
        out["answerOption"] = [_option_value(item, v) for v in _choices(item) or ()]
    elif kind in ("integer", "decimal"):
        value_key = "valueInteger" if kind == "integer" else "valueDecimal"
        ext = []
        for url, bound in ((MIN_VALUE, item.minimum), (MAX_VALUE, item.maximum)):
            if bound is not None:
                ext.append({"url": url, value_key: int(bound) if kind == "integer" else float(bound)})
        if ext:
            out["extension"] = ext
    return out


def read_wording(document: Mapping[str, Any], instrument: str | Instrument) -> tuple[dict[str, str], str | None]:
    """Check a site's wording (translation) file and return ``(item -> text, language)``.

    The file is JSON: ``{"instrument": "hads", "language": "fr", "items": {"1": "...", ...}}``
    (``language`` optional). Items it leaves out keep their neutral labels.

    Raises
    ------
    InstrumentError
        Not an object, another instrument, ``items`` not an object of strings, unknown item keys.

    Examples
    --------
    >>> read_wording({"instrument": "pgic", "language": "en", "items": {"1": "My wording"}}, "pgic")
    ({'1': 'My wording'}, 'en')
    """
    inst = get_instrument(instrument)
    if not isinstance(document, Mapping):
        raise InstrumentError(f"wording file: expected a JSON object, got {type(document).__name__}")
    named = document.get("instrument")
    if named is None or str(named).lower() != inst.name:
        raise InstrumentError(f"wording file: instrument is {named!r}, expected {inst.name!r}")
    items = document.get("items")
    if not isinstance(items, Mapping):
        raise InstrumentError('wording file: "items" must be an object of item key -> text')
    language = document.get("language")
    if language is not None and not isinstance(language, str):
        raise InstrumentError(f'wording file: "language" must be a string (e.g. "fr"), got {language!r}')
    out: dict[str, str] = {}
    for key, text in items.items():
        if str(key) not in inst.item_keys:
            raise InstrumentError(
                f"wording file: {key!r} is not an item of {inst.name}; items are {', '.join(inst.item_keys)}"
            )
        if not isinstance(text, str) or not text.strip():
            raise InstrumentError(f"wording file: item {key} text must be a non-empty string, got {text!r}")
        out[str(key)] = text
    return out, language


def to_fhir_questionnaire(
    instrument: str | Instrument,
    *,
    wording: Mapping[str, str] | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """The instrument as a FHIR R4 ``Questionnaire`` resource (a JSON-ready dict).

    Parameters
    ----------
    instrument : instrument name or object.
    wording : item key -> text replacing the neutral label (a site's licensed wording; see
        :func:`read_wording`). Keys must be item keys; items left out keep their labels.
    language : the resource's ``language`` (e.g. ``"fr"``), when the wording is a translation.

    Returns
    -------
    dict
        ``resourceType, id, url, name, title, status ("active"), subjectType, description,
        copyright, item[]`` — item mapping in the module docstring.

    Raises
    ------
    InstrumentError
        Unknown instrument or a wording key that is not an item.

    Examples
    --------
    >>> q = to_fhir_questionnaire("pgic")
    >>> q["url"], q["item"][0]["type"], q["item"][0]["extension"][1]
    ('https://ketapain.org/fhir/Questionnaire/pgic', 'integer',
     {'url': 'http://hl7.org/fhir/StructureDefinition/maxValue', 'valueInteger': 7})
    """
    inst = get_instrument(instrument)
    texts = {it.key: it.label for it in inst.items}
    for key, text in (wording or {}).items():
        inst.item(str(key))
        if not isinstance(text, str) or not text.strip():
            raise InstrumentError(f"{inst.name}: wording for item {key} must be a non-empty string, got {text!r}")
        texts[str(key)] = text
    out: dict[str, Any] = {"resourceType": "Questionnaire", "id": _fhir_id(inst)}
    if language is not None:
        out["language"] = language
    out |= {
        "url": _canonical(inst),
        "name": _computable_name(inst),
        "title": inst.title,
        "status": "active",
        "subjectType": ["Patient"],
        "description": inst.reference,
        "copyright": inst.licence,
        "item": [_questionnaire_item(it, texts[it.key]) for it in inst.items],
    }
    return out


def _answer(item: Item, value: float) -> dict[str, Any]:
    """One validated, non-missing answer (clock items: minutes after midnight)."""
    kind = _fhir_type(item)
    if kind == "time":
        minutes = int(value)
        return {"valueTime": f"{minutes // 60:02d}:{minutes % 60:02d}:00"}
    if kind == "choice":
        return _option_value(item, value)
    if kind == "integer":
        return {"valueInteger": int(value)}
    return {"valueDecimal": float(value)}


def to_fhir_questionnaire_response(
    instrument: str | Instrument,
    responses: Mapping[str, Any],
    *,
    subject: str | Mapping[str, Any] | None = None,
    authored: str | dt.date | dt.datetime | None = None,
    status: str = "completed",
) -> dict[str, Any]:
    """One respondent's answers as a FHIR R4 ``QuestionnaireResponse`` (JSON-ready dict).

    Parameters
    ----------
    instrument : instrument name or object.
    responses : item key -> value, as :func:`~ketapain.instruments.score` takes them; they are
        validated the same way. Missing answers are left out.
    subject : a reference string (``"Patient/17"``) or a FHIR Reference object.
    authored : when the answers were given: a FHIR dateTime string, a date, or a
        timezone-aware datetime.
    status : ``completed`` (default), ``in-progress``, ``amended`` or ``stopped``.

    Raises
    ------
    InstrumentError
        Invalid responses (as ``score``), a naive datetime, an unknown status.

    Examples
    --------
    >>> qr = to_fhir_questionnaire_response("pgic", {"1": 2}, subject="Patient/17", authored="2024-05-02")
    >>> qr["questionnaire"], qr["item"]
    ('https://ketapain.org/fhir/Questionnaire/pgic', [{'linkId': '1', 'answer': [{'valueInteger': 2}]}])
    """
    inst = get_instrument(instrument)
    if status not in ("completed", "in-progress", "amended", "stopped"):
        raise InstrumentError(f"{inst.name}: status {status!r} is not one of completed, in-progress, amended, stopped")
    if not isinstance(responses, Mapping):
        raise InstrumentError(f"{inst.name}: responses must be a mapping of item -> value, got {type(responses).__name__}")
    answers: dict[str, Any] = {}
    for k, v in responses.items():
        if str(k) in answers:
            raise InstrumentError(f"{inst.name}: item {k} is given twice (as {k!r} and {str(k)!r})")
        answers[str(k)] = v
    frame = pd.DataFrame([answers], index=pd.Index(["responses"]), dtype=object)
    numeric = inst.numeric_items(frame, where="responses").iloc[0]
    out: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": _canonical(inst),
        "status": status,
    }
    if subject is not None:
        out["subject"] = {"reference": subject} if isinstance(subject, str) else dict(subject)
    if authored is not None:
        out["authored"] = _authored(inst, authored)
    out["item"] = [
        {"linkId": it.key, "answer": [_answer(it, float(numeric[it.key]))]} for it in inst.items if not math.isnan(float(numeric[it.key]))
    ]
    return out


def _authored(inst: Instrument, value: str | dt.date | dt.datetime) -> str:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InstrumentError(f"{inst.name}: authored={value.isoformat()!r} has no time zone (FHIR requires one with a time)")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise InstrumentError(f"{inst.name}: authored must be a date, an aware datetime or a string, got {value!r}")


def _instrument_from_canonical(url: Any) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return None
    tail = url.split("|", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    return tail or None


def _walk(items: Any, path: str, found: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Flatten nested items: (linkId, where, the single answer or None)."""
    if not isinstance(items, list):
        raise InstrumentError(f"QuestionnaireResponse {path}: item must be a list, got {type(items).__name__}")
    for i, entry in enumerate(items):
        where = f"{path}[{i}]"
        if not isinstance(entry, Mapping):
            raise InstrumentError(f"QuestionnaireResponse {where}: expected an object, got {type(entry).__name__}")
        link = entry.get("linkId")
        if not isinstance(link, str) or not link:
            raise InstrumentError(f"QuestionnaireResponse {where}: linkId is missing or not a string")
        answers = entry.get("answer", [])
        if not isinstance(answers, list):
            raise InstrumentError(f"QuestionnaireResponse {where} (linkId {link}): answer must be a list")
        if len(answers) > 1:
            raise InstrumentError(f"QuestionnaireResponse {where} (linkId {link}): {len(answers)} answers; each item takes one")
        for j, answer in enumerate(answers):
            if not isinstance(answer, Mapping):
                raise InstrumentError(f"QuestionnaireResponse {where}.answer[{j}] (linkId {link}): expected an object")
            if "item" in answer:
                _walk(answer["item"], f"{where}.answer[{j}].item", found)
        if answers:
            found.append((link, where, dict(answers[0])))
        if "item" in entry:
            _walk(entry["item"], f"{where}.item", found)


def _value(inst: Instrument, item: Item, answer: Mapping[str, Any], where: str) -> Any:
    keys = [k for k in answer if k.startswith("value")]
    place = f"QuestionnaireResponse {where} (linkId {item.key})"
    if len(keys) != 1:
        raise InstrumentError(f"{inst.name}: {place}: an answer needs exactly one value[x], found {keys or 'none'}")
    key = keys[0]
    value = answer[key]
    if key == "valueInteger":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InstrumentError(f"{inst.name}: {place}: valueInteger {value!r} is not an integer")
        return value
    if key == "valueDecimal":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InstrumentError(f"{inst.name}: {place}: valueDecimal {value!r} is not a number")
        return value
    if key == "valueTime":
        m = _TIME.match(value) if isinstance(value, str) else None
        if not m:
            raise InstrumentError(f"{inst.name}: {place}: valueTime {value!r} is not a FHIR time HH:MM:SS")
        if (m.group(3) or "00") != "00" or (m.group(4) and float(m.group(4)) != 0):
            raise InstrumentError(f"{inst.name}: {place}: valueTime {value!r} has seconds; items record hours and minutes")
        return f"{m.group(1)}:{m.group(2)}"
    if key == "valueCoding":
        code = value.get("code") if isinstance(value, Mapping) else None
        try:
            number = float(code)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InstrumentError(f"{inst.name}: {place}: valueCoding code {code!r} is not a number") from None
        return plain_number(number) if math.isfinite(number) else code
    if key == "valueString":
        if not isinstance(value, str):
            raise InstrumentError(f"{inst.name}: {place}: valueString {value!r} is not a string")
        return value.strip()  # score() checks it (numbers as text; "HH:MM" for clock items)
    if key == "valueQuantity":
        quantity = value.get("value") if isinstance(value, Mapping) else None
        if isinstance(quantity, bool) or not isinstance(quantity, int | float):
            raise InstrumentError(f"{inst.name}: {place}: valueQuantity has no numeric value")
        return quantity
    if key == "valueBoolean":
        allowed = None if item.values is None else {float(v) for v in item.values}
        if not isinstance(value, bool) or allowed != {0.0, 1.0}:
            raise InstrumentError(
                f"{inst.name}: {place}: valueBoolean {value!r} is only read for yes/no (0/1) items; allowed: {item.allowed()}"
            )
        return int(value)
    raise InstrumentError(f"{inst.name}: {place}: {key} cannot be read; allowed: {item.allowed()}")


def responses_from_fhir(
    questionnaire_response: Mapping[str, Any],
    instrument: str | Instrument | None = None,
) -> tuple[str, dict[str, Any]]:
    """Read a FHIR R4 ``QuestionnaireResponse`` back into ``(instrument name, responses)``.

    Items are found by ``linkId`` (= item key) at any depth (groups and answers' nested items
    are flattened). Each item takes one answer: ``valueInteger``, ``valueDecimal``,
    ``valueTime`` (``"HH:MM:SS"`` with zero seconds -> ``"HH:MM"``), ``valueCoding.code`` (a
    number), ``valueString`` (passed on as text, checked by ``score``), ``valueQuantity.value``,
    or ``valueBoolean`` for 0/1 items. Items without an answer are missing. The instrument is
    ``instrument`` or else the last path segment of ``questionnaire``; when both are given they
    must agree. The responses are not range-checked here: ``score`` does that.

    Raises
    ------
    InstrumentError
        Not a QuestionnaireResponse, status ``entered-in-error``, instrument unknown or not
        matching, a linkId that is not an item or appears twice, several answers to one item,
        an answer without exactly one readable value[x] — naming the item's path.

    Examples
    --------
    >>> qr = {"resourceType": "QuestionnaireResponse", "status": "completed",
    ...       "questionnaire": "https://ketapain.org/fhir/Questionnaire/pgic",
    ...       "item": [{"linkId": "1", "answer": [{"valueInteger": 2}]}]}
    >>> responses_from_fhir(qr)
    ('pgic', {'1': 2})
    """
    qr = questionnaire_response
    if not isinstance(qr, Mapping) or qr.get("resourceType") != "QuestionnaireResponse":
        got = qr.get("resourceType") if isinstance(qr, Mapping) else type(qr).__name__
        raise InstrumentError(f"expected a FHIR QuestionnaireResponse, got resourceType {got!r}")
    if qr.get("status") == "entered-in-error":
        raise InstrumentError("QuestionnaireResponse has status 'entered-in-error'; it must not be scored")
    named = _instrument_from_canonical(qr.get("questionnaire"))
    if instrument is not None:
        inst = get_instrument(instrument)
        if named is not None and named.lower() != _fhir_id(inst).lower():
            raise InstrumentError(f"QuestionnaireResponse answers questionnaire {qr.get('questionnaire')!r}, not {inst.name!r}")
    elif named is not None:
        by_id = {_fhir_id(i).lower(): i for i in instruments().values()}
        inst = by_id.get(named.lower()) or get_instrument(named)
    else:
        raise InstrumentError("QuestionnaireResponse has no questionnaire: pass the instrument")
    found: list[tuple[str, str, dict[str, Any]]] = []
    _walk(qr.get("item", []), "item", found)
    responses: dict[str, Any] = {}
    for link, where, answer in found:
        if link not in inst.item_keys:
            raise InstrumentError(
                f"{inst.name}: QuestionnaireResponse {where}: linkId {link!r} is not an item; items are {', '.join(inst.item_keys)}"
            )
        if link in responses:
            raise InstrumentError(f"{inst.name}: QuestionnaireResponse {where}: item {link} is answered twice")
        responses[link] = _value(inst, inst.item(link), answer, where)
    return inst.name, responses
