"""Reports of other trials read right (issue 18): a two-arm AB/BA trial that is not the reference
study, and the reference protocol under another name.

What a statistician found in such a report, and what is checked here instead:

* figures numbered 2 then 4 (Figure 3 not shown) -> tables and figures are numbered when the
  report is rendered, in order of appearance, in the HTML and the PDF alike, and text that
  refers to them follows (:func:`ketapain.report.number_document`);
* "1 serious events (1 patients)" -> every count goes through one helper
  (:func:`ketapain.report.format_count`);
* "PGIC PGIC (1-7)" -> no label repeats a word sequence (:func:`ketapain.report.without_repeats`);
* methods describing an analysis that was not run -> each methods paragraph belongs to an
  analysis whose results are in the results object;
* the reference study named in another trial's report -> title, headings, model names and
  methods come from the protocol; no "KETAPAIN", "ketamine", "paper's model"... anywhere.

The two-arm trial is simulated from a protocol made here (21-day periods, diary items avg_pain
and max_pain only, DN4/BPI/HADS/PGIC, adverse events), run through the real analysis and
writers.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd
import pytest
from demo_pin import REFERENCE, report_text
from hypothesis import given, settings
from hypothesis import strategies as st
from report_pdftext import pdf_text

from ketapain.analysis import AnalysisResults, AnalysisWarning
from ketapain.data import TrialData
from ketapain.errors import DataError
from ketapain.protocol import Protocol, load_protocol
from ketapain.report import (
    DisplayTable,
    Document,
    FigureBlock,
    Paragraph,
    Section,
    TrialReport,
    format_count,
    number_document,
    paper_document,
    plural,
    render_html,
    render_pdf,
    validate_document,
    without_repeats,
    write_report,
    write_trial_report,
)
from ketapain.report import _paper_labels as labels
from ketapain.report._html import figure_png
from ketapain.simulate import simulate_trial

PROV = {"ketapain": "0.1.0", "date": "2024-01-01T00:00:00Z"}
CAPTION = re.compile(r"\b(Table|Figure) (\d+)\. ")
REFERENCE_WORDS = re.compile(r"(?-i:KETAPAIN)|ketamine|magnesium|Pickering|Anesthesiology|NCT02467517|paper's model|"
                             r"published specification", re.IGNORECASE)
"""The reference study's name (the software is called ketapain, in lower case), drugs,
publication, registration and the words that refer to its paper."""


def oral_protocol() -> Protocol:
    """A two-arm AB/BA trial: drug Z versus placebo, 21-day periods, average and maximal pain."""
    d = load_protocol("ab_ba_example").model_dump(mode="json")
    d["study"].update(id="oral_ab_ba", title="Oral drug Z versus placebo: a randomised AB/BA crossover")
    d["arms"][0].update(code="Z", name="drug Z")
    d["design"].update(period_days=21, washout_days=7)
    d["diary"].update(items=["avg_pain", "max_pain"], days_per_period=21)
    d["auc"].update(windows=[21])
    d["endpoints"] = [
        {"name": "auc_avg_pain_d21", "kind": "primary", "value": "avg_pain", "window_day": 21, "impute": "locf"},
        {"name": "auc_max_pain_d21", "kind": "secondary", "value": "max_pain", "window_day": 21, "impute": "locf"},
    ]
    # blinding at the last visit: the simulator writes it only where a visit lists it (issue 18)
    d["visits"] = [{"name": "inclusion", "day": -14, "questionnaires": ["dn4", "bpi", "hads"]},
                   {"name": "end_period_1", "day": 21, "questionnaires": ["bpi", "hads", "pgic"]},
                   {"name": "end_period_2", "day": 49, "questionnaires": ["bpi", "hads", "pgic", "blinding"]}]
    return Protocol.model_validate(d)


def renamed_reference_protocol() -> Protocol:
    """The reference protocol under another id, title and arm names (no registration, no citation)."""
    d = load_protocol("ketapain").model_dump(mode="json")
    d["study"].update(id="other_trial", title="Drug X and drug Y for neuropathic pain: a crossover trial",
                      registration=None, reference=None)
    names = {"placebo": "placebo", "ketamine": "drug X", "ketamine/magnesium": "drug X + drug Y"}
    for arm in d["arms"]:
        arm["name"] = names[arm["name"]]
    for criterion in d["eligibility"]["criteria"]:
        criterion["text"] = criterion["text"].replace("ketamine", "drug X").replace("magnesium", "drug Y")
    return Protocol.model_validate(d)


@pytest.fixture(scope="module")
def oral_data() -> TrialData:
    return simulate_trial(oral_protocol(), n_patients=12, seed=4)


@pytest.fixture(scope="module")
def oral(oral_data: TrialData, tmp_path_factory: pytest.TempPathFactory) -> TrialReport:
    """The two-arm trial's full report (sensitivity analyses and PDF included)."""
    return write_trial_report(oral_data, oral_protocol(), tmp_path_factory.mktemp("oral") / "report", seed=7)


def _shown(doc: Document) -> Iterator[Any]:
    """Every block of ``doc`` as it is shown (numbered), sections included, in order."""
    def rec(blocks: tuple[Any, ...]) -> Iterator[Any]:
        for b in blocks:
            yield b
            if isinstance(b, Section):
                yield from rec(b.blocks)

    yield from rec(number_document(doc).sections)


def _methods(results: AnalysisResults) -> list[str]:
    doc = paper_document(results, provenance=PROV)
    section = next(b for b in _shown(doc) if isinstance(b, Section) and b.key == "methods")
    return [b.text for b in section.blocks if isinstance(b, Paragraph)]


def _captions(text: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {"Table": [], "Figure": []}
    for m in CAPTION.finditer(text):
        out[m[1]].append(int(m[2]))
    return out


def _html_text(report: Path) -> str:
    return "\n".join(report_text((report / "index.html").read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- pluralisation

@pytest.mark.parametrize(("n", "singular", "plural_form", "expected"), [
    (1, "serious event", None, "1 serious event"), (0, "serious event", None, "0 serious events"),
    (2, "patient", None, "2 patients"), (1, "analysis", "analyses", "1 analysis"),
    (3, "analysis", "analyses", "3 analyses"), (1.0, "day", None, "1 day"), (None, "patient", None, "– patients"),
])
def test_format_count(n: Any, singular: str, plural_form: str | None, expected: str) -> None:
    assert format_count(n, singular, plural_form) == expected


def test_plural_agrees_verbs_and_nouns_with_the_count() -> None:
    assert [plural(n, "was", "were") for n in (0, 1, 2)] == ["were", "was", "were"]
    assert plural(1, "kind") == "kind" and plural(21, "kind") == "kinds"


def test_counts_in_the_report_are_pluralised(oral: TrialReport) -> None:
    """One serious event in one patient, one event, one warning: all singular; nowhere "1 <plural>"."""
    r = oral.results
    overall = {**r.ae_overall, "n_serious_events": 1, "n_patients_serious": 1, "n_events": 1, "n_patients": 1,
               "n_patients_without_any_ae": 0, "n_patients_with_related_ae": 1}
    warning = AnalysisWarning(section="table2", outcome=r.settings.primary_endpoint, kind="singular_fit",
                              message="boundary (singular) fit", category="SingularFitWarning", model=r.settings.model)
    one = dataclasses.replace(r, ae_overall=MappingProxyType(overall), warnings=(warning,),
                              study=MappingProxyType({**r.study, "n_patients": 1}))
    text = "\n".join(b.text for b in _shown(paper_document(one, provenance=PROV)) if isinstance(b, Paragraph))
    assert "1 serious event (1 patient)" in text and "1 event in all" in text
    assert "1 patient was analysed" in text
    assert "1 warning or note was raised" in text and "1 warning or note of 1 kind." in text
    plural_after_one = re.compile(r"(?<![\d.])1 (patients|events|serious events|warnings|days|periods|kinds|were)\b")
    assert plural_after_one.findall(text) == []
    assert plural_after_one.findall(_html_text(oral.files.out_dir)) == []


# --------------------------------------------------------------------------- labels

def test_without_repeats_examples() -> None:
    assert without_repeats("PGIC PGIC (1-7)") == "PGIC (1-7)"
    assert without_repeats("  HADS anxiety anxiety") == "  HADS anxiety"
    assert without_repeats("BPI pain severity") == "BPI pain severity"
    assert without_repeats("Day 7 7") == "Day 7 7"          # numbers may repeat (a list of days)


_WORDS = st.lists(st.sampled_from(["PGIC", "pgic", "BPI", "pain", "(1-7)", "7", "a"]), max_size=10)


@given(_WORDS)
def test_without_repeats_leaves_no_adjacent_repeat_and_is_stable(words: list[str]) -> None:
    out = without_repeats(" ".join(words))
    assert without_repeats(out) == out
    folded = [w.casefold() for w in out.split()]
    for i in range(len(folded)):
        for size in range(1, (len(folded) - i) // 2 + 1):
            chunk = folded[i:i + size]
            assert not (chunk == folded[i + size:i + 2 * size] and any(c.isalpha() for w in chunk for c in w))


def _labels(doc: Document) -> list[str]:
    out: list[str] = []
    for b in _shown(doc):
        if isinstance(b, Section):
            out.append(b.title)
        elif isinstance(b, DisplayTable):
            out += [b.title, *b.header, *(row[0] for row in b.rows)]
        elif isinstance(b, FigureBlock):
            out += [b.title, b.caption]
    return out


def test_no_label_repeats_a_word_sequence(oral: TrialReport, monkeypatch: pytest.MonkeyPatch) -> None:
    """Headings, row labels, titles and captions never say a word sequence twice in a row, even
    when an instrument's score label starts with the instrument's own label."""
    real = labels.get_instrument

    class Repeating:
        """PGIC declared with a score label that starts with the instrument's label: "PGIC (1-7)"
        (the instrument's score_label joins them: "PGIC PGIC (1-7)")."""

        def __init__(self, name: str) -> None:
            self.instrument = real(name)
            self.label = self.instrument.label

        def score_label(self, score: str) -> str:
            if self.instrument.name == "pgic":
                return f"{self.label} {self.label} (1-7)"
            return self.instrument.score_label(score)

    monkeypatch.setattr(labels, "get_instrument", Repeating)
    assert labels.score_label("pgic.rating") == "PGIC (1-7)"
    doc = paper_document(oral.results, provenance=PROV)
    table3 = next(b for b in _shown(doc) if isinstance(b, DisplayTable) and b.key == "table3")
    assert "  PGIC (1-7)" in [row[0] for row in table3.rows]
    bad = [x for x in _labels(doc) if without_repeats(x) != x]
    assert bad == []


# --------------------------------------------------------------------------- numbering

def _png() -> Any:
    from ketapain.report import plot_forest

    frame = pd.DataFrame({"label": ["a"], "estimate": [0.1], "ci_low": [-0.2], "ci_high": [0.4]})
    return plot_forest(frame, xlabel="x").figure


_PNG: dict[str, bytes] = {}


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["table", "figure"]), st.booleans()), min_size=1, max_size=8))
def test_numbers_are_consecutive_whatever_is_shown(blocks: list[tuple[str, bool]]) -> None:
    """Numbered blocks of each kind read 1, 2, 3... in order; unnumbered ones take no number;
    a reference placed before the block it names gets that block's number."""
    figure = _png()
    items: list[Any] = []
    for i, (kind, numbered) in enumerate(blocks):
        key = f"{kind}{i}"
        items.append(Paragraph(f"See {{{kind}:{key}}} below.") if numbered else Paragraph("No reference."))
        if kind == "table":
            items.append(DisplayTable(key=key, title=f"T{i}", header=("a",), rows=(), data=pd.DataFrame(),
                                      numbered=numbered))
        else:
            items.append(FigureBlock(key=key, title=f"F{i}", caption="", figure=figure, numbered=numbered))
    doc = Document(title="T", subtitle="", provenance={}, results={}, sections=(Section("S", tuple(items)),))
    validate_document(doc)
    shown = number_document(doc).sections[0].blocks
    expected = {"table": 0, "figure": 0}
    for i, (kind, numbered) in enumerate(blocks):
        ref, block = shown[2 * i], shown[2 * i + 1]
        assert isinstance(ref, Paragraph) and isinstance(block, DisplayTable | FigureBlock)
        if numbered:
            expected[kind] += 1
            assert block.title == f"{kind.capitalize()} {expected[kind]}. {kind[0].upper()}{i}"
            assert ref.text == f"See {kind.capitalize()} {expected[kind]} below."
        else:
            assert block.title == f"{kind[0].upper()}{i}"
    # the writers show the same numbers, in order: HTML and PDF text
    png = _PNG.setdefault("png", figure_png(figure))
    keys = [f"{kind}{i}" for i, (kind, _) in enumerate(blocks) if kind == "figure"]
    html = "\n".join(report_text(render_html(doc, dict.fromkeys(keys, "<svg></svg>"))))
    pdf = pdf_text(render_pdf(doc, dict.fromkeys(keys, png)))
    for text in (html, pdf):
        found = _captions(text)
        assert found == {"Table": list(range(1, expected["table"] + 1)), "Figure": list(range(1, expected["figure"] + 1))}


def test_a_reference_to_a_block_not_shown_is_refused() -> None:
    doc = Document(title="T", subtitle="", provenance={}, results={},
                   sections=(Section("S", (Paragraph("Scores ({table:table3}) were compared."),)),))
    with pytest.raises(DataError, match=r"refers to table 'table3', which is not a numbered table"):
        validate_document(doc)


def _check_numbering(text: str, *, figures: int, tables: int) -> None:
    found = _captions(text)
    assert found["Figure"] == list(range(1, figures + 1)), found
    assert found["Table"] == list(range(1, tables + 1)), found


def test_two_arm_report_numbers_what_it_shows_in_html_and_pdf(oral: TrialReport) -> None:
    """CONSORT, the primary endpoint per patient and its bars: Figures 1-3 (the item has one
    window, so there is no second per-patient figure); Tables 1-4 and the model checks (Table 5,
    numbered since issue 19); references follow."""
    out = oral.files.out_dir
    html, pdf = _html_text(out), pdf_text((out / "report.pdf").read_bytes())
    for text in (html, pdf):
        _check_numbering(text, figures=3, tables=5)
        assert "Table 5. Model checks: status of every fit" in text
        assert "Figure 1. CONSORT flow diagram" in text and "Figure 2. AUC of average pain at day 21 (LOCF) per patient" in text
        assert "Figure 3. AUC of average pain at day 21 (LOCF): bars per patient" in text
        assert "Pairwise comparisons of the Table 2 endpoints" in text and "Questionnaire scores (Table 3)" in text


def test_without_consort_and_questionnaires_the_numbers_close_up(oral: TrialReport, tmp_path: Path) -> None:
    """The statistician's report (no screening log): Figures 1-2, not 2 and 4; without Table 3
    the analgesics table is Table 3 and the methods no longer refer to questionnaires."""
    r = oral.results
    fewer = dataclasses.replace(r, consort_flow=None, consort=MappingProxyType({}), table3=r.table3.iloc[0:0],
                                models=r.models[r.models["section"] != "table3"])
    files = write_report(paper_document(fewer, provenance=PROV), tmp_path / "report")
    html, pdf = _html_text(files.out_dir), pdf_text((files.out_dir / "report.pdf").read_bytes())
    for text in (html, pdf):
        # the model checks table (numbered since issue 19) closes up too: Table 4, not 5
        _check_numbering(text, figures=2, tables=4)
        assert "Figure 1. AUC of average pain at day 21 (LOCF) per patient" in text
        assert "Table 3. Analgesics added during each treatment period" in text
        assert "Table 4. Model checks: status of every fit" in text
        assert "Questionnaire scores (Table" not in text and "Table 5" not in text


# --------------------------------------------------------------------------- methods

def _paragraph(methods: list[str], head: str) -> str | None:
    return next((p for p in methods if p.startswith(head)), None)


def test_methods_name_the_analyses_that_ran(oral: TrialReport) -> None:
    r = oral.results
    methods = _methods(r)
    sens = _paragraph(methods, "Missing-data sensitivity analyses: ")
    assert sens is not None
    assert "likelihood-based analysis of the daily pain" in sens and "multiple imputation" in sens
    assert "tipping-point analysis (missing not at random) of AUC of average pain at day 21: the imputed days of arms Z" in sens
    assert "AUC of maximal pain at day 21" in sens
    assert methods[-1].endswith(f"; random seed {r.settings.seed}.")
    # one active arm: consecutive periods were not analysed, and the methods do not say they were
    assert r.consecutive_tests.empty and _paragraph(methods, "Consecutive") is None
    assert "Also fitted, for comparison (model without period): treatment + sequence + (1 | patient)." in methods[1]
    text = " ".join(methods)
    assert "AUC of average pain at day 21 (primary): last observation carried forward" in text
    assert "Treatment-related adverse events per patient and period: logistic mixed model" in text


_EMPTY = pd.DataFrame()


@pytest.mark.parametrize(("change", "gone", "kept"), [
    (lambda r: {"sensitivity": MappingProxyType({})}, ["Missing-data sensitivity", "random seed"], ["Software: ketapain"]),
    (lambda r: {"sensitivity": MappingProxyType({k: v for k, v in r.sensitivity.items() if k != "multiple_imputation"
                                                 and not k.startswith("tipping")})},
     ["multiple imputation", "tipping-point", "random seed"], ["likelihood-based analysis of the daily pain"]),
    (lambda r: {"responder_models": r.responder_models.iloc[0:0]}, ["Model: logistic mixed model, responder"],
     ["Responders at day 21: paper_improved"]),
    (lambda r: {"responders": r.responders.iloc[0:0], "responder_models": r.responder_models.iloc[0:0]},
     ["Responders at"], []),
    (lambda r: {"ae_models": r.ae_models.iloc[0:0]}, ["Treatment-related adverse events per patient"],
     ["Adverse events counted as treatment-related"]),
    (lambda r: {"ae_by_arm": r.ae_by_arm.iloc[0:0], "ae_models": r.ae_models.iloc[0:0]},
     ["Adverse events counted", "Treatment-related adverse events"], []),
    (lambda r: {"blinding_overall": MappingProxyType({"recorded": False})}, ["Blinding index"], []),
    (lambda r: {"models": r.models[r.models["model"] != r.settings.other_model]}, ["Also fitted"], ["Models. "]),
    # issue 19: the headline effect size is d_model (was d_z), so the headline-only case keeps d_model
    (lambda r: {"effect_sizes": r.effect_sizes[r.effect_sizes["kind"] == "d_model"]}, ["total_sd:", "g_av:", "d_z:"],
     ["Effect sizes (95% CI; headline: d_model): d_model: model-based standardised difference"]),
    (lambda r: {"effect_sizes": r.effect_sizes[r.effect_sizes["kind"] == "g_av"]}, ["headline", "d_z:"],
     ["Effect sizes (95% CI): g_av: Hedges' g_av"]),
    (lambda r: {"table3": r.table3.iloc[0:0]}, ["Questionnaire scores"], ["Baseline average pain"]),
])
def test_a_methods_sentence_goes_with_its_analysis(oral: TrialReport, change: Any, gone: list[str],
                                                    kept: list[str]) -> None:
    """Without the results of an analysis the methods say nothing of it; the rest stays."""
    r = oral.results
    before = " ".join(_methods(r))
    for text in gone:
        assert text in before, text                     # the check can fail: the sentence was there
    after = " ".join(_methods(dataclasses.replace(r, **change(r))))
    for text in gone:
        assert text not in after, text
    for text in kept:
        assert text in after, text


# --------------------------------------------------------------------------- the reference study's names

def test_the_reference_study_report_names_its_paper() -> None:
    """Positive control: the reference study's pinned report does use the words the other
    trials' reports must not (so the checks below can fail)."""
    text = (REFERENCE / "report_text.txt").read_text(encoding="utf-8")
    assert "paper's model" in text and "published specification" in text and "ketamine" in text


def _no_reference_study(out: Path) -> None:
    html = (out / "index.html").read_text(encoding="utf-8")     # provenance and SVG included
    texts = {"html": html, "pdf": pdf_text((out / "report.pdf").read_bytes()),
             "results.json": (out / "results.json").read_text(encoding="utf-8"),
             "tables": "\n".join(p.read_text(encoding="utf-8") for p in sorted((out / "tables").glob("*.csv")))}
    found = {name: sorted({m.group(0) for m in REFERENCE_WORDS.finditer(t)}) for name, t in texts.items()}
    assert found == {name: [] for name in texts}
    results = json.loads(texts["results.json"])
    assert results["study"]["protocol_id"] != "ketapain"


def test_two_arm_report_never_names_the_reference_study(oral: TrialReport) -> None:
    _no_reference_study(oral.files.out_dir)
    html = _html_text(oral.files.out_dir)
    assert html.startswith("Oral drug Z versus placebo") and "Z (drug Z)" in html


def test_renamed_reference_protocol_never_names_the_reference_study(tmp_path: Path) -> None:
    """The reference protocol under another id, title and arm names: its report (HTML, PDF,
    tables, results.json, provenance) names neither KETAPAIN, its drugs, its publication nor its
    registration; the models are named by their terms."""
    protocol = renamed_reference_protocol()
    report = write_trial_report(simulate_trial(protocol, n_patients=12, seed=3), protocol, tmp_path / "report",
                                sensitivity=True, seed=7)
    _no_reference_study(report.files.out_dir)
    html = _html_text(report.files.out_dir)
    assert "Drug X and drug Y for neuropathic pain" in html and "KM (drug X + drug Y)" in html
    assert "P (model without period)" in html and "Analysis report, protocol other_trial" in html

