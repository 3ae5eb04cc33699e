"""The REDCap project ``ketapain export --format redcap-dictionary`` writes, checked against
REDCap's own rules rather than by a round trip (issue 20).

Each rule is implemented here from REDCap's documented behaviour, independently of
``ketapain.interop``: the tests read only the written CSV files. The rules and their sources
are listed in docs/interop-redcap.md; the short form is in each test's docstring.

Two projects are checked, each exported by the CLI from a trial folder of CSV files (the way
issue 20 found the violations): the reference study, and the 2-arm example protocol with
three extra visits whose labels make REDCap cut and de-duplicate event names (two visits
whose labels share their first 18 characters, and a visit named like a period).
"""

from __future__ import annotations

import re
import string
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.data import TrialData
from ketapain.interop import canonical_order
from ketapain.protocol import load_protocol
from ketapain.simulate import simulate_trial

runner = CliRunner()
ID_COLUMNS = ["record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"]
FIELD = "Variable / Field Name"
CHOICES = "Choices, Calculations, OR Slider Labels"
VALIDATION = "Text Validation Type OR Show Slider Number"

EXTRA_VISITS = """
[[visits]]
name = "period_1"
day = 29
questionnaires = ["pgic"]

[[visits]]
name = "follow_up_after_treatment_1"
day = 84
questionnaires = ["bpi"]

[[visits]]
name = "follow_up_after_treatment_2"
day = 98
questionnaires = ["bpi"]

"""


# --- REDCap's unique event name, from its documented behaviour -------------------------------


def redcap_unique_event_names(labels: list[str], arm: int) -> list[str]:
    """Unique event names REDCap derives from event labels created in this order in one arm.

    Documented behaviour (sources in docs/interop-redcap.md): lower case; characters other
    than a-z, 0-9 become underscores, runs of underscores collapse to one and none is kept at
    either end; the result is cut to its first 18 characters and a trailing underscore is
    dropped; then ``_arm_<n>``. A name already in use gets a letter appended: ``b``, ``c``...
    """
    names: list[str] = []
    allowed = set(string.ascii_lowercase + string.digits)
    for label in labels:
        text = "".join(ch if ch in allowed else "_" for ch in label.lower())
        while "__" in text:
            text = text.replace("__", "_")
        text = text.strip("_")[:18]
        while text.endswith("_"):
            text = text[:-1]
        name = f"{text}_arm_{arm}"
        letters = iter(string.ascii_lowercase[1:])
        while name in names:
            name = f"{text}_arm_{arm}{next(letters)}"
        names.append(name)
    return names


def test_event_name_rule_reproduces_redcaps_documented_examples() -> None:
    """The oracle itself, on names REDCap gave in public reports:
    lsgs/redcap-instance-table issue 9 (two long event labels -> ``testing_long_name_arm_1``
    and ``testing_long_name_arm_1b``) and REDCapTidieR pull request 203 (``Event 1`` in arms 1
    and 2 -> ``event_1_arm_1``, ``event_1_arm_2``). Hand check of the first: "testing long
    name test1" -> "testing_long_name_test1" (23 characters) -> first 18 "testing_long_name_"
    -> trailing underscore dropped -> "testing_long_name" + "_arm_1"."""
    assert redcap_unique_event_names(["Testing long name test1", "testing long name test2"], 1) == [
        "testing_long_name_arm_1",
        "testing_long_name_arm_1b",
    ]
    assert redcap_unique_event_names(["Event 1", "Event 2"], 1) == ["event_1_arm_1", "event_2_arm_1"]
    assert redcap_unique_event_names(["Event 1"], 2) == ["event_1_arm_2"]


# --- the exported projects -------------------------------------------------------------------


class Project:
    """The files of one exported REDCap project, as text."""

    def __init__(self, folder: Path, trial_dir: Path, protocol_arg: str) -> None:
        def read(name: str) -> pd.DataFrame:
            return pd.read_csv(folder / name, dtype=str, keep_default_na=False)

        self.folder, self.trial_dir, self.protocol_arg = folder, trial_dir, protocol_arg
        self.dictionary = read("data_dictionary.csv")
        self.events = read("events.csv")
        self.mapping = read("instrument_event_mapping.csv")
        self.repeating = read("repeating_instruments.csv")
        self.records = read("records.csv")
        self.header = (folder / "records.csv").read_text(encoding="utf-8").splitlines()[0].split(",")

    def form_of_column(self) -> dict[str, str]:
        """Record column -> its form: a field, a checkbox option (``field___code``) or ``<form>_complete``."""
        form = dict(zip(self.dictionary[FIELD], self.dictionary["Form Name"], strict=True))
        out: dict[str, str] = {}
        for col in self.header[4:]:
            base = col.split("___")[0]
            if base in form:
                out[col] = form[base]
            elif col.endswith("_complete") and col.removesuffix("_complete") in set(form.values()):
                out[col] = col.removesuffix("_complete")
            else:
                raise AssertionError(f"records.csv column {col!r} is neither a field, a checkbox option nor a form's _complete")
        return out


@pytest.fixture(scope="module", params=["ketapain", "edge"])
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    root = tmp_path_factory.mktemp(f"redcap_{request.param}")
    if request.param == "ketapain":
        protocol_arg, n = "ketapain", 8
    else:
        toml = (resources.files("ketapain.protocol") / "files" / "ab_ba_example.toml").read_text(encoding="utf-8")
        at = toml.index("[diary]")
        (root / "edge.toml").write_text(toml[:at] + EXTRA_VISITS.lstrip() + toml[at:], encoding="utf-8")
        protocol_arg, n = str(root / "edge.toml"), 6
    trial_dir = root / "trial"
    simulate_trial(load_protocol(protocol_arg), n_patients=n, seed=5).write(trial_dir)  # a folder of CSV files
    out = root / "redcap"
    res = runner.invoke(app, ["export", str(trial_dir), "--format", "redcap-dictionary", "--out", str(out),
                              "--protocol", protocol_arg])
    assert res.exit_code == 0, res.output
    return Project(out, trial_dir, protocol_arg)


# --- events ----------------------------------------------------------------------------------


def test_unique_event_names_are_the_names_redcap_derives_from_the_labels(project: Project) -> None:
    """events.csv: REDCap builds ``unique_event_name`` from ``event_name`` (the label); the
    file must hold the names REDCap will have, in one arm, in creation order."""
    ev = project.events
    assert list(ev.columns) == ["event_name", "arm_num", "unique_event_name"]
    assert set(ev["arm_num"]) == {"1"}
    assert ev["unique_event_name"].tolist() == redcap_unique_event_names(ev["event_name"].tolist(), 1)
    assert ev["event_name"].is_unique


def test_edge_project_cuts_and_deduplicates_event_names(project: Project) -> None:
    """Hand-worked: "Follow up after treatment 1" -> "follow_up_after_treatment_1" -> first 18
    characters "follow_up_after_tr" -> ``follow_up_after_tr_arm_1``; the second such visit gets
    ``..._arm_1b``; the visit named period_1 is labelled "Visit period 1" so that it does not
    take the name of the event of period 1."""
    if project.protocol_arg == "ketapain":
        names = project.events["unique_event_name"].tolist()
        assert "inclusion_arm_1" in names and "end_period_1_arm_1" in names  # "Inclusion", "End period 1"
        return
    names = dict(zip(project.events["event_name"], project.events["unique_event_name"], strict=True))
    assert names["Follow up after treatment 1"] == "follow_up_after_tr_arm_1"
    assert names["Follow up after treatment 2"] == "follow_up_after_tr_arm_1b"
    assert names["Visit period 1"] == "visit_period_1_arm_1"
    assert names["Period 1"] == "period_1_arm_1"


def test_every_record_event_and_mapping_event_exists(project: Project) -> None:
    """Every ``redcap_event_name`` of records.csv and every ``unique_event_name`` of the
    instrument-event mapping is an event of events.csv (REDCap rejects an unknown event)."""
    known = set(project.events["unique_event_name"])
    assert set(project.records["redcap_event_name"]) <= known
    assert set(project.mapping["unique_event_name"]) <= known
    assert list(project.mapping.columns) == ["arm_num", "unique_event_name", "form"]
    assert set(project.mapping["form"]) <= set(project.dictionary["Form Name"])


# --- repeating instruments -------------------------------------------------------------------


def test_repeating_instruments_file(project: Project) -> None:
    """repeating_instruments.csv has REDCap's columns ``event_name, form_name,
    custom_form_label``; ``event_name`` is a unique event name and the form is designated for it."""
    rep = project.repeating
    assert list(rep.columns) == ["event_name", "form_name", "custom_form_label"]
    assert len(rep) > 0
    assert set(rep["event_name"]) <= set(project.events["unique_event_name"])
    designated = set(zip(project.mapping["unique_event_name"], project.mapping["form"], strict=True))
    assert set(zip(rep["event_name"], rep["form_name"], strict=True)) <= designated


def test_repeat_columns_match_the_repeating_setup(project: Project) -> None:
    """A row with ``redcap_repeat_instrument`` names a form repeating in that event and has a
    positive whole instance number; a row without one has no instance. One row per record x
    event x instrument x instance."""
    r = project.records
    repeating = set(zip(project.repeating["event_name"], project.repeating["form_name"], strict=True))
    rep_rows = r[r["redcap_repeat_instrument"] != ""]
    assert len(rep_rows) > 0
    pairs = set(zip(rep_rows["redcap_event_name"], rep_rows["redcap_repeat_instrument"], strict=True))
    assert pairs <= repeating
    assert rep_rows["redcap_repeat_instance"].str.fullmatch(r"[1-9]\d*").all()
    assert (r.loc[r["redcap_repeat_instrument"] == "", "redcap_repeat_instance"] == "").all()
    assert not r.duplicated(ID_COLUMNS).any()


# --- data cells ------------------------------------------------------------------------------


def test_every_data_cell_is_on_a_form_designated_for_its_event(project: Project) -> None:
    """REDCap refuses a value "on an instrument that is not designated for the event" (its
    import error, e.g. PyCap issue 142); ``<form>_complete`` counts as the form's. In a
    repeating row only that instrument's cells may be filled; in a plain row no cell of a form
    that repeats in that event."""
    r = project.records
    form_of = project.form_of_column()
    designated = pd.crosstab(project.mapping["unique_event_name"], project.mapping["form"]) > 0
    repeating = set(zip(project.repeating["event_name"], project.repeating["form_name"], strict=True))
    wrong_event: list[str] = []
    wrong_row: list[str] = []
    for col, form in form_of.items():
        filled = r[col] != ""
        ok_event = r["redcap_event_name"].map(designated[form]).fillna(False).astype(bool)
        bad = filled & ~ok_event
        wrong_event += [f"{col} @ {e}" for e in sorted(set(r.loc[bad, "redcap_event_name"]))]
        in_repeat = r["redcap_repeat_instrument"] != ""
        form_repeats_here = pd.Series([(e, form) in repeating for e in r["redcap_event_name"]], index=r.index)
        bad_row = filled & ((in_repeat & (r["redcap_repeat_instrument"] != form)) | (~in_repeat & form_repeats_here))
        wrong_row += [f"{col} row {i + 2}" for i in r.index[bad_row][:3]]
    assert wrong_event == []
    assert wrong_row == []


def _choices(text: str) -> list[tuple[str, str]]:
    """REDCap's choices string ``code, label | code, label`` as (code, label) pairs."""
    return [(code.strip(), label.strip()) for code, _sep, label in (part.partition(",") for part in text.split("|"))]


def test_coded_fields_hold_only_their_codes(project: Project) -> None:
    """yesno fields hold 1 or 0; radio and dropdown fields hold one of the codes of their
    choices string ``1, Label | 2, Label``, codes being whole numbers (issue 20 asked for
    numeric codes); a checkbox exports one ``field___code`` column per choice, each 1 or 0;
    ``<form>_complete`` is 0, 1 or 2. Blank is no value."""
    d, r = project.dictionary, project.records
    for row in d.itertuples(index=False):
        field, ftype, choices = row[0], row[3], row[5]
        if ftype == "yesno":
            assert set(r[field]) <= {"", "0", "1"}, field
        elif ftype in ("radio", "dropdown"):
            codes = [c for c, _label in _choices(choices)]
            assert all(re.fullmatch(r"\d+", c) for c in codes), (field, codes)
            assert len(set(codes)) == len(codes), field
            assert set(r[field]) - {""} <= set(codes), (field, sorted(set(r[field]) - set(codes)))
        elif ftype == "checkbox":
            codes = [c for c, _label in _choices(choices)]
            assert all(re.fullmatch(r"[A-Za-z0-9_]+", c) for c in codes), (field, codes)
            columns = [c for c in project.header if c.startswith(f"{field}___")]
            assert columns == [f"{field}___{c.lower()}" for c in codes]
            for c in columns:
                assert set(r[c]) <= {"", "0", "1"}, c
    for col in [c for c in project.header if c.endswith("_complete")]:
        assert set(r[col]) <= {"", "0", "1", "2"}, col


def test_validated_text_fields_hold_valid_text(project: Project) -> None:
    """Text fields with validation: ``integer`` whole numbers, ``number`` decimal numbers (a
    point, no exponent), ``date_ymd`` YYYY-MM-DD, ``time`` HH:MM (00:00-23:59); values within
    Text Validation Min/Max when given."""
    patterns = {"integer": r"-?\d+", "number": r"-?\d+(\.\d+)?", "date_ymd": r"\d{4}-\d{2}-\d{2}",
                "time": r"([01]\d|2[0-3]):[0-5]\d"}
    d, r = project.dictionary, project.records
    for row in d[d[VALIDATION] != ""].itertuples(index=False):
        field, validation, lo, hi = row[0], row[7], row[8], row[9]
        given = r.loc[r[field] != "", field]
        bad = given[~given.str.fullmatch(patterns[validation])]
        assert bad.empty, (field, bad.head(3).tolist())
        if validation == "date_ymd":
            assert pd.to_datetime(given, format="%Y-%m-%d", errors="coerce").notna().all(), field
        if validation in ("integer", "number"):
            num = given.astype(float)
            assert lo == "" or (num >= float(lo)).all(), (field, lo)
            assert hi == "" or (num <= float(hi)).all(), (field, hi)


# --- names and column order ------------------------------------------------------------------


def test_field_and_form_names_follow_redcaps_rules(project: Project) -> None:
    """Field names: lower-case letter first, then a-z, 0-9, _; at most 26 characters
    (REDCap's recommendation; 100 is its hard limit); unique. Form names: the same pattern.
    record_id is the first field (of the first form)."""
    names = project.dictionary[FIELD]
    pattern = re.compile(r"[a-z][a-z0-9_]*")
    assert [n for n in names if not pattern.fullmatch(n)] == []
    assert [n for n in names if len(n) > 26] == []
    assert names.str.len().max() <= 100
    assert names.is_unique
    assert all(pattern.fullmatch(f) for f in set(project.dictionary["Form Name"]))
    assert names.iloc[0] == "record_id"


def test_each_form_is_one_block_of_the_dictionary(project: Project) -> None:
    """REDCap keeps a form's fields together: a form name never reappears after another form."""
    forms = project.dictionary["Form Name"]
    starts = forms[forms != forms.shift()]
    assert starts.is_unique, starts[starts.duplicated()].tolist()


def test_upload_column_order(project: Project) -> None:
    """records.csv columns as REDCap exports (and imports) them: record_id,
    redcap_event_name, redcap_repeat_instrument, redcap_repeat_instance, then every field in
    dictionary order (a checkbox as one ``field___code`` column per choice, in choice order),
    each form's fields followed by ``<form>_complete``."""
    expected = list(ID_COLUMNS)
    d = project.dictionary
    for i, row in enumerate(d.itertuples(index=False)):
        field, form, ftype, choices = row[0], row[1], row[3], row[5]
        if field != "record_id":
            if ftype == "checkbox":
                expected += [f"{field}___{code.lower()}" for code, _label in _choices(choices)]
            else:
                expected.append(field)
        if i + 1 == len(d) or d.iloc[i + 1]["Form Name"] != form:
            expected.append(f"{form}_complete")
    assert project.header == expected


# --- and back --------------------------------------------------------------------------------


def test_import_with_the_shipped_mapping_gives_the_trial_back(project: Project, tmp_path: Path) -> None:
    """``ketapain import --format redcap`` with the project's mapping.json decodes the codes
    and gives back the trial folder's tables (rows in canonical order)."""
    back = tmp_path / "back"
    res = runner.invoke(app, ["import", str(project.folder / "records.csv"), "--format", "redcap", "--mapping",
                              str(project.folder / "mapping.json"), "--protocol", project.protocol_arg, "--out", str(back)])
    assert res.exit_code == 0, res.output
    original, again = canonical_order(TrialData.read(project.trial_dir)), TrialData.read(back)
    for name, table in original.to_tables().items():
        pd.testing.assert_frame_equal(again.table(name), table, obj=name)


def test_eligibility_answers_are_yes_no_fields(project: Project) -> None:
    """Issue 20: the true/false eligibility answers of the trial folder are ``yesno`` fields
    (they were free text holding True/False, read from CSV as text)."""
    screening = pd.read_csv(project.trial_dir / "screening.csv", dtype=str, keep_default_na=False)
    schema = {"screening_id", "screening_date", "dn4_total", "eligible", "outcome", "reason", "patient_id"}
    true_false = [c for c in screening.columns if c not in schema
                  and (screening[c] != "").any() and screening[c].str.lower().isin(["true", "false", ""]).all()]
    types = dict(zip(project.dictionary[FIELD], project.dictionary["Field Type"], strict=True))
    mapping = pd.read_json(project.folder / "mapping.json", typ="series")["fields"]
    field_of = {t["column"]: f for f, t in mapping.items() if t["table"] == "screening"}
    assert true_false, "the simulated screening log has true/false eligibility answers"
    assert {c: types[field_of[c]] for c in true_false} == dict.fromkeys(true_false, "yesno")
