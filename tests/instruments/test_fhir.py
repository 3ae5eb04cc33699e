"""FHIR R4 export/import: a Questionnaire for every registered instrument, and responses that
survive the round trip QuestionnaireResponse -> responses with the same scores.

Where ``fhir.resources`` is installed (test extra), its R4B models validate every generated
resource (R4B's Questionnaire and QuestionnaireResponse are R4's, plus optional elements).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pytest

from ketapain.errors import InstrumentError
from ketapain.instruments import Instrument, Item, Score, instruments, score
from ketapain.instruments._fhir import (
    CANONICAL_BASE,
    MAX_VALUE,
    MIN_VALUE,
    read_wording,
    responses_from_fhir,
    to_fhir_questionnaire,
    to_fhir_questionnaire_response,
)

NAMES = sorted(instruments())
# R4 value sets (bindings fhir.resources does not check)
ITEM_TYPES = {"group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time", "string", "text",
              "url", "choice", "open-choice", "attachment", "reference", "quantity"}
PUBLICATION_STATUS = {"draft", "active", "retired", "unknown"}
RESPONSE_STATUS = {"in-progress", "completed", "amended", "entered-in-error", "stopped"}


def _validate(resource: dict[str, Any]) -> None:
    """Validate with fhir.resources' R4B models when they are installed."""
    try:
        from fhir.resources.R4B.questionnaire import Questionnaire
        from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
    except ImportError:  # structural checks below still run
        return
    model = {"Questionnaire": Questionnaire, "QuestionnaireResponse": QuestionnaireResponse}[resource["resourceType"]]
    parsed = model.model_validate(resource)
    assert parsed.get_resource_type() == resource["resourceType"]


def _allowed_values(item: Item) -> list[Any]:
    """A few valid answers per item: its lowest, highest and a middle one."""
    if item.kind == "clock":
        return ["22:15", "06:45", "00:00"]
    if item.values is not None:
        vals = list(item.values)
        return [vals[0], vals[-1], vals[len(vals) // 2]]
    lo = item.minimum if item.minimum is not None else 0
    hi = item.maximum if item.maximum is not None else lo + 10
    step = item.step if item.step is not None else (1 if item.kind == "integer" else 0.5)
    mid = lo + step * math.floor((hi - lo) / step / 2)
    return [lo, hi, mid]


def _response_sets(inst: Instrument) -> list[dict[str, Any]]:
    """Every item at its lowest, its highest, its middle; and the middle without optional items.

    Clock items get different times each (a bedtime equal to a wake-up time is invalid for PSQI).
    """
    sets = []
    for which in range(3):
        resp: dict[str, Any] = {}
        n_clock = 0
        for item in inst.items:
            values = _allowed_values(item)
            if item.kind == "clock":
                resp[item.key] = values[(which + n_clock) % 3]
                n_clock += 1
            else:
                resp[item.key] = values[which]
        sets.append(resp)
    sets.append({k: v for k, v in sets[2].items() if inst.item(k).required})
    return sets


def _outcome(name: str, responses: Mapping[str, Any]) -> Any:
    """The scores, or the scoring error's message (a valid-per-item set may break a cross-item rule)."""
    try:
        return score(name, responses)
    except InstrumentError as exc:
        return f"InstrumentError: {exc}"


# -- the Questionnaire -----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_questionnaire_structure(name):
    inst = instruments()[name]
    q = to_fhir_questionnaire(name)
    _validate(q)
    assert q["resourceType"] == "Questionnaire"
    assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", q["id"])
    assert q["url"] == f"{CANONICAL_BASE}/Questionnaire/{q['id']}"
    assert re.fullmatch(r"[A-Z][A-Za-z0-9_]{0,254}", q["name"])  # constraint que-0
    assert q["status"] == "active" and q["status"] in PUBLICATION_STATUS and q["title"] == inst.title and q["copyright"] == inst.licence
    assert [i["linkId"] for i in q["item"]] == list(inst.item_keys)
    for fhir_item, item in zip(q["item"], inst.items, strict=True):
        assert fhir_item["type"] in ITEM_TYPES
        # neutral labels only: the repository holds no licensed wording
        assert fhir_item["text"] == item.label
        assert fhir_item["required"] is item.required
        _check_item_type(fhir_item, item)


def _check_item_type(fhir_item: dict[str, Any], item: Item) -> None:
    kind = fhir_item["type"]
    if item.kind == "clock":
        assert kind == "time"
        return
    if kind == "choice":
        options = fhir_item["answerOption"]
        values = [o["valueInteger"] if "valueInteger" in o else float(o["valueCoding"]["code"]) for o in options]
        if item.values is not None:
            assert values == pytest.approx([float(v) for v in item.values])
        else:  # a stepped range, listed in full
            assert item.step is not None
            assert values[0] == item.minimum and values[-1] == pytest.approx(item.maximum)
            assert all(b - a == pytest.approx(item.step) for a, b in itertools.pairwise(values))
        assert "extension" not in fhir_item
        return
    assert kind == ("integer" if item.kind == "integer" else "decimal")
    assert item.values is None
    value_key = "valueInteger" if kind == "integer" else "valueDecimal"
    bounds = {e["url"]: e[value_key] for e in fhir_item.get("extension", [])}
    assert bounds.get(MIN_VALUE) == item.minimum and bounds.get(MAX_VALUE) == item.maximum
    assert "answerOption" not in fhir_item


def test_fhir_resources_validator_is_installed_and_strict():
    """The validation above is real: fhir.resources (test extra) is present and rejects broken
    structure. It does not check code bindings (status, item type): the asserts above do."""
    r4b = pytest.importorskip("fhir.resources.R4B.questionnaire")
    q = to_fhir_questionnaire("pgic")
    r4b.Questionnaire.model_validate(q)
    item = q["item"][0]
    for broken in (
        q | {"item": [{k: v for k, v in item.items() if k != "linkId"}]},  # linkId is 1..1
        q | {"item": [item | {"extension": [{"valueInteger": 1}]}]},  # an extension needs its url
        q | {"item": [item | {"answerOption": [{"valueInteger": "one"}]}]},
        q | {"itemz": []},  # unknown element
    ):
        with pytest.raises(ValueError):  # noqa: PT011 - pydantic's ValidationError, whatever its text
            r4b.Questionnaire.model_validate(broken)


def test_questionnaire_is_json_serialisable_and_deterministic():
    import json

    for name in NAMES:
        text = json.dumps(to_fhir_questionnaire(name), allow_nan=False)
        assert text == json.dumps(to_fhir_questionnaire(name), allow_nan=False)


# -- round trips for every instrument ------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_gives_the_same_scores(name):
    inst = instruments()[name]
    sets = _response_sets(inst)
    assert any(isinstance(_outcome(name, r), dict) for r in sets), "no response set scores at all"
    for responses in sets:
        qr = to_fhir_questionnaire_response(name, responses, subject="Patient/17", authored="2024-05-02")
        _validate(qr)
        assert qr["status"] in RESPONSE_STATUS
        assert qr["questionnaire"] == to_fhir_questionnaire(name)["url"]
        assert [i["linkId"] for i in qr["item"]] == [k for k in inst.item_keys if k in responses]
        got_name, back = responses_from_fhir(qr)
        assert got_name == name
        assert responses_from_fhir(qr, instrument=name) == (name, back)
        assert _outcome(name, back) == _outcome(name, responses)


@pytest.mark.parametrize("name", NAMES)
def test_answer_types_match_the_questionnaire(name):
    inst = instruments()[name]
    types = {i["linkId"]: i["type"] for i in to_fhir_questionnaire(name)["item"]}
    qr = to_fhir_questionnaire_response(name, _response_sets(inst)[0])
    expected_key = {"integer": {"valueInteger"}, "decimal": {"valueDecimal"}, "time": {"valueTime"},
                    "choice": {"valueInteger", "valueCoding"}}
    for entry in qr["item"]:
        (answer,) = entry["answer"]
        (key,) = answer
        assert key in expected_key[types[entry["linkId"]]]
        if key == "valueTime":
            assert re.fullmatch(r"\d\d:\d\d:00", answer[key])


# -- throwaway instruments for the less common item declarations ---------------------------


def _identity(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"n": items.notna().sum(axis=1)}, index=items.index)


ODD = Instrument(
    name="odd_one",
    title="odd items",
    reference="none",
    licence="free",
    items=(
        Item("a", "half points", kind="number", values=(0, 0.5, 1)),
        Item("b", "stepped decimals", kind="number", minimum=0, maximum=2, step=0.25),
        Item("c", "lower bound only", minimum=0),
        Item("d", "unbounded number", kind="number"),
        Item("e", "wide stepped range", minimum=0, maximum=1000, step=5),
        Item("f", "optional time", kind="clock", required=False),
        Item("g", "yes/no", values=(0, 1)),
    ),
    scores=(Score("n", "answered items", 0, 7, kind="count", label="answered items"),),
    scorer=_identity,
)


def test_uncommon_declarations_export_and_round_trip():
    q = to_fhir_questionnaire(ODD)
    _validate(q)
    assert q["id"] == "odd-one" and q["name"] == "ODD_ONE"
    items = {i["linkId"]: i for i in q["item"]}
    # fractional explicit values: R4 answerOption has no valueDecimal, so codes carry the numbers
    assert [o["valueCoding"]["code"] for o in items["a"]["answerOption"]] == ["0", "0.5", "1"]
    assert [o["valueCoding"]["code"] for o in items["b"]["answerOption"]][:3] == ["0", "0.25", "0.5"]
    assert items["c"]["type"] == "integer" and items["c"]["extension"] == [{"url": MIN_VALUE, "valueInteger": 0}]
    assert items["d"]["type"] == "decimal" and "extension" not in items["d"]
    assert items["e"]["type"] == "integer"  # 201 values: too many to list
    assert items["f"] == {"linkId": "f", "text": "optional time", "type": "time", "required": False}
    assert [o["valueInteger"] for o in items["g"]["answerOption"]] == [0, 1]

    responses = {"a": 0.5, "b": 1.75, "c": 12, "d": -3.5, "e": 995, "f": "07:05", "g": 1}
    qr = to_fhir_questionnaire_response(ODD, responses)
    _validate(qr)
    answers = {i["linkId"]: i["answer"][0] for i in qr["item"]}
    assert answers["a"]["valueCoding"]["code"] == "0.5" and answers["d"] == {"valueDecimal": -3.5}
    assert answers["f"] == {"valueTime": "07:05:00"}
    name, back = responses_from_fhir(qr, ODD)
    assert name == "odd_one"
    assert back == {"a": 0.5, "b": 1.75, "c": 12, "d": -3.5, "e": 995, "f": "07:05", "g": 1}


# -- reading QuestionnaireResponses written elsewhere --------------------------------------


def _qr(items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "questionnaire": f"{CANONICAL_BASE}/Questionnaire/odd-one",
        "item": items,
    } | extra


def _answer(link: str, **value: Any) -> dict[str, Any]:
    return {"linkId": link, "answer": [value]}


def test_nested_items_are_flattened_and_value_types_read():
    qr = _qr(
        [
            {"linkId": "group-1", "text": "a page", "item": [_answer("a", valueCoding={"code": "1"}), _answer("b", valueDecimal=0.25)]},
            {"linkId": "c", "answer": [{"valueInteger": 3, "item": [_answer("d", valueQuantity={"value": 2.5})]}]},
            _answer("e", valueString=" 10 "),
            _answer("f", valueTime="23:05:00"),
            _answer("g", valueBoolean=True),
            {"linkId": "h-unanswered-group", "item": []},
        ]
    )
    _validate(qr)
    name, responses = responses_from_fhir(qr, ODD)  # a throwaway: not in the registry
    assert name == "odd_one"
    assert responses == {"a": 1, "b": 0.25, "c": 3, "d": 2.5, "e": "10", "f": "23:05", "g": 1}
    assert score(ODD, responses) == {"n": 7}


def test_item_without_answer_is_missing():
    _name, responses = responses_from_fhir(_qr([{"linkId": "a"}, _answer("c", valueInteger=1)]), ODD)
    assert responses == {"c": 1}


def test_questionnaire_canonical_with_version_and_other_base():
    qr = _qr([_answer("1", valueInteger=2)], questionnaire="http://example.org/fhir/Questionnaire/pgic|2.0")
    assert responses_from_fhir(qr) == ("pgic", {"1": 2})


@pytest.mark.parametrize(
    ("resource", "instrument", "message"),
    [
        ({"resourceType": "Questionnaire"}, None, "expected a FHIR QuestionnaireResponse, got resourceType 'Questionnaire'"),
        ([], None, "expected a FHIR QuestionnaireResponse, got resourceType 'list'"),
        (_qr([], status="entered-in-error"), None, "status 'entered-in-error'"),
        (_qr([], questionnaire=None), None, "has no questionnaire: pass the instrument"),
        (_qr([], questionnaire="https://x.org/Questionnaire/nope"), None, "unknown instrument 'nope'"),
        (_qr([]), "pgic", "answers questionnaire 'https://ketapain.org/fhir/Questionnaire/odd-one', not 'pgic'"),
        (_qr({"linkId": "a"}), ODD, "QuestionnaireResponse item: item must be a list, got dict"),
        (_qr(["a"]), ODD, "QuestionnaireResponse item[0]: expected an object, got str"),
        (_qr([{"answer": []}]), ODD, "QuestionnaireResponse item[0]: linkId is missing or not a string"),
        (
            _qr([_answer("zz", valueInteger=1)]),
            ODD,
            "odd_one: QuestionnaireResponse item[0]: linkId 'zz' is not an item; items are a, b, c",
        ),
        (
            _qr([_answer("c", valueInteger=1), {"linkId": "g1", "item": [_answer("c", valueInteger=2)]}]),
            ODD,
            "odd_one: QuestionnaireResponse item[1].item[0]: item c is answered twice",
        ),
        (
            _qr([{"linkId": "c", "answer": [{"valueInteger": 1}, {"valueInteger": 2}]}]),
            ODD,
            "item[0] (linkId c): 2 answers; each item takes one",
        ),
        (_qr([{"linkId": "c", "answer": {"valueInteger": 1}}]), ODD, "(linkId c): answer must be a list"),
        (_qr([{"linkId": "c", "answer": [{}]}]), ODD, "(linkId c): an answer needs exactly one value[x], found none"),
        (
            _qr([{"linkId": "c", "answer": [{"valueInteger": 1, "valueDecimal": 1.0}]}]),
            ODD,
            "exactly one value[x], found ['valueInteger', 'valueDecimal']",
        ),
        (_qr([_answer("c", valueInteger=1.5)]), ODD, "valueInteger 1.5 is not an integer"),
        (_qr([_answer("c", valueInteger=True)]), ODD, "valueInteger True is not an integer"),
        (_qr([_answer("d", valueDecimal="2")]), ODD, "valueDecimal '2' is not a number"),
        (_qr([_answer("f", valueTime="7:05")]), ODD, "valueTime '7:05' is not a FHIR time HH:MM:SS"),
        (_qr([_answer("f", valueTime="25:00:00")]), ODD, "valueTime '25:00:00' is not a FHIR time"),
        (_qr([_answer("f", valueTime="07:05:30")]), ODD, "valueTime '07:05:30' has seconds; items record hours and minutes"),
        (_qr([_answer("a", valueCoding={"code": "half"})]), ODD, "valueCoding code 'half' is not a number"),
        (_qr([_answer("a", valueCoding={"system": "x"})]), ODD, "valueCoding code None is not a number"),
        (_qr([_answer("c", valueBoolean=True)]), ODD, "valueBoolean True is only read for yes/no (0/1) items; allowed: an integer >= 0"),
        (_qr([_answer("c", valueDate="2024-01-01")]), ODD, "valueDate cannot be read; allowed: an integer >= 0"),
        (_qr([_answer("c", valueString=3)]), ODD, "valueString 3 is not a string"),
        (_qr([_answer("c", valueQuantity={"unit": "mm"})]), ODD, "valueQuantity has no numeric value"),
    ],
)
def test_bad_resources(resource, instrument, message):
    with pytest.raises(InstrumentError, match=re.escape(message)):
        responses_from_fhir(resource, instrument)


def test_values_read_back_are_checked_by_score():
    _, responses = responses_from_fhir(_qr([_answer("1", valueInteger=9)], questionnaire="Questionnaire/pgic"))
    with pytest.raises(InstrumentError, match=re.escape("pgic: item 1 = 9 is out of range; allowed: an integer 1..7")):
        score("pgic", responses)


# -- writing QuestionnaireResponses --------------------------------------------------------


def test_questionnaire_response_fields():
    qr = to_fhir_questionnaire_response(
        "pgic",
        {"1": "3"},
        subject={"reference": "Patient/9", "display": "P9"},
        authored=dt.datetime(2024, 5, 2, 10, 30, tzinfo=dt.UTC),
        status="in-progress",
    )
    _validate(qr)
    assert qr == {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": f"{CANONICAL_BASE}/Questionnaire/pgic",
        "status": "in-progress",
        "subject": {"reference": "Patient/9", "display": "P9"},
        "authored": "2024-05-02T10:30:00+00:00",
        "item": [{"linkId": "1", "answer": [{"valueInteger": 3}]}],
    }
    assert to_fhir_questionnaire_response("pgic", {"1": None}, authored=dt.date(2024, 5, 2))["authored"] == "2024-05-02"
    assert to_fhir_questionnaire_response("pgic", {})["item"] == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"responses": {"1": 8}}, "pgic: item 1 = 8 is out of range; allowed: an integer 1..7"),
        ({"responses": {"2": 1}}, "pgic: unknown item '2'"),
        ({"responses": [1]}, "pgic: responses must be a mapping"),
        ({"responses": {"1": 1, 1: 2}}, "pgic: item 1 is given twice"),
        ({"authored": dt.datetime(2024, 5, 2, 10, 30)}, "authored='2024-05-02T10:30:00' has no time zone"),
        ({"authored": 20240502}, "authored must be a date, an aware datetime or a string"),
        ({"status": "entered-in-error"}, "status 'entered-in-error' is not one of completed"),
    ],
)
def test_questionnaire_response_rejects(kwargs, message):
    args = {"responses": {"1": 2}} | kwargs
    responses = args.pop("responses")
    with pytest.raises(InstrumentError, match=re.escape(message)):
        to_fhir_questionnaire_response("pgic", responses, **args)


# -- a site's licensed wording -------------------------------------------------------------


def test_wording_replaces_item_texts_and_sets_the_language():
    doc = {"instrument": "pgic", "language": "fr", "items": {"1": "Texte du site (sous licence)"}}
    texts, language = read_wording(doc, "pgic")
    q = to_fhir_questionnaire("pgic", wording=texts, language=language)
    _validate(q)
    assert q["language"] == "fr" and q["item"][0]["text"] == "Texte du site (sous licence)"
    # items the wording leaves out keep their neutral labels
    partial = to_fhir_questionnaire(ODD, wording={"a": "site text"})
    assert [i["text"] for i in partial["item"]][:2] == ["site text", "stepped decimals"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "wording file: expected a JSON object, got list"),
        ({"instrument": "hads", "items": {}}, "wording file: instrument is 'hads', expected 'pgic'"),
        ({"items": {}}, "wording file: instrument is None, expected 'pgic'"),
        ({"instrument": "pgic", "items": ["x"]}, 'wording file: "items" must be an object of item key -> text'),
        ({"instrument": "pgic", "items": {"2": "x"}}, "wording file: '2' is not an item of pgic; items are 1"),
        ({"instrument": "pgic", "items": {"1": ""}}, "wording file: item 1 text must be a non-empty string, got ''"),
        ({"instrument": "pgic", "language": 3, "items": {}}, 'wording file: "language" must be a string'),
    ],
)
def test_bad_wording_files(doc, message):
    with pytest.raises(InstrumentError, match=re.escape(message)):
        read_wording(doc, "pgic")


def test_wording_keys_must_be_items():
    with pytest.raises(InstrumentError, match=re.escape("pgic: unknown item '9'")):
        to_fhir_questionnaire("pgic", wording={"9": "x"})
    with pytest.raises(InstrumentError, match="wording for item 1 must be a non-empty string"):
        to_fhir_questionnaire("pgic", wording={"1": None})  # type: ignore[dict-item]
