"""``ketapain demo`` end to end: simulate KETAPAIN, analyse it, write the report; then check it.

One demo run (module fixture, through Typer's CliRunner) is inspected by every test:
every file the issue names exists; every table and figure of the document is written;
the numbers in the HTML tables are the numbers of ``results.json`` after the report's own
formatting functions; Table 2's cells equal the analysis' describe frame formatted; and a
real browser (Debian Chromium via Playwright) opens the report and finds Table 2.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import demo_pin
import pandas as pd
import pytest
import report_layout
import report_pdftext
from typer.testing import CliRunner

from ketapain.cli import app
from ketapain.data import TrialData
from ketapain.report import format_describe, format_number, format_p, format_ratio

SEED = 20200154


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    res = CliRunner().invoke(app, ["demo", "--out", str(out), "--seed", str(SEED), "--quiet"])
    assert res.exit_code == 0, res.output
    assert f"Report: {out / 'report' / 'index.html'}" in res.stdout
    return out


class _Tables(HTMLParser):
    """Cells of every ``<table id=...>``: {id: [[(tag, colspan, text), ...], ...]}."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, int, str]]]] = {}
        self._table: str | None = None
        self._row: list[tuple[str, int, str]] | None = None
        self._cell: tuple[str, int] | None = None
        self._text: list[str] = []
        self.in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = a.get("id") or ""
            self.tables[self._table] = []
        elif tag == "thead":
            self.in_head = True
        elif tag == "tbody":
            self.in_head = False
        elif tag == "tr" and self._table is not None and not self.in_head:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = (tag, int(a.get("colspan") or 1))
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append((*self._cell, "".join(self._text).strip()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._text.append(data)


def _html_tables(demo: Path) -> dict[str, list[list[tuple[str, int, str]]]]:
    parser = _Tables()
    parser.feed((demo / "report" / "index.html").read_text(encoding="utf-8"))
    return parser.tables


def test_demo_writes_every_output(demo: Path) -> None:
    data = TrialData.read(demo / "data")
    assert data.allocation["patient_id"].nunique() == 20
    assert data.meta["seed"] == str(SEED)
    report = demo / "report"
    for name in ("index.html", "report.pdf", "results.json"):
        assert (report / name).stat().st_size > 1000, name
    assert (report / "report.pdf").read_bytes()[:5] == b"%PDF-"
    csvs = {p.stem for p in (report / "tables").glob("*.csv")}
    for key in ("table1", "table2", "table3", "table4", "pairwise", "effect_sizes", "ae_by_arm", "ae_by_term",
                "responders", "blinding", "sensitivity_mar_daily_model", "sensitivity_multiple_imputation",
                "sensitivity_tipping_point"):
        assert key in csvs, key
    svgs = {p.stem for p in (report / "figures").glob("*.svg")}
    pngs = {p.stem for p in (report / "figures").glob("*.png")}
    assert svgs == pngs
    for prefix in ("consort", "patients_auc_avg_pain_d35", "patients_auc_avg_pain_d7", "patient_bars", "daily_avg_pain",
                   "forest_", "tipping_point"):
        assert any(s.startswith(prefix) for s in svgs), prefix


def test_every_table_in_the_html_has_its_csv(demo: Path) -> None:
    tables = _html_tables(demo)
    keys = {k.removeprefix("table-") for k in tables if k.startswith("table-")}
    csvs = {p.stem for p in (demo / "report" / "tables").glob("*.csv")}
    assert keys and keys <= csvs


def test_table2_cells_equal_the_analysis_describe_frame(demo: Path) -> None:
    results = json.loads((demo / "report" / "results.json").read_text())
    t2 = pd.DataFrame(results["tables"]["table2"])
    rows = [r for r in _html_tables(demo)["table-table2"] if len(r) > 1 and r[0][1] == 1]
    primary = t2[t2["endpoint"] == "auc_avg_pain_d35"].set_index("treatment")
    day35 = next(r for r in rows if r[0][2].startswith("Day 35"))
    assert [c[2] for c in day35[1:4]] == [format_describe(primary.loc[a].to_dict()) for a in ("P", "K", "KM")]
    models = pd.DataFrame(results["tables"]["models"])
    paper = models[(models["section"] == "table2") & (models["outcome"] == "auc_avg_pain_d35")
                   & (models["model"] == "paper") & models["used"]]
    assert day35[4][2] == format_p(paper["treatment_p"].iloc[0])


def test_provenance_block(demo: Path) -> None:
    html = (demo / "report" / "index.html").read_text(encoding="utf-8")
    block = html[html.index('id="provenance"'):]
    for key in ("data_sha256", "protocol_sha256", "seed", "ketapain", "python", "numpy", "date"):
        assert key in block, key
    # self-contained: no attribute loads anything from the network (SVG xmlns URIs are names, not fetches)
    assert re.findall(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', html) == []
    assert "@import" not in html


def test_browser_opens_the_report_and_finds_table2(demo: Path, chromium_page: Any) -> None:
    page = chromium_page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto((demo / "report" / "index.html").resolve().as_uri())
    caption = page.locator("#table-table2 caption")
    assert caption.inner_text().startswith("Table 2")
    assert page.locator("#table-table2 tbody tr").count() >= 7  # 5 windows + 2 items, plus group rows
    assert page.locator("#figure-consort svg").is_visible()
    assert all(u.startswith(("file://", "data:")) for u in requests)


# --------------------------------------------------------------------------- pins (see demo_pin.py)

ITERATIVE = ("results.sensitivity.mar_daily_model.", "results.sensitivity.mar_daily_means.",
             "results.sensitivity.omnibus.", "results.tables.responder_models.")
"""Frames fitted by iterative optimisers stopped at a tolerance: the daily mixed model of each
multiple imputation (REML by quasi-Newton; ``omnibus`` holds its F tests among the others, and
the fingerprint sums a column over all rows) and the logistic GLMMs (Laplace). Their last digits
follow the path the optimiser took, which BLAS's rounding on another CPU changes: between the
reference's machine and an AMD EPYC one they differed by up to 2.3e-6 relative (a Kenward-Roger
df, 342.8077 vs 342.8085); every closed-form number agreed to 1e-9. They are pinned to 1e-5."""


def _close(actual: Any, expected: Any, where: str, problems: list[str]) -> None:
    """Compare JSON values: numbers to 1e-9 relative (BLAS may differ in the last bits; 1e-5 for
    :data:`ITERATIVE` frames), the rest exactly."""
    if _is_num(actual) and _is_num(expected):
        rel = 1e-5 if where.startswith(ITERATIVE) else 1e-9
        if not math.isclose(float(actual), float(expected), rel_tol=rel, abs_tol=1e-9):
            problems.append(f"{where}: {actual!r} != {expected!r}")
    elif isinstance(expected, dict) and isinstance(actual, dict):
        if list(actual) != list(expected):
            problems.append(f"{where}: keys {list(actual)} != {list(expected)}")
        for k in expected:
            if k in actual:
                _close(actual[k], expected[k], f"{where}.{k}", problems)
    elif isinstance(expected, list) and isinstance(actual, list) and len(actual) == len(expected):
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _close(a, e, f"{where}[{i}]", problems)
    elif actual != expected:
        problems.append(f"{where}: {actual!r} != {expected!r}")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _reference(name: str) -> Any:
    return json.loads((demo_pin.REFERENCE / name).read_text(encoding="utf-8"))


def test_report_text_is_pinned(demo: Path) -> None:
    """The visible text of index.html equals the reference line by line (demo_pin.py says how
    the reference was made: the code before issue 15's structure work, seed 20200154, 20 patients)."""
    text = demo_pin.report_text((demo / "report" / "index.html").read_text(encoding="utf-8"))
    expected = (demo_pin.REFERENCE / "report_text.txt").read_text(encoding="utf-8").splitlines()
    assert len(text) > 400
    diff = [f"line {i + 1}:\n  got      {a!r}\n  expected {e!r}"
            for i, (a, e) in enumerate(zip(text, expected, strict=False)) if a != e]
    assert diff == [] and len(text) == len(expected), "\n".join(diff[:10]) + f"\n({len(text)} vs {len(expected)} lines)"


def test_results_json_is_pinned(demo: Path) -> None:
    """Every frame and mapping of results.json equals the reference fingerprint; settings and
    warnings equal their references verbatim (numbers to 1e-9 relative)."""
    results = json.loads((demo / "report" / "results.json").read_text(encoding="utf-8"))
    assert list(results) == ["study", "settings", "consort", "ae_overall", "blinding_overall", "tables",
                             "sensitivity", "warnings"]
    problems: list[str] = []
    _close(demo_pin.results_fingerprint(results), _reference("results_fingerprint.json"), "results", problems)
    _close(results["settings"], _reference("results_settings.json"), "settings", problems)
    _close(results["warnings"], _reference("results_warnings.json"), "warnings", problems)
    assert problems == [], "\n".join(problems[:20])


def test_warning_records_say_what_the_original_strings_said(demo: Path) -> None:
    """Warnings became records (section, outcome, kind, message...) instead of strings: same
    number, same order, and each record's category and message end the original string, whose
    "where" part names the record's section key or outcome (reference of commit 27591c3)."""
    records = json.loads((demo / "report" / "results.json").read_text(encoding="utf-8"))["warnings"]
    # issue 19: the responders' diary-day means (no pre-infusion anchor) add their own missing-AUC
    # warning, which the original strings could not have
    new = [r for r in records if (r["section"], r["kind"]) == ("responders", "imputation")]
    assert [(r["outcome"], r["day"]) for r in new] == [("auc_avg_pain_d7", 7)]
    records = [r for r in records if r not in new]
    original = _reference("results_warnings_original.json")
    # Issue 19 added 13 records, all from the logistic GLMMs, which now carry the linear models'
    # sequence (and period) terms and the shared degenerate-fit rules: 9 notes that rows of a
    # sequence whose patients all had the same outcome were left out, 2 not-estimable fits of
    # responders (IMMPACT-50 at days 7 and 35, standard model; with the responders defined on
    # the mean of the diary days, issue 19's report side, the day-7 paper-model fit became
    # estimable) and the 2 adverse-event fits whose random-intercept SD is on its boundary 0.
    # The 81 others are the original ones, in the original order.
    glmm = [r for r in records if r["section"] in ("responders", "adverse_events")
            and r["kind"] in ("rows_left_out", "not_estimable", "singular_fit")]
    assert len(records) == 94 and len(glmm) == 13
    assert sorted(r["kind"] for r in glmm) == ["not_estimable"] * 2 + ["rows_left_out"] * 9 + ["singular_fit"] * 2
    assert {(r["section"], r["outcome"], r["day"], r["model"]) for r in glmm if r["kind"] == "not_estimable"} == {
        ("responders", "immpact50", 7, "standard"), ("responders", "immpact50", 35, "standard")}
    records = [r for r in records if r not in glmm]
    assert len(records) == len(original) == 81
    for record, text in zip(records, original, strict=True):
        tail = (record["category"] + ": " if record["category"] else "") + record["message"]
        assert text.endswith(": " + tail), (record, text)
        where = text[: -len(tail) - 2]
        assert record["outcome"] in where and record["model"] in where, (record, text)
        assert ("log scale" in where) == (record["scale"] == "log"), (record, text)


def test_settings_values_give_back_the_original_sentences(demo: Path) -> None:
    """Settings became values; the report writes the sentences. Every sentence the settings
    carried at commit 27591c3 (reference results_settings_original.json) is what the report's
    wording functions now make of the values, and every plain value is unchanged."""
    from ketapain.analysis import analysis_settings
    from ketapain.protocol import load_protocol
    from ketapain.report import _paper_methods as words
    from ketapain.report._paper_methods import TABLE1_DEFINITIONS

    old = _reference("results_settings_original.json")
    results = json.loads((demo / "report" / "results.json").read_text(encoding="utf-8"))
    s = analysis_settings(load_protocol("ketapain"), seed=SEED)
    assert results["settings"] == json.loads(json.dumps(s.to_dict()))
    sentences = {
        "carryover_words": words.carryover_words(s), "pairwise_rule": words.pairwise_rule_words(s),
        "log_rule": words.log_rule_words(s), "descriptives": words.descriptives_words(s),
        "auc_time_axis_words": words.time_axis_words(s), "auc_method": words.auc_method_words(s),
        "responder_model": words.responder_model_words(s), "consecutive_test": words.consecutive_test_words(s),
        "blinding_index": words.blinding_index_words(s), "baseline_avg_pain": TABLE1_DEFINITIONS["baseline_avg_pain"],
        "models": {m: words.model_formula(s, m, results["study"]) for m in s.models},
        "effect_size_definitions": {k: words.effect_size_words(k) for k in s.effect_sizes},
        "responder_definitions": {d.name: words.responder_definition_words(d) for d in s.responder_definitions},
        "imputation": {e.name: {"value": e.value, "window_day": e.window_day, "impute": e.impute,
                                "words": words.imputation_words(e.impute), "kind": e.kind} for e in s.endpoints},
    }
    # Issue 19 changed four of these on purpose. The GLMMs now carry the linear models' fixed
    # effects (sequence; period in the standard model) with nAGQ 5: the responder-model sentence
    # names them, and is the old one with those words added. The new headline effect size
    # d_model has a definition of its own; the three old definitions are unchanged.
    # Descriptives are chosen per table row, and responders are the paper's definition and
    # IMMPACT's on the mean of the diary days (docs/responders.md).
    assert sentences["responder_model"] == old["responder_model"].replace(
        "responder ~ treatment (+ period", "responder ~ treatment + sequence (+ period").replace(
        "(1 | patient), adaptive Gauss-Hermite quadrature,", "(1 | patient), the fixed effects of the linear models, "
        "adaptive Gauss-Hermite quadrature with 5 points (nAGQ 5),")
    assert sentences["effect_size_definitions"].pop("d_model").startswith("model-based standardised difference d_model")
    changed = {"responder_model", "descriptives", "responder_definitions"}
    for key, value in sentences.items():
        if key not in changed:
            assert value == old[key], key
    assert sentences["descriptives"].startswith(old["descriptives"] + " in any group of a table row")
    assert list(sentences["responder_definitions"]) == ["paper_improved", "immpact30", "immpact50"]
    assert list(old["responder_definitions"]) == ["improved", "immpact30", "immpact50"]
    for key in ("model", "other_model", "carryover", "df_method", "estimation", "alpha", "conf_level", "multiplicity",
                "auc_units", "auc_time_axis", "primary_endpoint", "table1_variables", "responder_days",
                "related_causalities", "table3_model", "seed"):
        assert results["settings"][key] == old[key], key
    # issue 19: the headline effect size became d_model (d_z is still computed and shown beside it)
    assert (old["headline_effect_size"], results["settings"]["headline_effect_size"]) == ("d_z", "d_model")
    assert "d_z" in results["settings"]["effect_sizes"]
    assert set(old) - set(sentences) - set(results["settings"]) == set()  # every old key is accounted for
    sens, old_sens = results["settings"]["sensitivity"], old["sensitivity"]
    for key in ("endpoints", "mar_df_method", "n_imputations", "analysis_model", "analysis_df_method",
                "tipping_endpoint", "tipping_deltas", "tipping_shift_arms"):
        assert sens[key] == old_sens[key], key


# --------------------------------------------------------------------------- issue 19: model checks

_NOT_A_NUMBER = re.compile(r"\b(?:nan|inf)\b", re.IGNORECASE)


def _body_rows(demo: Path, key: str) -> list[list[str]]:
    """The rows of a table's body as texts (group rows included, as one cell)."""
    return [[c[2] for c in row] for row in _html_tables(demo)[f"table-{key}"]]


def test_model_checks_table_counts_and_lists_every_fit_that_is_not_ok(demo: Path) -> None:
    """Table "Model checks": per part of the analysis and in all, the number of fits of each
    status equals results.json's model_checks (tables and sensitivity); one row per fit that is
    not ok, the demo's not-estimable day-7 IMMPACT-50 fits among them, with their reasons."""
    from ketapain.report._paper_checks import readable_terms

    results = json.loads((demo / "report" / "results.json").read_text(encoding="utf-8"))
    checks = pd.DataFrame(results["tables"]["model_checks"])
    sens = pd.DataFrame(results["sensitivity"]["model_checks"])
    statuses = pd.concat([checks["status"], sens["status"]], ignore_index=True)
    rows = _body_rows(demo, "fit_status")
    html = (demo / "report" / "index.html").read_text(encoding="utf-8")
    assert re.search(r"<caption>Table \d+\. Model checks: status of every fit</caption>", html)
    every = next(r for r in rows if r[0] == "All analyses")
    n = statuses.value_counts()
    assert every[1] == f"{len(statuses)} fits"
    assert every[3] == (f"{n.get('ok', 0)} ok, {n.get('singular', 0)} singular, "
                        f"{n.get('not_estimable', 0)} not estimable")
    responders = next(r for r in rows if r[0] == "Responders")
    block = checks[checks["section"] == "responders"]["status"].value_counts()
    assert responders[1] == f"{int(block.sum())} fits"
    assert responders[3] == f"{block.get('ok', 0)} ok, {block.get('not_estimable', 0)} not estimable"
    sensitivity = {r[0]: r[1] for r in rows if r[0].startswith("Missing-data sensitivity")}
    per_analysis = sens["analysis"].value_counts()
    words = {"mar_daily_model": "daily model", "multiple_imputation": "multiple imputation",
             "tipping_point": "tipping point"}
    assert sensitivity == {f"Missing-data sensitivity ({words[a]})": f"{k} fit" + ("s" if k > 1 else "")
                           for a, k in per_analysis.items()}
    # one row per fit that is not ok, in the words of the report: no raw codes
    flagged = [r for r in rows if len(r) == 5 and r[3] in ("singular", "not estimable")]
    assert len(flagged) == int((statuses != "ok").sum()) > 0
    codes = re.compile(r"immpact50|table3|related_ae|adverse_events|_|\[|^paper$|^standard$")
    assert not any(codes.search(cell) for r in flagged for cell in r[:4])
    day7 = [r for r in flagged if r[0] == "Responders, day 7" and "50% reduction" in r[1]]
    expected = checks[(checks["section"] == "responders") & (checks["outcome"] == "immpact50") & (checks["day"] == 7)
                      & (checks["status"] != "ok")]
    # one fit: the standard model (the paper's model is estimable with the responders defined on
    # the mean of the diary days, issue 19's report side)
    assert len(day7) == len(expected) == 1 and {r[3] for r in day7} == {"not estimable"}
    assert sorted(r[4] for r in day7) == sorted(readable_terms(x) for x in expected["reason"])
    assert all("treatment[" not in r[4] and "SE of the log OR of treatment K" in r[4] for r in day7)


def test_odds_ratio_tables_say_not_estimable_and_left_out(demo: Path) -> None:
    """A responder or adverse-event fit that is not estimable (NaN in results.json) reads "not
    estimable" with a short reason pointing to the model checks table; a fit that left a
    sequence's rows out says how many observations of which sequences."""
    results = json.loads((demo / "report" / "results.json").read_text(encoding="utf-8"))
    models = pd.DataFrame(results["tables"]["responder_models"])
    rows = [r for r in _body_rows(demo, "responder_models") if len(r) == 7]
    assert len(rows) == len(models)
    for row, (_, m) in zip(rows, models.iterrows(), strict=True):
        if pd.isna(m["log_odds_ratio"]):
            assert row[4] == "not estimable" and row[5] == "–"
            assert row[6].startswith("not estimable") and re.search(r"\(full reason: Table \d+\)$", row[6])
            assert len(row[6]) < len(m["note"])  # shortened; the full text is in the model checks table
        else:
            assert row[4] == (f"{format_ratio(m['odds_ratio'])} [{format_ratio(m['or_ci_low'])}; "
                              f"{format_ratio(m['or_ci_high'])}]")
    # 2 fits (IMMPACT-50 at days 7 and 35, standard model) x 2 arms against placebo
    assert sum(r[4] == "not estimable" for r in rows) == int(models["log_odds_ratio"].isna().sum()) == 4
    ae = _body_rows(demo, "ae_models")
    assert all(r[4] == "9 observations of sequence K-P-KM left out: its patients all had the same outcome"
               for r in ae if len(r) == 5)


def test_methods_say_d_model_and_the_glmm_terms(demo: Path) -> None:
    """The headline effect size is d_model; the GLMM sentence names sequence and nAGQ 5, and says
    that rows were left out (the demo's fits left sequences out)."""
    text = "\n".join(demo_pin.report_text((demo / "report" / "index.html").read_text(encoding="utf-8")))
    methods = text[text.rindex("\n2Methods"):text.rindex("\n3Participants")]  # the sections, not the contents
    assert "Effect sizes (95% CI; headline: d_model): " in methods
    assert "responder ~ treatment + sequence (+ period in the standard model) + (1 | patient)" in methods
    assert "(nAGQ 5)" in methods and "whose patients all had the same outcome are left out of that fit" in methods
    assert "Effect sizes (d_model) at the primary endpoint" in text


def test_no_nan_or_inf_in_the_html_or_pdf_text(demo: Path) -> None:
    """NaN numbers (not-estimable fits, issue 19) never reach the reader as 'nan' or 'inf'."""
    from report_pdftext import pdf_text

    html = "\n".join(demo_pin.report_text((demo / "report" / "index.html").read_text(encoding="utf-8")))
    pdf = pdf_text((demo / "report" / "report.pdf").read_bytes())
    assert "not estimable" in html and "not estimable" in pdf
    # The Warnings section quotes the analysis' messages verbatim; one of them says in words that
    # some AUCs "are NaN" (a word of the message, not a number shown): those quotes are left out.
    messages = {w["message"] for w in json.loads((demo / "report" / "results.json").read_text())["warnings"]}
    quoted = [" ".join(m.split()) for m in messages if _NOT_A_NUMBER.search(m)]
    assert quoted
    for name, raw in (("html", html), ("pdf", pdf)):
        text = " ".join(raw.split())  # the PDF wraps lines
        assert all(m in text for m in quoted), name
        for m in quoted:
            text = text.replace(m, "")
        assert _NOT_A_NUMBER.findall(text) == [], name


def test_changed_tables_fit_a_1280_px_page(demo: Path, chromium_page: Any) -> None:
    """At 1280 px the model checks table (long reasons), the responder models (notes) and the
    effect sizes (four labelled kinds) wrap inside the page: no horizontal scrolling."""
    page = chromium_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto((demo / "report" / "index.html").resolve().as_uri())
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    for key in ("fit_status", "responder_models", "ae_models", "effect_sizes"):
        table = page.locator(f"#table-{key}")
        wrap = page.locator(f"#table-{key} >> xpath=..")
        assert table.bounding_box()["width"] <= wrap.bounding_box()["width"] + 0.5, key
    assert page.locator("#table-fit_status caption").inner_text().endswith("Model checks: status of every fit")
# --------------------------------------------------------------------------- every number traced (issue 19)

_TOKEN = re.compile(r"(?<![A-Za-z_\d.])-?\d+(?:\.\d+)?(?:e[-+]\d+)?")


def _display_roundings(v: float) -> set[str]:
    """Every way the report shows a number: 0-3 decimals (``DIGITS``), a P, an odds ratio, a
    count, an FMI to 2 significant digits (the tokens, as a cell's numbers are read)."""
    out = {format_number(v, d) for d in range(4)} | {format_ratio(v), format_p(v).replace("< ", "")}
    out.add(f"{v:#.2g}".rstrip("."))
    if float(v).is_integer():
        out.add(str(int(v)))
    return {t for text in out for t in _TOKEN.findall(text)}


ROW_KEYS: dict[str, tuple[str, ...]] = {
    "effect_sizes": ("outcome", "shown_a", "shown_b"), "responders": ("day", "definition"),
    "ae_by_arm": (), "ae_by_term": ("term",),
}
"""Tables whose rows pivot their data (a row shows one key's data rows across columns): the data
rows of an HTML row are those sharing these columns' values. Every other table's data rows are in
display order: an HTML row shows the next consecutive data rows (or, a pivot, the same ones as the
row before)."""


COUNTED = {"fit_status"}
"""Tables of counts over their data rows (fits by status), not of the rows' numbers: their counts
are checked against results.json by test_model_checks_table_counts_and_lists_every_fit_that_is_not_ok."""
_FULL_REASON = re.compile(r" \(full reason: Table \d+\)$")


def _row_tokens(path: Path) -> tuple[pd.DataFrame, list[set[str]]]:
    """The table's data and, per data row, the display roundings of its numbers."""
    frame = pd.read_csv(path)
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].dtype != bool]
    tokens = [{t for c in numeric if pd.notna(r[c]) for t in _display_roundings(float(r[c]))}
              for _, r in frame.iterrows()]
    return frame, tokens


def _unexplained_rows(key: str, rows: list[list[tuple[str, int, str]]], frame: pd.DataFrame,
                      tokens: list[set[str]]) -> list[str]:
    """The HTML rows of one table whose numbers are not display roundings of their own data rows.
    A cell that shows a text of the data (a GLMM's note, a model check's reason, in the report's
    words: ``short_note``, ``readable_terms``) is text: its numbers are the analysis' wording."""
    from ketapain.report._paper_checks import readable_terms, short_note

    strings = [v for c in frame.columns for v in frame[c].dropna() if isinstance(v, str)]
    texts = {t for x in strings for t in (x, readable_terms(x), short_note(x))}
    out = []
    if key in ROW_KEYS:
        keys = list(ROW_KEYS[key])
        groups = ([set().union(*(tokens[i] for i in idx)) for idx in frame.groupby(keys, sort=False).indices.values()]
                  if keys else [set().union(*tokens)])
        if key == "ae_by_term":   # an arm without the term is shown "0" (it has no data row)
            groups = [g | {"0"} for g in groups]
    body = []
    for row in rows:
        if len(row) == 1 or row[0][1] > 1:    # a group row spanning the table
            continue
        need = {t for _tag, _span, text in row[1:] if _FULL_REASON.sub("", text) not in texts
                for t in _TOKEN.findall(text.replace("−", "-"))}
        if not need:
            continue
        if key in ROW_KEYS:
            if not any(need <= g for g in groups):
                out.append(f"{key}: row {row[0][2]!r}: {sorted(need)}")
            continue
        body.append((row[0][2], need, len(row) - 1))
    if key in ROW_KEYS or not body:
        return out
    # The data rows, in display order, split into consecutive runs, one per HTML row (at most one
    # data row per cell), or a row showing the same run as the row before (a pivot); every data row
    # shown. Found by search; the first row that no split explains is reported.
    sys.setrecursionlimit(10_000)
    worst = [0]

    @functools.cache
    def fits(i: int, p: int, q: int) -> bool:
        if i == len(body):
            return p == len(tokens)
        worst[0] = max(worst[0], i)
        _label, need, width = body[i]
        if i and need <= set().union(*tokens[q:p]) and fits(i + 1, p, q):
            return True
        have: set[str] = set()
        for j in range(p, min(len(tokens), p + width)):
            have |= tokens[j]
            if need <= have and fits(i + 1, j + 1, p):
                return True
        return False

    if not fits(0, 0, 0):
        label, need, _width = body[worst[0]]
        out.append(f"{key}: row {label!r}: {sorted(need)} not explained by its data rows in order")
    return out


def test_every_number_in_every_html_table_is_a_rounding_of_its_own_data(demo: Path) -> None:
    """The rule (issue 19): each number in a table's body (label column and group rows aside) is
    the display rounding (``format_number`` to 0-3 decimals, ``format_p``, ``format_ratio``, a
    count, FMI to 2 significant digits) of a value of *that row's* data: the rows of the table's
    data (``tables/<key>.csv``: the unrounded results.json rows it shows, with the oriented
    ``shown_*`` numbers) that the row displays (``ROW_KEYS``); no negating or inverting on the way.
    A number of another row or table, a recomputed or a mis-rounded number fails."""
    report = demo / "report"
    tables = _html_tables(demo)
    checked = sum(len(_TOKEN.findall(c[2])) for rows in tables.values() for r in rows if len(r) > 1 for c in r[1:])
    unexplained = []
    for table_id, rows in tables.items():
        key = table_id.removeprefix("table-")
        if key in COUNTED:
            continue
        frame, tokens = _row_tokens(report / "tables" / f"{key}.csv")
        unexplained += _unexplained_rows(key, rows, frame, tokens)
    assert checked > 1500
    assert unexplained == []


def test_the_row_rule_catches_a_number_of_another_row(demo: Path) -> None:
    """Positive control of the rule above: Table 2 with two cells swapped between rows fails."""
    report = demo / "report"
    rows = [list(r) for r in _html_tables(demo)["table-table2"]]
    body = [i for i, r in enumerate(rows) if len(r) > 1]
    a, b = body[0], body[-1]
    rows[a][1], rows[b][1] = rows[b][1], rows[a][1]
    frame, tokens = _row_tokens(report / "tables" / "table2.csv")
    assert _unexplained_rows("table2", rows, frame, tokens) != []


def test_table_data_are_results_json_rows(demo: Path) -> None:
    """The data behind a table (its CSV) holds the results.json numbers: each numeric column a
    CSV shares with the results.json frame of the same name has only values of that frame."""
    report = demo / "report"
    results = json.loads((report / "results.json").read_text())
    frames = {**results["tables"], **{f"sensitivity_{k}": v for k, v in results["sensitivity"].items()}}
    compared = 0
    for path in sorted((report / "tables").glob("*.csv")):
        name = {"pairwise": "contrasts", "pairwise_table3": "contrasts", "model_checks": "models"}.get(path.stem, path.stem)
        if name not in frames:
            continue
        ref = pd.DataFrame(frames[name])
        frame = pd.read_csv(path)
        for col in frame.columns:
            if col in ref.columns and pd.api.types.is_float_dtype(frame[col]) and pd.api.types.is_numeric_dtype(ref[col]):
                values = ref[col].dropna().to_numpy(dtype=float)
                for x in frame[col].dropna():
                    compared += 1
                    assert math.isclose(x, values[abs(values - x).argmin()], rel_tol=1e-9, abs_tol=1e-12), (path.stem, col, x)
    assert compared > 1000


def test_table3_pairwise_comparisons_are_shown_when_the_gate_passes(demo: Path) -> None:
    """Issue 19, point 2: every Table 3 score whose omnibus P < alpha has its pairwise rows in the
    HTML, the PDF and a CSV; the Sidak-significant ones among them."""
    report = demo / "report"
    results = json.loads((report / "results.json").read_text())
    c = pd.DataFrame(results["tables"]["contrasts"])
    gated = c[(c["section"] == "table3") & c["shown"] & c["used"] & (c["model"] == "paper")]
    assert gated["outcome"].nunique() == 4 and (gated["p_sidak"] < 0.05).sum() == 4
    rows = _html_tables(demo)["table-pairwise_table3"]
    shown = [[cell[2] for cell in r] for r in rows if len(r) > 1]
    assert len(shown) == len(gated)
    assert sorted(r[3] for r in shown) == sorted(format_p(p) for p in gated["p_sidak"])
    assert set(pd.read_csv(report / "tables" / "pairwise_table3.csv")["outcome"]) == set(gated["outcome"])
    text = report_pdftext.pdf_text((report / "report.pdf").read_bytes())
    assert "Pairwise comparisons of the Table 3 scores" in text and "QDSA (McGill) affective" in text


def test_table3_marks_log_scale_p_values(demo: Path) -> None:
    """Issue 19, point 3: a P of a log-scale refit says so, and the untransformed P is given."""
    results = json.loads((demo / "report" / "results.json").read_text())
    m = pd.DataFrame(results["tables"]["models"])
    logged = m[(m["section"] == "table3") & (m["scale"] == "log") & m["used"] & (m["model"] == "paper")]
    assert set(logged["outcome"]) == {"sf36.MH", "psqi.c7_daytime"}
    rows = {r[0][2]: [c[2] for c in r] for r in _html_tables(demo)["table-table3"] if len(r) > 1}
    assert rows["SF-36 mental health"][-1] == format_p(logged.set_index("outcome").loc["sf36.MH", "treatment_p"]) + " (log)"
    assert sum(cells[-1].endswith("(log)") for cells in rows.values()) == 2
    html = (demo / "report" / "index.html").read_text(encoding="utf-8")
    identity = m[(m["section"] == "table3") & (m["outcome"] == "sf36.MH") & (m["scale"] == "identity") & (m["model"] == "paper")]
    assert f"SF-36 mental health {format_p(identity['treatment_p'].iloc[0])}" in html


def test_table2_gives_n_where_an_auc_is_missing(demo: Path) -> None:
    """Issue 19, point 6: a Table 2 cell with fewer AUCs than patients says its n."""
    results = json.loads((demo / "report" / "results.json").read_text())
    t2 = pd.DataFrame(results["tables"]["table2"])
    short = t2[t2["n_missing"] > 0]
    assert len(short) >= 5 and short["n"].min() == 16
    cells = " ".join(c[2] for r in _html_tables(demo)["table-table2"] for c in r)
    assert cells.count("(n = ") == len(short)
    for n in short["n"]:
        assert f"(n = {n})" in cells


def test_no_table_row_mixes_mean_sd_and_median_iqr(demo: Path) -> None:
    """Issue 19, point 8: within a row every cell is mean ± SD or every cell median [IQR]."""
    described = ("table-table1", "table-table2", "table-table3", "table-pain_before", "table-pain_before_period")
    median = re.compile(r"^-?[\d.]+ \[-?[\d.]+; -?[\d.]+\]")
    mixed, seen = [], set()
    for key, rows in _html_tables(demo).items():
        for r in rows if key in described else []:
            cells = [c[2] for c in r[1:]]
            kinds = {"mean_sd" if "±" in c else "median_iqr" for c in cells if "±" in c or median.match(c)}
            seen |= kinds
            if len(kinds) > 1:
                mixed.append((key, cells))
    assert mixed == [] and seen == {"mean_sd", "median_iqr"}


def _methods(demo: Path) -> list[str]:
    text = demo_pin.report_text((demo / "report" / "index.html").read_text(encoding="utf-8"))
    start, end = text.index("2Methods", 20), text.index("3Participants", 20)
    return text[start + 1:end]


def test_each_methods_sentence_corresponds_to_an_analysis_that_ran(demo: Path) -> None:
    """Issue 19, point 8: the methods claim only what results.json shows ran, and name the df
    method of each test with the test."""
    results = json.loads((demo / "report" / "results.json").read_text())
    tables, settings, sens = results["tables"], results["settings"], results["sensitivity"]
    methods = _methods(demo)
    text = " ".join(methods)
    models = pd.DataFrame(tables["models"])
    # the linear mixed models: the df method stated is the one every fit used; not "every test"
    assert set(models["df_method"]) == {"kenward-roger"}
    assert "Kenward-Roger method" in text and "every test and interval" not in text
    # other tests, with their own df: the logistic models' z tests, Welch, the sensitivity analyses
    if tables["responder_models"] or tables["ae_models"]:
        assert "logistic mixed models use Wald z tests" in text
    welch = [t for t in tables["consecutive_tests"] if t["test"] == "welch_t"]
    assert welch and not float(welch[0]["df"]).is_integer() and "Welch t-test, Welch-Satterthwaite df" in text
    assert "Satterthwaite df" in next(p for p in methods if p.startswith("Missing-data sensitivity"))
    # the sequence x treatment test of a model without period is said to be mostly period
    assert "paper" in {m for m, t in settings["models"].items() if "period" not in t["fixed"]}
    assert "mostly a test of period" in text
    # each analysis named in the methods ran, and each that ran is named
    named = {
        "Pairwise comparisons.": bool(tables["contrasts"]),
        "Responders at": bool(tables["responders"]),
        "Consecutive versus separated active periods": bool(tables["consecutive_tests"]),
        "Treatment-related adverse events per patient and period": bool(tables["ae_models"]),
        "Blinding index": bool(tables["blinding"]),
        "likelihood-based analysis of the daily pain": "mar_daily_model" in sens,
        "multiple imputation of the missing diary days": "multiple_imputation" in sens,
        "tipping-point analysis": "tipping_point" in sens,
    }
    for words, ran in named.items():
        assert (words in text) == ran, words
    n_imp = {r["n_imputations"] for r in sens["multiple_imputation"]}
    assert n_imp == {settings["sensitivity"]["n_imputations"]} and f"{n_imp.pop()} imputations" in text
    responders = pd.DataFrame(tables["responders"])
    days = ", ".join(str(d) for d in pd.unique(responders["day"]))
    assert f"Responders at days {days}: " in text
    for definition in pd.unique(responders["definition"]):
        assert f"{definition}: " in text
    kinds = {r["kind"] for r in tables["effect_sizes"]}
    effect = next(p for p in methods if p.startswith("Effect sizes"))
    assert all(f"{k}: " in effect for k in kinds)


# --------------------------------------------------------------------------- layout (issue 19, point 9)

A4_MARGIN_MM = 15
A4_TEXT_PX = round((210 - 2 * A4_MARGIN_MM) / 25.4 * 96)   # the A4 text width in CSS px (680)
ORPHAN_PT = 60.0
"""A heading whose top is less than this above the bottom margin has nothing of its section under
it on that page (a heading line and two of text need about 60 pt)."""


def test_no_table_is_wider_than_the_page_at_1280px_or_on_a4(demo: Path, chromium_page: Any, tmp_path: Path) -> None:
    """Every display table fits its container and the main column in a 1280 px window and in
    print at the A4 text width (the "Model checks" and "Multiple imputation" tables were cut off)."""
    page = chromium_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto((demo / "report" / "index.html").resolve().as_uri())
    assert page.locator("table.display").count() > 20
    assert report_layout.overflowing_tables(page) == []
    page.locator("#table-model_checks").screenshot(path=str(tmp_path / "model_checks_1280.png"))
    page.emulate_media(media="print")
    page.set_viewport_size({"width": A4_TEXT_PX, "height": 1000})
    assert report_layout.overflowing_tables(page) == []


def test_no_heading_is_left_at_the_bottom_of_a_printed_page(demo: Path, chromium_page: Any) -> None:
    """Chromium prints the HTML on A4: each heading (read from the PDF outline) has room for the
    start of its section below it on its page."""
    page = chromium_page
    page.goto((demo / "report" / "index.html").resolve().as_uri())
    margin = f"{A4_MARGIN_MM}mm"
    pdf = page.pdf(format="A4", outline=True, tagged=True,
                   margin={"top": margin, "bottom": margin, "left": margin, "right": margin})
    headings, n_pages = report_layout.pdf_headings(pdf)
    assert n_pages > 10 and len(headings) > 15
    bottom = A4_MARGIN_MM / 25.4 * 72
    orphans = [h for h in headings if h.top - bottom < ORPHAN_PT]
    assert orphans == []


def test_the_pdf_never_ends_a_page_with_a_heading(demo: Path) -> None:
    """The fpdf2 PDF keeps each heading with its first block: no page whose text (the footer
    aside) ends with a section heading, and no blank page (a lone "4 Pain outcomes" page came
    before Table 2's landscape page)."""
    pdf = (demo / "report" / "report.pdf").read_bytes()
    pages = report_pdftext.pdf_page_texts(pdf)
    title = json.loads((demo / "report" / "results.json").read_text())["study"]["title"]
    toc = (demo / "report" / "index.html").read_text(encoding="utf-8")
    headings = [f"{n} {t}" for n, t in re.findall(r'<span class="secnum">([\d.]+)</span>([^<]+)</a>', toc)]
    assert "4 Pain outcomes" in headings and len(headings) > 15
    problems = []
    for i, text in enumerate(pages, start=1):
        body = text.removesuffix(f"{title} · page {i} of {len(pages)}").strip()
        if not body:
            problems.append(f"page {i} is blank")
        elif any(body.endswith(h) for h in headings):
            problems.append(f"page {i} ends with a heading: {body[-60:]!r}")
    assert len(pages) > 10
    assert problems == []


def test_sensitivity_and_warnings_sections_use_words_not_identifiers(demo: Path) -> None:
    """Issue 19, point 9: the sensitivity tables and the warnings show labels, not column names,
    endpoint keys or warning classes."""
    text = demo_pin.report_text((demo / "report" / "index.html").read_text(encoding="utf-8"))
    start = text.index("10Missing-data sensitivity analyses", 20)
    end = next(i for i, line in enumerate(text) if i > start and re.fullmatch(r"\d+Model checks", line))
    sens, warn = text[start:end], text[next(i for i, line in enumerate(text) if i > start and re.fullmatch(r"\d+Warnings", line)):]
    raw = ("auc_avg_pain", "avg_pain", "window day", "mar_daily_model", "multiple_imputation", "n missing days",
           "ci low", "p value")
    classes = ("Warning:", "SingularFitWarning", "TwoStageTestingWarning", "ImputationWarning")
    found = [(r, line) for line in sens for r in raw if r in line]
    found += [(r, line) for line in warn for r in classes if r in line]
    assert found == []
    assert "FMI" in " ".join(sens) and "Two-stage carry-over testing (warning)" in " ".join(warn)
