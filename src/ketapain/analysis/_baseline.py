"""Table 1 (baseline characteristics, overall and by sex) and pain before each period."""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd

from ketapain.data import DRUG_CLASSES, PAIN_TYPES, TrialData
from ketapain.protocol import Protocol
from ketapain.stats import describe_by

from ._common import protocol_order, reference_arm
from ._endpoints import model_order
from ._fits import FitRows, fit_rows
from ._warnings import WarningLog

__all__ = ["GROUPS", "TABLE1_VARIABLES", "pain_before", "table1"]

#: Table 1 columns: everyone, then by sex (patients.sex M / F).
GROUPS = (("all", None), ("male", "M"), ("female", "F"))
#: Continuous Table 1 rows, in the paper's order (``bmi`` = weight_kg / height_m**2,
#: ``baseline_avg_pain`` = pre-infusion pain of period 1, on the protocol's diary scale: NRS 0-10
#: in the reference study).
TABLE1_VARIABLES = ("age_years", "weight_kg", "height_m", "bmi", "pain_duration_years", "dn4_total",
                    "baseline_avg_pain")


def _grouped(patients: pd.DataFrame) -> pd.DataFrame:
    parts = [patients.assign(group=name) if sex is None else patients[patients["sex"] == sex].assign(group=name)
             for name, sex in GROUPS]
    return pd.concat(parts, ignore_index=True)


def table1(data: TrialData) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(table1_continuous, table1_counts)``; see docs/analysis.md for the columns."""
    patients = data.patients
    alloc = data.allocation
    first = alloc[alloc["period"] == alloc["period"].min()].set_index("patient_id")["pre_infusion_pain"]
    patients = patients.assign(
        bmi=patients["weight_kg"] / patients["height_m"] ** 2,
        dn4_total=patients["dn4_total"].astype("float64"),
        baseline_avg_pain=patients["patient_id"].map(first).astype("float64"),
    )
    grouped = _grouped(patients)
    long = grouped.melt(id_vars=["patient_id", "group"], value_vars=list(TABLE1_VARIABLES),
                        var_name="variable", value_name="value")
    cont = describe_by(long, value="value", by=["variable", "group"])
    rank_v = {v: i for i, v in enumerate(TABLE1_VARIABLES)}
    rank_g = {g: i for i, (g, _) in enumerate(GROUPS)}
    cont = cont.assign(_v=cont["variable"].map(rank_v), _g=cont["group"].map(rank_g)).sort_values(
        ["_v", "_g"]).drop(columns=["_v", "_g"]).reset_index(drop=True)

    n_group = grouped.groupby("group").size()
    pain = pd.crosstab(grouped["pain_type"], grouped["group"]).reindex(
        index=list(PAIN_TYPES), columns=[g for g, _ in GROUPS], fill_value=0)
    conc = data.concomitant
    base = conc[conc["period"] == 0].drop_duplicates(["patient_id", "drug_class"])
    base = base.merge(grouped[["patient_id", "group"]], on="patient_id")
    drugs = pd.crosstab(base["drug_class"], base["group"]).reindex(
        index=list(DRUG_CLASSES), columns=[g for g, _ in GROUPS], fill_value=0)
    counts = []
    for variable, table in (("pain_type", pain), ("concomitant_baseline", drugs)):
        # stacking the single column level of a crosstab gives a Series (pandas-stubs allows a DataFrame)
        stacked = cast(pd.Series, table.rename_axis(index="level", columns="group").stack())
        long_counts = stacked.rename("n").reset_index()
        long_counts.insert(0, "variable", variable)
        counts.append(long_counts)
    counts_frame = pd.concat(counts, ignore_index=True)
    counts_frame["n"] = counts_frame["n"].astype("int64")
    counts_frame["n_group"] = counts_frame["group"].map(n_group).fillna(0).astype("int64")
    counts_frame["pct"] = np.where(counts_frame["n_group"] > 0,
                                   100.0 * counts_frame["n"] / counts_frame["n_group"].where(counts_frame["n_group"] > 0, 1),
                                   np.nan)
    rank_l = {**{v: i for i, v in enumerate(PAIN_TYPES)}, **{v: i for i, v in enumerate(DRUG_CLASSES)}}
    counts_frame = counts_frame.assign(
        _v=(counts_frame["variable"] != "pain_type").astype(int), _l=counts_frame["level"].map(rank_l),
        _g=counts_frame["group"].map(rank_g)).sort_values(["_v", "_l", "_g"]).drop(columns=["_v", "_l", "_g"])
    return cont, counts_frame.reset_index(drop=True)


def pain_before(data: TrialData, protocol: Protocol, log: WarningLog) -> tuple[pd.DataFrame, list[FitRows]]:
    """Pre-infusion pain described by arm and by period; both crossover models across arms."""
    alloc = data.allocation
    alpha = protocol.analysis.alpha
    by_arm = describe_by(alloc, value="pre_infusion_pain", by="treatment", alpha=alpha).rename(
        columns={"treatment": "level"}).assign(by="treatment")
    by_arm = protocol_order(by_arm.rename(columns={"level": "treatment"}), protocol, ("treatment",)).rename(
        columns={"treatment": "level"})
    by_period = describe_by(alloc.assign(period=alloc["period"].astype(str)), value="pre_infusion_pain",
                            by="period", alpha=alpha).rename(columns={"period": "level"}).assign(by="period")
    desc = pd.concat([by_arm, by_period], ignore_index=True)
    desc = desc[["by", "level", *[c for c in desc.columns if c not in ("by", "level")]]]
    parts = [fit_rows(alloc, section="pain_before", outcome="pre_infusion_pain", column="pre_infusion_pain",
                      model=m, options=protocol.analysis.fit_options(), alpha=alpha, ref=reference_arm(protocol),
                      log_rule=True, log=log) for m in model_order(protocol)]
    return desc, parts
