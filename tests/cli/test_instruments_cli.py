"""``score`` and ``instruments`` commands (registered on a local Typer app, run with CliRunner)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.instruments import Instrument, Item, Option, Score, _registry, instruments

runner = CliRunner()


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def _toy_scorer(items: pd.DataFrame, options: Mapping[str, str]) -> pd.DataFrame:
    total = items.sum(axis=1, min_count=2) if options["missing"] == "none" else items.mean(axis=1) * 2
    return pd.DataFrame({"total": total, "n_missing": items.isna().sum(axis=1)}, index=items.index)


TOY = Instrument(
    name="toycli",
    title="Toy [two items]",  # brackets: must print literally, not as rich markup
    reference="none",
    licence="free",
    items=(Item("1", "first", minimum=0, maximum=3), Item("2", "second", minimum=0, maximum=3)),
    scores=(Score("total", "sum of 1 and 2", 0, 6),),
    reports=(Score("n_missing", "missing items", kind="count"),),
    options=(Option("missing", ("none", "prorate"), "none", "missing-item rule"),),
    scorer=_toy_scorer,
)


@pytest.fixture
def toy(monkeypatch):
    instruments()  # load the registry, then add the throwaway for this test only
    monkeypatch.setitem(_registry._REGISTRY, "toycli", TOY)
    return TOY


def write(tmp_path: Path, name: str, payload: object) -> Path:
    path = tmp_path / name
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


# -- score ---------------------------------------------------------------------------------


def test_score_one_object_json(tmp_path):
    path = write(tmp_path, "answers.json", {"1": 2})
    res = run("score", "pgic", path, "--json")
    assert res.exit_code == 0, res.output
    assert res.stderr == ""
    assert json.loads(res.stdout) == {
        "instrument": "pgic",
        "options": {},
        "incomplete": "error",
        "scores": {"pgic": 2, "responder": True, "any_improvement": True},
    }


def test_score_list_json_says_which_options_ran(tmp_path, toy):
    path = write(tmp_path, "many.json", [{"1": 1, "2": 2}, {"1": 3, "2": None}, {}])
    res = run("score", "toycli", path, "--json", "--option", "missing=prorate", "--incomplete", "missing")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [o["options"] for o in out] == [{"missing": "prorate"}] * 3
    assert [o["incomplete"] for o in out] == ["missing"] * 3
    assert [o["scores"] for o in out] == [
        {"total": 3, "n_missing": 0},
        {"total": 6, "n_missing": 1},  # pro-rated: 3 * 2
        {"total": None, "n_missing": 2},
    ]
    default = json.loads(run("score", "TOYCLI", path, "--json", "--incomplete", "missing").stdout)
    assert default[1] == {
        "instrument": "toycli",
        "options": {"missing": "none"},
        "incomplete": "missing",
        "scores": {"total": None, "n_missing": 1},
    }
    # by default (--incomplete error) the blank entry [2] is refused (the toy declares no items
    # per score, so entry [1] is not checked; a blank form always is)
    res = run("score", "toycli", path, "--json", "--option", "missing=prorate")
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr == (
        "error: many.json [2]: toycli: the form is blank (no item answered), so none of its scores (total) can be "
        "computed; pass --incomplete 'missing' to get the score as missing instead\n"
    )


def test_score_table(tmp_path, toy):
    path = write(tmp_path, "a.json", {"1": 1, "2": 2})
    res = run("score", "toycli", path, "-o", "missing=prorate")
    assert res.exit_code == 0, res.output
    assert "toycli: a.json" in res.stdout
    assert re.search(r"│ total +│ +3 │ 0..6 +│", res.stdout)
    assert re.search(r"│ n_missing +│ +0 │ report +│", res.stdout)
    assert "options: missing=prorate" in res.stdout
    assert "incomplete: error" in res.stdout


def test_score_table_for_a_list_names_each_entry(tmp_path):
    path = write(tmp_path, "b.json", [{"1": 2}, {"1": 6}])
    res = run("score", "pgic", path)
    assert res.exit_code == 0, res.output
    assert "pgic: b.json [0]" in res.stdout and "pgic: b.json [1]" in res.stdout
    assert re.search(r"│ responder +│ +yes │ yes/no │", res.stdout)
    assert re.search(r"│ responder +│ +no │ yes/no │", res.stdout)
    assert "options: none" in res.stdout and "incomplete: error" in res.stdout


def test_score_incomplete_error_names_score_items_and_rule(tmp_path):
    path = write(tmp_path, "h.json", [dict.fromkeys([str(k) for k in range(1, 15)], 1), {"1": 2, "2": 1}])
    res = run("score", "hads", path, "--json")
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr.startswith(
        "error: h.json [1]: hads: anxiety cannot be scored: items 3, 5, 7, 9, 11, 13 unanswered; anxiety needs all "
        "7 items (missing='none'; missing='half_rule' allows up to 3 unanswered); depression cannot be scored: "
    )
    assert res.stderr.endswith("; pass --incomplete 'missing' to get the score as missing instead\n")
    res = run("score", "hads", path, "--json", "--incomplete", "missing", "-o", "missing=half_rule")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out[0]["incomplete"] == "missing" and out[0]["scores"]["anxiety"] == 7
    assert out[1]["scores"]["anxiety"] is None and out[1]["scores"]["depression"] is None
    table = run("score", "hads", path, "--incomplete", "missing")
    assert table.exit_code == 0, table.output
    assert re.search(r"│ anxiety +│ +NA │ 0..21 +│", table.stdout) and "incomplete: missing" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--incomplete", "maybe"], "error: --incomplete 'maybe' is not one of error, missing\n"),
        (["--option", "incomplete=missing"],
         "error: --option 'incomplete=missing': incomplete is not an instrument option; use --incomplete error|missing\n"),
    ],
)
def test_score_incomplete_flag_errors(tmp_path, args, message):
    path = write(tmp_path, "r.json", {"1": 2})
    res = run("score", "pgic", path, *args)
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr == message


@pytest.mark.parametrize(
    ("payload", "args", "message"),
    [
        ({"1": 9}, [], "error: r.json: pgic: item 1 = 9 is out of range; allowed: an integer 1..7\n"),
        ([{"1": 2}, {"1": 2.5}], [], "error: r.json [1]: pgic: item 1 = 2.5 is not a whole number; allowed: an integer 1..7\n"),
        ([{"1": 2}, 3], [], "error: r.json [1]: expected an object of item -> value, got a number\n"),
        ("7", [], "error: r.json: expected an object of item -> value, got a number\n"),
        ('"x"', [], "error: r.json: expected an object of item -> value, got a string\n"),
        ({"1": True}, [], "error: r.json: pgic: item 1 = True is a true/false value, not a number"),
        ({"7": 1}, [], "error: r.json: pgic: unknown item '7'; items are 1\n"),
        ('{"1": 2,}', [], "error: r.json: not valid JSON: Expecting property name enclosed in double quotes (line 1, column 9)\n"),
        ('{"1": NaN}', [], "error: r.json: not valid JSON: NaN is not a JSON value (use null for a missing answer)\n"),
        ({"1": 2}, ["--option", "scale"], "error: --option 'scale' must be NAME=VALUE"),
        ({"1": 2}, ["--option", "scale=uni"], "error: pgic: unknown option 'scale'; options: none\n"),
    ],
)
def test_score_errors_exit_1_with_message_on_stderr(tmp_path, payload, args, message):
    path = write(tmp_path, "r.json", payload)
    res = run("score", "pgic", path, *args)
    assert res.exit_code == 1
    assert res.stdout == ""
    assert res.stderr.startswith(message)


def test_score_option_errors(tmp_path, toy):
    path = write(tmp_path, "r.json", {"1": 1})
    res = run("score", "toycli", path, "-o", "missing=half")
    assert res.exit_code == 1 and res.stderr == "error: toycli: option missing='half' is not one of none, prorate\n"
    res = run("score", "toycli", path, "-o", "missing=none", "-o", "missing=prorate")
    assert res.exit_code == 1 and res.stderr == "error: --option missing is given twice\n"


def test_score_unknown_instrument_and_unreadable_file(tmp_path):
    path = write(tmp_path, "r.json", {"1": 1})
    res = run("score", "nope", path)
    assert res.exit_code == 1
    assert res.stderr.startswith("error: unknown instrument 'nope'; known: ") and "pgic" in res.stderr
    res = run("score", "pgic", tmp_path / "absent.json")
    assert res.exit_code == 1 and res.stderr == f"error: {tmp_path / 'absent.json'}: cannot read: No such file or directory\n"
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    res = run("score", "pgic", binary)
    assert res.exit_code == 1 and res.stderr.startswith("error: bin.json: cannot decode as UTF-16 (byte ")


# -- instruments ---------------------------------------------------------------------------


def test_instruments_overview_lists_every_instrument():
    res = run("instruments")
    assert res.exit_code == 0, res.output
    for name in instruments():
        assert re.search(rf"│ {name} +│", res.stdout), name


def test_instruments_json_lists_every_declaration():
    out = json.loads(run("instruments", "--json").stdout)
    assert [d["name"] for d in out] == list(instruments())
    assert {"items", "options", "scores", "reports", "licence", "reference"} <= set(out[0])


def test_instrument_detail(toy):
    res = run("instruments", "toycli")
    assert res.exit_code == 0, res.output
    assert "toycli: Toy [two items]" in res.stdout
    assert re.search(r"│ 1 +│ first +│ an integer 0..3 +│ yes +│ yes +│", res.stdout)
    assert re.search(r"│ missing +│ none, prorate +│ none +│ missing-item rule +│", res.stdout)
    assert re.search(r"│ total +│ 0..6 +│ sum of 1 and 2 +│", res.stdout)
    assert re.search(r"│ n_missing +│ report +│ missing items +│", res.stdout)


def test_instrument_detail_json():
    out = json.loads(run("instruments", "pgic", "--json").stdout)
    assert out["name"] == "pgic"
    assert out["items"] == [
        {"key": "1", "label": "global impression of change since the start of treatment", "kind": "integer",
         "minimum": 1, "maximum": 7, "step": None, "values": None, "required": True, "scored": True,
         "allowed": "an integer 1..7"}
    ]
    assert [s["name"] for s in out["scores"]] == ["pgic", "responder", "any_improvement"]
    assert out["scores"][0] == {"name": "pgic", "kind": "number", "minimum": 1, "maximum": 7,
                                "label": "rating (1-7)", "definition": "the category, 1 (very much improved) .. 7 (very much worse)",
                                "items": ["1"], "rule": "needs item 1"}


def test_instrument_detail_shows_the_missing_item_rules():
    res = run("instruments", "pgic")
    assert res.exit_code == 0, res.output
    assert re.search(r"┃ name +┃ range +┃ definition +┃ missing items +┃", res.stdout)
    assert re.search(r"│ pgic +│ 1..7 +│ the category, .*│ needs item 1 +│", res.stdout)
    assert re.search(r"│ any_improvement +│ yes/no +│ PGIC 1, 2 or 3 +│ needs item 1 +│", res.stdout)


def test_instruments_fhir_and_wording(tmp_path):
    res = run("instruments", "pgic", "--fhir")
    assert res.exit_code == 0, res.output
    q = json.loads(res.stdout)
    assert q["resourceType"] == "Questionnaire" and q["item"][0]["linkId"] == "1"
    wording = write(tmp_path, "pgic_fr.json", {"instrument": "pgic", "language": "fr", "items": {"1": "Texte du site"}})
    q = json.loads(run("instruments", "pgic", "--fhir", "--wording", wording).stdout)
    assert q["language"] == "fr" and q["item"][0]["text"] == "Texte du site"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["instruments", "nope"], "error: unknown instrument 'nope'; known: "),
        (["instruments", "--fhir"], "error: --fhir and --wording need an instrument NAME"),
        (["instruments", "pgic", "--wording", "w.json"], "error: --wording goes with --fhir"),
        (["instruments", "pgic", "--fhir", "--wording", "w.json"], "error: w.json: '9' is not an item of pgic; items are 1"),
        (["instruments", "pgic", "--fhir", "--wording", "absent.json"], "error: absent.json: cannot read: No such file"),
    ],
)
def test_instruments_errors(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "w.json", {"instrument": "pgic", "items": {"9": "x"}})
    res = run(*args)
    assert res.exit_code == 1
    assert res.stdout == ""
    assert res.stderr.startswith(message)


# -- bad answer files end in one error line (issue 14) ---------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "error: a.json: not valid JSON: nested too deeply (a JSON file here nests a few levels)\n"),
        (b'{"1": ' + b"[" * 5000 + b"]" * 5000 + b"}",
         "error: a.json: not valid JSON: nested too deeply (a JSON file here nests a few levels)\n"),
        (b'{"1": ' + b"9" * 400 + b"}",
         "error: a.json: hads: item 1 = <an integer of 400 digits> is too large; allowed: an integer 0..3\n"),
        (b'{"1": -' + b"9" * 30 + b"}", "error: a.json: hads: item 1 = <an integer of 30 digits> is too large; allowed: an integer 0..3\n"),
        (b'{"1": ' + b"9" * 5000 + b"}", "error: a.json: not valid JSON: an integer has more than 4300 digits\n"),
        (b'[{"1": 1}, {"1": ' + b"9" * 400 + b"}]",
         "error: a.json [1]: hads: item 1 = <an integer of 400 digits> is too large; allowed: an integer 0..3\n"),
        ('{"1": 2}'.encode("utf-16-le"), "error: a.json: contains NUL bytes: it looks like UTF-16 or UTF-32 without a "
         "byte-order mark; save it as UTF-8 (or UTF-16 with a byte-order mark)\n"),
    ],
)
def test_score_malformed_answer_files(tmp_path, content, message):
    path = tmp_path / "a.json"
    path.write_bytes(content)
    res = run("score", "hads", path, "--incomplete", "missing")
    assert res.exit_code == 1, res.output
    assert res.stdout == "" and res.stderr == message


def test_score_reads_utf16_with_a_bom(tmp_path):
    path = tmp_path / "a.json"
    path.write_bytes('{"1": 2}'.encode("utf-16"))
    res = run("score", "hads", path, "--incomplete", "missing", "--json")
    assert res.exit_code == 0, res.output
