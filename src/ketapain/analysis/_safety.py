"""Adverse events per arm and term (with a logistic mixed model of treatment-related events)
and Table 4, the analgesics added during each arm's period.

An event (or added analgesic) recorded in period ``k`` belongs to the arm the patient received
in period ``k``; period 0 (before the first infusion) belongs to no arm and counts only in
the whole-trial figures.
"""

from __future__ import annotations

import pandas as pd

from ketapain.data import DRUG_CLASSES, TrialData
from ketapain.protocol import Protocol

from ._binary import BINARY_COLUMNS, logistic_vs_reference
from ._common import protocol_order
from ._endpoints import model_order
from ._warnings import WarningLog

__all__ = ["RELATED", "added_analgesics", "adverse_events"]

#: Causality categories counted as treatment-related.
RELATED = ("possibly", "probably", "certainly")


def _exposed(alloc: pd.DataFrame) -> pd.Series:
    return alloc.groupby("treatment")["patient_id"].nunique()


def adverse_events(data: TrialData, protocol: Protocol, log: WarningLog) -> dict[str, pd.DataFrame | dict]:
    """``ae_by_term``, ``ae_by_arm``, ``ae_models`` frames and the ``ae_overall`` mapping."""
    alloc = data.allocation
    ae = data.adverse_events.merge(alloc[["patient_id", "period", "treatment"]], on=["patient_id", "period"], how="left")
    ae["related"] = ae["causality"].isin(RELATED)
    exposed = _exposed(alloc).reindex(list(protocol.arm_codes), fill_value=0)
    on_arm = ae[ae["treatment"].notna()]

    by_term = on_arm.groupby(["treatment", "term"], as_index=False).agg(
        n_patients=("patient_id", "nunique"), n_events=("event_id", "size"))
    related_term = on_arm[on_arm["related"]].groupby(["treatment", "term"])["patient_id"].nunique()
    by_term["n_patients_related"] = pd.MultiIndex.from_frame(by_term[["treatment", "term"]]).map(
        lambda k: related_term.get(k, 0)).astype("int64")
    by_term["n_exposed"] = by_term["treatment"].map(exposed).astype("int64")
    by_term["pct"] = 100.0 * by_term["n_patients"] / by_term["n_exposed"]
    by_term = protocol_order(by_term.sort_values(["n_patients", "term"], ascending=[False, True]), protocol, ("treatment",))

    def count(mask: pd.Series) -> pd.Series:
        return on_arm[mask].groupby("treatment")["patient_id"].nunique().reindex(exposed.index, fill_value=0)

    by_arm = pd.DataFrame({
        "treatment": exposed.index, "n_exposed": exposed.to_numpy(),
        "n_events": on_arm.groupby("treatment").size().reindex(exposed.index, fill_value=0).to_numpy(),
        "n_patients_any": count(on_arm["event_id"].notna()).to_numpy(),
        "n_patients_related": count(on_arm["related"]).to_numpy(),
        "n_patients_serious": count(on_arm["serious"].astype(bool)).to_numpy(),
    })
    for c in ("n_patients_any", "n_patients_related", "n_patients_serious"):
        by_arm[c.replace("n_patients", "pct")] = 100.0 * by_arm[c] / by_arm["n_exposed"].where(by_arm["n_exposed"] > 0)

    patients = data.patients["patient_id"]
    overall = {
        "n_patients": int(patients.nunique()),
        "n_events": len(ae),
        "n_events_before_first_infusion": int((ae["period"] == 0).sum()),
        "n_patients_without_any_ae": int((~patients.isin(ae["patient_id"])).sum()),
        "n_patients_with_related_ae": int(ae.loc[ae["related"], "patient_id"].nunique()),
        "n_serious_events": int(ae["serious"].astype(bool).sum()),
        "n_patients_serious": int(ae.loc[ae["serious"].astype(bool), "patient_id"].nunique()),
        "related_causalities": list(RELATED),
    }

    flag = alloc[["patient_id", "period", "sequence", "treatment"]].copy()
    rel = ae[ae["related"]][["patient_id", "period"]].drop_duplicates().assign(_r=1)
    flag = flag.merge(rel, on=["patient_id", "period"], how="left")
    flag["related_ae"] = flag["_r"].fillna(0).astype("int64")
    flag = flag.drop(columns="_r")
    rows = [r for m in model_order(protocol)
            for r in logistic_vs_reference(flag, outcome="related_ae", protocol=protocol, model=m,
                                           where={"section": "adverse_events", "outcome": "related_ae"}, log=log)]
    models = pd.DataFrame(rows, columns=list(BINARY_COLUMNS))
    return {"ae_by_term": by_term, "ae_by_arm": by_arm, "ae_models": models, "ae_overall": overall}


def added_analgesics(data: TrialData, protocol: Protocol) -> pd.DataFrame:
    """Table 4: patients with an analgesic class added during each arm's period.

    Columns ``drug_class, treatment, n_patients, n_exposed, pct``; every class x arm, zeros
    included (classes in the data model's order).
    """
    alloc = data.allocation
    conc = data.concomitant
    added = conc[conc["status"] == "added"].merge(alloc[["patient_id", "period", "treatment"]],
                                                  on=["patient_id", "period"], how="inner")
    counts = added.groupby(["drug_class", "treatment"])["patient_id"].nunique()
    arms = list(protocol.arm_codes)
    grid = pd.MultiIndex.from_product([list(DRUG_CLASSES), arms], names=["drug_class", "treatment"])
    out = counts.reindex(grid, fill_value=0).rename("n_patients").reset_index()
    out["n_patients"] = out["n_patients"].astype("int64")
    out["n_exposed"] = out["treatment"].map(_exposed(alloc)).fillna(0).astype("int64")
    out["pct"] = 100.0 * out["n_patients"] / out["n_exposed"].where(out["n_exposed"] > 0)
    return out
