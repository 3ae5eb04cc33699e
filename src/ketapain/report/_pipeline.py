"""One call from a trial to its report: analysis plan → paper layout → report folder."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from ketapain.analysis import AnalysisResults, analysis_steps, run_analysis
from ketapain.data import CheckResult, TrialData
from ketapain.protocol import Protocol

from ._paper import paper_document
from ._provenance import protocol_hash, provenance, trial_data_hash
from ._write import ReportFiles, write_report

__all__ = ["TrialReport", "report_steps", "write_trial_report"]

_LAYOUT_STEP = "Laying out the paper's tables and figures"
_WRITE_STEPS = ("figures", "tables", "results.json", "index.html", "report.pdf", "replacing the report")


def report_steps(*, pdf: bool = True, sensitivity: bool = True) -> tuple[str, ...]:
    """The step descriptions :func:`write_trial_report` reports, in order (to size a progress bar).

    The writer's steps carry counts in their text (``"figures (12)"``); here they are named
    without them.

    Examples
    --------
    >>> len(report_steps()) - len(report_steps(pdf=False, sensitivity=False))
    2
    """
    writer = _WRITE_STEPS if pdf else tuple(s for s in _WRITE_STEPS if s != "report.pdf")
    return (*analysis_steps(sensitivity=sensitivity), _LAYOUT_STEP, *writer)


@dataclass(frozen=True, slots=True)
class TrialReport:
    """What :func:`write_trial_report` made: the analysis results and the files written."""

    results: AnalysisResults
    files: ReportFiles


def write_trial_report(
    data: TrialData,
    protocol: Protocol,
    out_dir: str | PathLike[str],
    *,
    seed: int = 20200154,
    pdf: bool = True,
    sensitivity: bool = True,
    command: str | None = None,
    on_step: Callable[[str], None] | None = None,
    data_check: CheckResult | None = None,
) -> TrialReport:
    """Run the protocol's analysis plan on ``data`` and write the full report to ``out_dir``.

    Parameters
    ----------
    data : TrialData
        The trial (simulated, captured or imported).
    protocol : Protocol
        The protocol whose analysis plan is run.
    out_dir : path
        Report folder: ``index.html``, ``report.pdf``, ``tables/*.csv``,
        ``figures/*.svg|png``, ``results.json`` (replaced atomically).
    seed : int
        Seed of the randomised analysis steps (multiple imputation); recorded in the
        provenance block together with the data's own ``meta['seed']`` when it has one.
    pdf, sensitivity : bool
        Write ``report.pdf``; run the missing-data sensitivity analyses.
    command : str, optional
        The command line that made the report, for the provenance block.
    on_step : callable, optional
        Receives a description before each long step (:func:`report_steps` lists them).
    data_check : CheckResult, optional
        The data check run first (``ketapain analyze``); its warnings go to the report's
        warnings (:func:`~ketapain.analysis.run_analysis`).

    Returns
    -------
    TrialReport
        The :class:`~ketapain.analysis.AnalysisResults` and the :class:`ReportFiles`.
    """
    step = on_step if on_step is not None else (lambda _msg: None)
    results = run_analysis(data, protocol, seed=seed, sensitivity=sensitivity, on_step=step, data_check=data_check)
    step(_LAYOUT_STEP)
    meta = data.meta
    extra = {f"data_{k}": v for k, v in sorted(meta.items())}
    prov = provenance(
        data_hash=trial_data_hash(data), protocol_hash=protocol_hash(protocol), seed=seed,
        command=command, extra=extra,
    )
    document = paper_document(results, provenance=prov)
    files = write_report(document, Path(out_dir), pdf=pdf, on_step=step)
    return TrialReport(results=results, files=files)
