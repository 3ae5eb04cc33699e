"""``ketapain demo`` end to end: simulate KETAPAIN, analyse it, write the report; then check it.

One demo run (module fixture, through Typer's CliRunner) is inspected by every test:
every file the issue names exists; every table and figure of the document is written;
the numbers in the HTML tables are the numbers of ``results.json`` after the report's own
formatting functions; Table 2's cells equal the analysis' describe frame formatted; and a
real browser (Debian Chromium via Playwright) opens the report and finds Table 2.
"""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import demo_pin
import pandas as pd
import pytest
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


def _numbers(obj: Any) -> list[float]:
    if isinstance(obj, bool) or obj is None:
        return []
    if isinstance(obj, (int, float)):
        return [float(obj)]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _numbers(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _numbers(v)]
    return []


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


def _strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [x for v in obj.values() for x in _strings(v)]
    if isinstance(obj, list):
        return [x for v in obj for x in _strings(v)]
    return []


def test_numbers_in_html_tables_come_from_results_json(demo: Path) -> None:
    """Each number in a table body (label column and group rows excepted) is a results.json
    value formatted by the report (to 0-3 decimals, possibly negated or inverted as the report
    orients contrasts; odds ratios in e-notation when extreme). A cell that says a text of
    results.json (a model check's reason, a GLMM's note), in the report's words, is text: its
    numbers are the analysis' own wording (issue 19 added these texts)."""
    from ketapain.report._paper_checks import readable_terms, short_note

    results = json.loads((demo / "report" / "results.json").read_text())
    texts = {t for x in _strings(results) for t in (x, readable_terms(x), short_note(x))}
    allowed: set[str] = set()
    for x in _numbers(results):
        for v in (x, -x, 1 / x if x else math.nan):
            if math.isfinite(v):
                allowed.update(format_number(v, d) for d in range(4))
                allowed.add(format_ratio(v))  # odds ratios: 2 decimals, or 3 significant digits in e-notation
    checked = 0
    unexplained: list[str] = []
    for key, rows in _html_tables(demo).items():
        for row in rows:
            if len(row) == 1 or row[0][1] > 1:  # a group row spanning the table
                continue
            for _tag, _span, text in row[1:]:
                if re.sub(r" \(full reason: Table \d+\)$", "", text) in texts:
                    continue
                for token in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]\d+)?", text.replace("−", "-")):
                    checked += 1
                    if token not in allowed and token.lstrip("-") not in allowed:
                        unexplained.append(f"{key}: {token!r} in {text!r}")
    assert checked > 500
    assert unexplained == []


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
    original = _reference("results_warnings_original.json")
    # Issue 19 added 14 records, all from the logistic GLMMs, which now carry the linear models'
    # sequence (and period) terms and the shared degenerate-fit rules: 9 notes that rows of a
    # sequence whose patients all had the same outcome were left out, 3 not-estimable fits of
    # responders (day-7 IMMPACT-50 in both models, day-35 IMMPACT-50 standard model) and the
    # 2 adverse-event fits whose random-intercept SD is on its boundary 0. The 81 others are
    # the original ones, in the original order.
    glmm = [r for r in records if r["section"] in ("responders", "adverse_events")
            and r["kind"] in ("rows_left_out", "not_estimable", "singular_fit")]
    assert len(records) == 95 and len(glmm) == 14
    assert sorted(r["kind"] for r in glmm) == ["not_estimable"] * 3 + ["rows_left_out"] * 9 + ["singular_fit"] * 2
    assert {(r["section"], r["outcome"], r["day"], r["model"]) for r in glmm if r["kind"] == "not_estimable"} == {
        ("responders", "immpact50", 7, "paper"), ("responders", "immpact50", 7, "standard"),
        ("responders", "immpact50", 35, "standard")}
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
    # Issue 19 changed two of these on purpose. The GLMMs now carry the linear models' fixed
    # effects (sequence; period in the standard model) with nAGQ 5: the responder-model sentence
    # names them, and is the old one with those words added. The new headline effect size
    # d_model has a definition of its own; the three old definitions are unchanged.
    assert sentences["responder_model"] == old["responder_model"].replace(
        "responder ~ treatment (+ period", "responder ~ treatment + sequence (+ period").replace(
        "(1 | patient), adaptive Gauss-Hermite quadrature,", "(1 | patient), the fixed effects of the linear models, "
        "adaptive Gauss-Hermite quadrature with 5 points (nAGQ 5),")
    assert sentences["effect_size_definitions"].pop("d_model").startswith("model-based standardised difference d_model")
    for key, value in sentences.items():
        if key != "responder_model":
            assert value == old[key], key
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
    sensitivity = next(r for r in rows if r[0].startswith("Missing-data sensitivity"))
    assert sensitivity[1] == f"{len(sens)} fits"
    # one row per fit that is not ok, in the words of the report: no raw codes
    flagged = [r for r in rows if len(r) == 5 and r[3] in ("singular", "not estimable")]
    assert len(flagged) == int((statuses != "ok").sum()) > 0
    codes = re.compile(r"immpact50|table3|related_ae|adverse_events|_|\[|^paper$|^standard$")
    assert not any(codes.search(cell) for r in flagged for cell in r[:4])
    day7 = [r for r in flagged if r[0] == "Responders, day 7" and "50% reduction" in r[1]]
    expected = checks[(checks["section"] == "responders") & (checks["outcome"] == "immpact50") & (checks["day"] == 7)]
    assert len(day7) == len(expected) == 2 and {r[3] for r in day7} == {"not estimable"}
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
    assert sum(r[4] == "not estimable" for r in rows) == int(models["log_odds_ratio"].isna().sum()) == 6
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
