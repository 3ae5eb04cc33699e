"""Table 2: the protocol's AUC endpoints per patient x period, their description per arm, the
crossover models (the paper's and the standard one), and consecutive vs non-consecutive
active periods."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from ketapain.data import TrialData
from ketapain.protocol import Impute, Protocol
from ketapain.stats import describe_by, diary_auc

from ._common import active_arms, protocol_order, reference_arm
from ._fits import FitRows, fit_rows
from ._warnings import WarningLog

__all__ = ["AUC_COLUMNS", "CONSECUTIVE_TESTS", "consecutive_active", "endpoint_aucs", "model_order", "table2"]

AUC_COLUMNS = (
    "endpoint", "endpoint_kind", "value", "window_day", "impute", "patient_id", "period", "sequence", "treatment",
    "auc", "n_points", "n_observed", "n_imputed", "n_missing",
)
#: The tests of consecutive versus separated active periods, the headline first.
CONSECUTIVE_TESTS = ("welch_t", "mann_whitney_u")


def model_order(protocol: Protocol) -> tuple[str, str]:
    """The protocol's model first, then the other one (both are always fitted)."""
    primary = protocol.analysis.model
    return (primary, "standard" if primary == "paper" else "paper")


def endpoint_aucs(data: TrialData, protocol: Protocol, log: WarningLog) -> pd.DataFrame:
    """AUC of every ``[[endpoints]]`` entry per patient x period (``AUC_COLUMNS``).

    One :func:`ketapain.stats.diary_auc` call per (diary item, imputation) with the
    protocol's time axis; on the infusion axis the curve is anchored at day 0 by the
    allocation's ``pre_infusion_pain``. Missing-AUC warnings go to ``log``.
    """
    alloc = data.allocation
    diary = data.diary
    anchor = alloc[["patient_id", "period", "pre_infusion_pain"]] if protocol.auc.time_axis == "infusion" else None
    groups: dict[tuple[str, Impute], list[Any]] = {}
    for e in protocol.endpoints:
        groups.setdefault((e.value, e.impute), []).append(e)
    parts = []
    for (value, impute), endpoints in groups.items():
        windows = sorted({e.window_day for e in endpoints})
        with log.catch(section="auc", outcome=value, impute=impute):
            auc = diary_auc(diary, value=value, windows=windows, time_axis=protocol.auc.time_axis,
                            impute=impute, anchor=anchor, scale=protocol.diary.scale)
        names = pd.DataFrame({"endpoint": [e.name for e in endpoints], "endpoint_kind": [e.kind for e in endpoints],
                              "window_day": [e.window_day for e in endpoints], "impute": impute})
        parts.append(names.merge(auc, on="window_day"))
    out = pd.concat(parts, ignore_index=True).merge(
        alloc[["patient_id", "period", "sequence", "treatment"]], on=["patient_id", "period"], how="left"
    )
    order = {e.name: i for i, e in enumerate(protocol.endpoints)}
    out = out.assign(_o=out["endpoint"].map(order)).sort_values(["_o", "patient_id", "period"], kind="stable")
    return out[list(AUC_COLUMNS)].reset_index(drop=True)


def table2(aucs: pd.DataFrame, protocol: Protocol, log: WarningLog) -> tuple[pd.DataFrame, list[FitRows]]:
    """Descriptives per endpoint x arm and both crossover models per endpoint."""
    alpha = protocol.analysis.alpha
    desc = describe_by(aucs, value="auc", by=["endpoint", "treatment"], alpha=alpha)
    imputed = aucs.assign(_imp=aucs["n_imputed"] > 0, _nan=aucs["auc"].isna()).groupby(
        ["endpoint", "treatment"], as_index=False
    ).agg(n_imputed_days=("n_imputed", "sum"), n_periods_imputed=("_imp", "sum"), n_periods_auc_missing=("_nan", "sum"))
    info = pd.DataFrame({"endpoint": [e.name for e in protocol.endpoints],
                         "endpoint_kind": [e.kind for e in protocol.endpoints],
                         "value": [e.value for e in protocol.endpoints],
                         "window_day": [e.window_day for e in protocol.endpoints],
                         "impute": [e.impute for e in protocol.endpoints]})
    desc = info.merge(desc, on="endpoint").merge(imputed, on=["endpoint", "treatment"], how="left")
    desc = protocol_order(desc, protocol, ("endpoint", "treatment"))
    parts = []
    options = protocol.analysis.fit_options()
    ref = reference_arm(protocol)
    for e in protocol.endpoints:
        frame = aucs[aucs["endpoint"] == e.name]
        for model in model_order(protocol):
            parts.append(fit_rows(frame, section="table2", outcome=e.name, column="auc", model=model,
                                  options=options, alpha=alpha, ref=ref, log_rule=True, log=log))
    return desc, parts


def consecutive_active(aucs: pd.DataFrame, protocol: Protocol, log: WarningLog) -> dict[str, pd.DataFrame]:
    """Sum of the two active arms' primary-endpoint AUC per patient, consecutive vs separated.

    "Consecutive": the two active arms were given in adjacent periods; otherwise they were
    separated by another (the placebo) period. The groups are compared by Welch's two-sample
    t-test (headline) and the Mann-Whitney U test (exact when possible). Needs exactly two
    active arms; otherwise the frames are empty and a note explains why.
    """
    active = active_arms(protocol)
    empty = {
        "consecutive_patients": pd.DataFrame(columns=["patient_id", "sequence", "consecutive", "auc_sum"]),
        "consecutive_summary": pd.DataFrame(),
        "consecutive_tests": pd.DataFrame(columns=["test", "statistic", "df", "p_value", "n_consecutive", "n_nonconsecutive"]),
    }
    if len(active) != 2:
        log.note("not_analysed", f"not analysed, the protocol has {len(active)} active arms (needs 2)",
                 section="consecutive")
        return empty
    primary = protocol.primary_endpoint.name
    rows = aucs[(aucs["endpoint"] == primary) & aucs["treatment"].isin(active)]
    auc = rows.pivot(index="patient_id", columns="treatment", values="auc").reindex(columns=list(active))
    period = rows.pivot(index="patient_id", columns="treatment", values="period").reindex(columns=list(active))
    seq = rows.drop_duplicates("patient_id").set_index("patient_id")["sequence"]
    patients = pd.DataFrame({
        "patient_id": auc.index,
        "sequence": seq.reindex(auc.index).to_numpy(),
        "consecutive": ((period[active[0]] - period[active[1]]).abs() == 1).to_numpy(),
        "auc_sum": auc.sum(axis=1, min_count=2).to_numpy(),
    })
    dropped = int(patients["auc_sum"].isna().sum())
    if dropped:
        log.note("rows_left_out", f"{dropped} patient(s) without both active-arm {primary} AUCs left out",
                 section="consecutive", outcome=primary)
    used = patients.dropna(subset=["auc_sum"])
    summary = describe_by(used.assign(group=np.where(used["consecutive"], "consecutive", "non_consecutive")),
                          value="auc_sum", by="group", alpha=protocol.analysis.alpha)
    a = used.loc[used["consecutive"], "auc_sum"].to_numpy(float)
    b = used.loc[~used["consecutive"], "auc_sum"].to_numpy(float)
    tests = []
    if len(a) >= 2 and len(b) >= 2:
        t = sps.ttest_ind(a, b, equal_var=False)
        tests.append({"test": CONSECUTIVE_TESTS[0], "statistic": float(t.statistic), "df": float(t.df),
                      "p_value": float(t.pvalue)})
        u = sps.mannwhitneyu(a, b, alternative="two-sided")
        tests.append({"test": CONSECUTIVE_TESTS[1], "statistic": float(u.statistic), "df": np.nan,
                      "p_value": float(u.pvalue)})
    else:
        log.note("no_test", f"groups of {len(a)} and {len(b)} patients, no test (needs 2 per group)",
                 section="consecutive", outcome=primary)
    tests_frame = pd.DataFrame(tests, columns=["test", "statistic", "df", "p_value"])
    tests_frame["n_consecutive"] = len(a)
    tests_frame["n_nonconsecutive"] = len(b)
    return {"consecutive_patients": patients, "consecutive_summary": summary, "consecutive_tests": tests_frame}
