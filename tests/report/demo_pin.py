"""Pins of the demo report: its visible text and a fingerprint of its ``results.json``.

``ketapain demo --seed 20200154 --patients 20`` is deterministic, so its report can be
compared with a stored reference (``reference/demo_20200154/``), made by running this file on
a demo report folder::

    ketapain demo --out /tmp/demo --seed 20200154 --patients 20 --no-pdf --quiet
    python tests/report/demo_pin.py /tmp/demo/report

The reference was first made with the code of commit 27591c3 (before analysis warnings became
records, settings became values and score labels moved to the instruments), so the pins say
that this work left every number and sentence as it was; later deliberate wording changes
edit the reference files in the same commit, where their diff shows them.

* ``report_text.txt``: the text a reader sees in ``index.html``, one block per line (table
  rows as cells joined by `` | ``), without figures (SVG), styles and the provenance block;
  the version in the methods' "Software:" sentence is replaced by ``<version>``.
* ``results_fingerprint.json``: per frame of ``results.json`` (``tables`` and
  ``sensitivity``) its columns, row count and, per column, the null count and two sums
  (plain and row-weighted, so a reordering shows) of numbers, or a SHA-256 of the other
  values; the small mappings (``study``, ``consort``, ``ae_overall``, ``blinding_overall``)
  verbatim.
* ``results_settings.json`` and ``results_warnings.json``: ``settings`` and ``warnings``
  verbatim (the parts of ``results.json`` this work restructures on purpose).
* ``results_warnings_original.json`` and ``results_settings_original.json``: ``warnings`` and
  ``settings`` of commit 27591c3, when warnings were strings (``"where: Category: message"``)
  and settings carried sentences; the records must say the same, and the report's wording of
  the setting values must give back the same sentences.

Deliberate changes so far (each in the commit that made it): the Warnings section formats
the warning records (grouped by kind, places in words) instead of parsing their text;
``results.json`` holds warnings as objects and settings as values; Table 3 and the warnings
name scores by the instruments' labels, which word four scores differently ("BPI pain
severity", "BPI pain interference", "PGIC rating (1-7)"; and "NRS pain rating", not in the demo);
three values on an exact rounding tie (night-pain AUC differences -6.35 and -21.05, an SF-36
quartile of 18.75) are shown as R's ``sprintf`` shows the true value (-6.3, -21.1, 18.8), not as
the last bits of one machine's BLAS decided (``report._format.SIGNIFICANT``); the Methods are
generated from what ran (issue 18), which in this report adds the two analyses the methods did
not describe although their results were shown: the logistic mixed model of treatment-related
adverse events and the missing-data sensitivity analyses (MAR daily model, multiple imputation,
tipping point) — every other line, numbering included (now assigned when the report is
rendered), is unchanged. Issue 19 (the model layer) changed, on purpose: ``effect_sizes`` gained
the d_model rows (the new headline, ``settings.headline_effect_size``), ``responder_models`` and
``ae_models`` are refitted with the linear models' sequence (and period) terms, some with rows
of one-outcome sequences left out and three responder fits not estimable (NaN), ``model_checks``
frames are new (tables and sensitivity), 14 GLMM warnings were added (the 81 others unchanged);
the report shows d_model beside d_z, the GLMM terms in the Methods, "not estimable" and left-out
notes in the odds-ratio tables and a Model checks section before the Warnings.

Issue 19 (the report side: "the report says exactly what was computed") also changed the four
files, because the report said things that were not so: Table 3's gated scores get their pairwise table (it existed
only in results.json); Table 3 marks P values of log-scale refits and gives the untransformed P;
Table 2 cells say their n when an AUC is missing; a table row is all mean ± SD or all median
[IQR] (it mixed them), so several Table 1-3 rows now read median [IQR]; the methods say which
tests use Kenward-Roger df and which their own, and that the sequence × treatment test of the
paper's model is mostly a test of period; the fraction of missing information is Rubin's
(0.0003-0.0006, not mice's 0.05 floor) to 2 significant digits; the sensitivity tables and the
warnings use words, not identifiers; the responders compare the mean of the diary days (not the
AUC anchored by the very pre-infusion score it is compared with), the paper's definition named
``paper_improved`` — which changes ``responder_patients``/``responders`` in the fingerprint and
adds one missing-AUC warning (the day-7 diary-day means of two periods) to the warnings.
The degenerate-fit rules then reached the per-imputation fits of multiple imputation and the
tipping point: ``sensitivity.model_checks`` gained a ``model`` column and four rows (all ok), and
the Model checks table two rows (78 fits in all); nothing else changed (only that frame was
re-pinned, so the other pins still hold the reference machine's last digits).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

REFERENCE = Path(__file__).parent / "reference" / "demo_20200154"
MAPPINGS = ("study", "consort", "ae_overall", "blinding_overall")
_BLOCKS = {"p", "li", "caption", "h1", "h2", "h3", "h4", "h5", "h6", "figcaption", "dt", "dd", "title"}
_VERSION = re.compile(r"Software: ketapain \S+ \(Python\)")


class _Text(HTMLParser):
    """Visible text, one line per block (a table row is one line of ``|``-joined cells)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self._open: list[list[str]] = []   # text of the open blocks, innermost last
        self._row: list[str] | None = None
        self._skip = 0          # depth inside svg / style / the provenance section
        self._section_depth = 0
        self._provenance_at: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "section":
            self._section_depth += 1
            if dict(attrs).get("id") == "section-provenance":
                self._provenance_at = self._section_depth
                self._skip += 1
        if tag in ("svg", "style", "script"):
            self._skip += 1
        if self._skip:
            return
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") or tag in _BLOCKS:
            self._open.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("svg", "style", "script"):
            self._skip -= 1
            return
        if tag == "section":
            if self._provenance_at == self._section_depth:
                self._provenance_at = None
                self._skip -= 1
            self._section_depth -= 1
            return
        if self._skip:
            return
        if tag == "tr" and self._row is not None:
            self.lines.append(" | ".join(self._row))
            self._row = None
        elif (tag in ("td", "th") or tag in _BLOCKS) and self._open:
            text = " ".join("".join(self._open.pop()).split())
            if tag in ("td", "th") and self._row is not None:
                self._row.append(text)
            elif text:
                self.lines.append(text)

    def handle_data(self, data: str) -> None:
        if not self._skip and self._open:
            self._open[-1].append(data)


def report_text(html: str) -> list[str]:
    """The visible text of ``index.html`` (see the module docstring)."""
    parser = _Text()
    parser.feed(html)
    return [_VERSION.sub("Software: ketapain <version> (Python)", line) for line in parser.lines]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def frame_fingerprint(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Columns, rows and per-column sums or hashes of a frame given as row records."""
    columns = list(dict.fromkeys(k for r in records for k in r))
    out: dict[str, Any] = {"columns": columns, "n_rows": len(records), "values": {}}
    for col in columns:
        values = [r.get(col) for r in records]
        present = [v for v in values if v is not None]
        if present and all(_is_number(v) for v in present):
            out["values"][col] = {
                "n_null": len(values) - len(present),
                "sum": math.fsum(float(v) for v in present),
                "weighted_sum": math.fsum((i + 1) * float(v) for i, v in enumerate(values) if v is not None),
            }
        else:
            text = json.dumps(values, sort_keys=True, ensure_ascii=True)
            out["values"][col] = {"sha256": hashlib.sha256(text.encode()).hexdigest()}
    return out


def results_fingerprint(results: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint of a whole ``results.json`` (see the module docstring)."""
    return {
        **{k: results[k] for k in MAPPINGS},
        "tables": {k: frame_fingerprint(v) for k, v in results["tables"].items()},
        "sensitivity": {k: frame_fingerprint(v) for k, v in results["sensitivity"].items()},
    }


def write_reference(report: Path) -> None:
    """Write the four reference files from a demo report folder."""
    REFERENCE.mkdir(parents=True, exist_ok=True)
    html = (report / "index.html").read_text(encoding="utf-8")
    (REFERENCE / "report_text.txt").write_text("\n".join(report_text(html)) + "\n", encoding="utf-8")
    results = json.loads((report / "results.json").read_text(encoding="utf-8"))
    for name, value in (("results_fingerprint", results_fingerprint(results)),
                        ("results_settings", results["settings"]), ("results_warnings", results["warnings"])):
        (REFERENCE / f"{name}.json").write_text(json.dumps(value, indent=1, ensure_ascii=False) + "\n",
                                                encoding="utf-8")


if __name__ == "__main__":
    write_reference(Path(sys.argv[1]))
