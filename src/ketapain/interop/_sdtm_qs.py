"""The SDTM QS domain: questionnaire items, their derived scores, and the pain diary.

QSTESTCD codes (at most 8 characters) are built per instrument by :func:`qs_codes`: a
prefix (the instrument name in upper case, at most 4 characters) followed by the item key
or score name in upper-case letters and digits; when that is longer than 8 characters or
not unique, the prefix followed by ``I`` (item) or ``S`` (score) and the 1-based position.
The same score codes are the ADaM ADQS PARAMCDs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ketapain.errors import InstrumentError
from ketapain.instruments import Instrument, get_instrument, score_frame

from ._sdtm_context import SdtmContext, column_or_blank, iso_dates, seq_numbers, study_day, warn_blank
from ._sdtm_terms import epoch_label, qs_category, sas_code
from ._xpt import Var, build_dataset

__all__ = ["DIARY_CATEGORY", "QsCodes", "diary_codes", "number_text", "qs_codes", "qs_domain", "score_description",
           "scored"]

DIARY_CATEGORY = "PAIN DIARY"
"""QSCAT of the pain-diary records (a sponsor extension of CDISC codelist QSCAT)."""

_REASON_ITEM = "NO ANSWER RECORDED"
_REASON_SCORE = "NOT DERIVABLE: TOO FEW ITEMS ANSWERED"
_REASON_DIARY = "NO DIARY ENTRY RECORDED"

_PRE_INFUSION = ("PREPAIN", "Pain before the infusion (NRS 0-10)")


@dataclass(frozen=True, slots=True)
class QsCodes:
    """QSTESTCD and QSTEST of one instrument's items and scores."""

    instrument: str
    items: dict[str, tuple[str, str]]
    scores: dict[str, tuple[str, str]]


def _prefix(name: str) -> str:
    return sas_code(name)[:4] or "Q"


def qs_codes(instrument: str, extra_items: tuple[str, ...] = ()) -> QsCodes:
    """Codes of the instrument's items (registry order, then ``extra_items`` not in the
    registry, sorted) and of its scores (kind number, count or bool).

    >>> c = qs_codes("bpi")
    >>> c.items["9a"], c.scores["severity_mean"][0]
    (('BPI9A', 'BPI 9a: interference: general activity'), 'BPIS05')
    """
    prefix = _prefix(instrument)
    try:
        inst: Instrument | None = get_instrument(instrument)
    except InstrumentError:
        inst = None
    keys = [i.key for i in inst.items] if inst else []
    labels = {i.key: i.label for i in inst.items} if inst else {}
    keys += sorted(set(extra_items) - set(keys))
    scores = [s.name for s in inst.scores] if inst else []

    def build(names: list[str], letter: str, taken: set[str]) -> dict[str, str]:
        cand = [prefix + sas_code(n) for n in names]
        out = {}
        for pos, (n, c) in enumerate(zip(names, cand, strict=True), start=1):
            ok = 0 < len(c) <= 8 and c[0].isalpha() and cand.count(c) == 1 and c not in taken
            out[n] = c if ok else f"{prefix}{letter}{pos:02d}"
        return out

    item_codes = build(keys, "I", set())
    score_codes = build(scores, "S", set(item_codes.values()))
    name = instrument.upper()
    items = {k: (item_codes[k], f"{name} {k}: {labels.get(k, 'item')}"[:40]) for k in keys}
    score = {s: (score_codes[s], score_description(instrument, s)[:40]) for s in scores}
    return QsCodes(instrument, items, score)


def score_description(instrument: str, score: str) -> str:
    """A score in words: the instrument's label and the score's (``"BPI average pain"``), as
    QSTEST (cut to 40 characters) and ADQS PARAM; ``"<INSTRUMENT> <score>"`` for an instrument
    not in the registry.

    >>> score_description("bpi", "average"), score_description("sf36", "PF")
    ('BPI average pain', 'SF-36 physical functioning')
    """
    try:
        inst = get_instrument(instrument)
    except InstrumentError:
        return f"{instrument.upper()} {score.replace('_', ' ')}"
    label = {s.name: s.label for s in inst.scores}.get(score, score.replace("_", " "))
    return f"{inst.label or instrument.upper()} {label}"


def diary_codes(items: list[str]) -> dict[str, tuple[str, str]]:
    """QSTESTCD / QSTEST of the diary items: the item in upper-case letters (8 at most;
    ``DIARY`` + position when that is not unique), e.g. ``avg_pain`` -> ``AVGPAIN``.

    >>> diary_codes(["avg_pain", "night_pain"])
    {'avg_pain': ('AVGPAIN', 'Diary: avg pain'), 'night_pain': ('NIGHTPAI', 'Diary: night pain')}
    """
    cand = [sas_code(i)[:8] for i in items]
    out = {}
    for pos, (item, code) in enumerate(zip(items, cand, strict=True), start=1):
        ok = code[:1].isalpha() and cand.count(code) == 1 and code != _PRE_INFUSION[0]
        out[item] = (code if ok else f"DIARY{pos:02d}", f"Diary: {item.replace('_', ' ')}"[:40])
    return out


def number_text(values: pd.Series) -> pd.Series:
    """Numbers as text: integers without a decimal point, others as the shortest repr;
    missing -> blank.

    >>> number_text(pd.Series([3.0, 2.5, float("nan")])).tolist()
    ['3', '2.5', '']
    """
    v = pd.to_numeric(values, errors="coerce").astype("float64").to_numpy()
    out = np.full(v.shape, "", dtype=object)
    ok = np.isfinite(v)
    whole = ok & (np.mod(v, 1, where=ok, out=np.zeros_like(v)) == 0)
    out[whole] = v[whole].astype(np.int64).astype(str)
    frac = ok & ~whole
    out[frac] = [repr(float(x)) for x in v[frac]]
    return pd.Series(out, index=values.index, dtype="object")


def scored(questionnaires: pd.DataFrame, instrument: str, *, kinds: tuple[str, ...] = ("number", "count", "bool"),
           ) -> pd.DataFrame:
    """Long scores of one instrument: ``patient_id, visit, score, kind, value`` (bools as 1/0).

    Scores come from :func:`ketapain.instruments.score_frame` with ``incomplete="missing"``,
    as in the analysis; an instrument unknown to the registry gives an empty frame.
    """
    try:
        inst = get_instrument(instrument)
    except InstrumentError:
        return pd.DataFrame(columns=["patient_id", "visit", "score", "kind", "value"])
    rows = questionnaires[questionnaires["instrument"] == instrument]
    wide = score_frame(inst, rows, incomplete="missing")
    names = [s.name for s in inst.scores if s.kind in kinds]
    long = wide.melt(id_vars=["patient_id", "visit"], value_vars=names, var_name="score", value_name="value")
    long["kind"] = long["score"].map({s.name: s.kind for s in inst.scores})
    long["value"] = pd.to_numeric(long["value"].astype("object").where(long["value"].notna(), np.nan)
                                  .map(lambda x: float(x) if x is not None else np.nan)).astype("float64")
    return long[["patient_id", "visit", "score", "kind", "value"]]


_QS_SPEC = (
    Var("STUDYID", "Study Identifier", "Char", "Identifier", origin="Assigned"),
    Var("DOMAIN", "Domain Abbreviation", "Char", "Identifier", "DOMAIN", "Assigned"),
    Var("USUBJID", "Unique Subject Identifier", "Char", "Identifier"),
    Var("QSSEQ", "Sequence Number", "Num", "Identifier"),
    Var("QSTESTCD", "Question Short Name", "Char", "Topic", "see docs/interop-cdisc.md"),
    Var("QSTEST", "Question Name", "Char", "Synonym Qualifier"),
    Var("QSCAT", "Category of Question", "Char", "Grouping Qualifier", "QSCAT"),
    Var("QSORRES", "Finding in Original Units", "Char", "Result Qualifier", origin="CRF"),
    Var("QSSTRESC", "Character Result/Finding in Std Format", "Char", "Result Qualifier"),
    Var("QSSTRESN", "Numeric Finding in Standard Units", "Num", "Result Qualifier"),
    Var("QSSTAT", "Completion Status", "Char", "Record Qualifier", "ND"),
    Var("QSREASND", "Reason Not Done", "Char", "Record Qualifier"),
    Var("QSLOBXFL", "Last Observation Before Exposure Flag", "Char", "Record Qualifier", "NY"),
    Var("QSDRVFL", "Derived Flag", "Char", "Record Qualifier", "NY"),
    Var("VISITNUM", "Visit Number", "Num", "Timing", origin="Protocol"),
    Var("VISIT", "Visit Name", "Char", "Timing", origin="Protocol"),
    Var("VISITDY", "Planned Study Day of Visit", "Num", "Timing", origin="Protocol"),
    Var("EPOCH", "Epoch", "Char", "Timing", "EPOCH"),
    Var("QSDTC", "Date/Time of Finding", "Char", "Timing", origin="CRF"),
    Var("QSDY", "Study Day of Finding", "Num", "Timing"),
    Var("QSTPT", "Planned Time Point Name", "Char", "Timing"),
    Var("QSTPTNUM", "Planned Time Point Number", "Num", "Timing"),
    Var("QSTPTREF", "Time Point Reference", "Char", "Timing"))
"""The QS variables in SDTMIG 3.4 order."""


def _questionnaire_records(q: pd.DataFrame) -> pd.DataFrame:
    """Item and derived-score records of every instrument (before visits, epochs and order)."""
    completed = pd.to_datetime(column_or_blank(q, "completed_date"))
    parts: list[pd.DataFrame] = []
    dated = pd.DataFrame({"patient_id": q["patient_id"], "visit": q["visit"], "instrument": q["instrument"],
                          "completed": completed})
    when = dated.dropna(subset=["completed"]).groupby(["patient_id", "visit", "instrument"])["completed"].max()
    for order, instrument in enumerate(sorted(q["instrument"].unique(), key=str)):
        rows = q[q["instrument"] == instrument]
        codes = qs_codes(instrument, tuple(rows["item"].unique()))
        item_rank = {k: i for i, k in enumerate(codes.items)}
        cat = qs_category(instrument)
        items = pd.DataFrame({
            "patient_id": rows["patient_id"], "visit": rows["visit"], "cat": cat,
            "testcd": rows["item"].map({k: v[0] for k, v in codes.items.items()}),
            "test": rows["item"].map({k: v[1] for k, v in codes.items.items()}),
            "orres": number_text(rows["value"]), "stresn": rows["value"].astype("float64"),
            "drv": "", "inst_order": order, "rank": rows["item"].map(item_rank), "date": completed[rows.index],
            "reason": _REASON_ITEM,
        })
        long = scored(q, instrument)
        score_rank = {k: len(item_rank) + i for i, k in enumerate(codes.scores)}
        is_bool = long["kind"] == "bool"
        text = number_text(long["value"]).where(~is_bool, np.where(long["value"] == 1, "Y",
                                                                   np.where(long["value"] == 0, "N", "")))
        key = pd.MultiIndex.from_arrays([long["patient_id"], long["visit"], np.full(len(long), instrument)])
        scores = pd.DataFrame({
            "patient_id": long["patient_id"], "visit": long["visit"], "cat": cat,
            "testcd": long["score"].map({k: v[0] for k, v in codes.scores.items()}),
            "test": long["score"].map({k: v[1] for k, v in codes.scores.items()}),
            "orres": text, "stresn": long["value"].where(~is_bool, np.nan),
            "drv": "Y", "inst_order": order, "rank": long["score"].map(score_rank),
            "date": pd.Series(when.reindex(key).to_numpy(), index=long.index, dtype="datetime64[ns]"),
            "reason": _REASON_SCORE,
        })
        parts.extend([items, scores])
    quest = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["patient_id", "visit", "cat", "testcd", "test", "orres", "stresn", "drv", "inst_order", "rank", "date",
                 "reason"])
    return quest


def qs_domain(ctx: SdtmContext) -> tuple[str, str, pd.DataFrame, pd.DataFrame]:
    """QS: every questionnaire item, every derived score (QSDRVFL="Y"), the pain diary.

    QSDTC is ``questionnaires.completed_date`` (a derived score takes the date of its items);
    a record without it has a blank QSDTC and a :class:`~ketapain.errors.ConformanceWarning`
    names the questionnaires. EPOCH comes from SE (:meth:`SdtmContext.epoch_at`). A blank
    result has QSSTAT ``NOT DONE`` and QSREASND saying why. QSLOBXFL flags the last non-blank
    result of each subject x QSCAT x QSTESTCD dated on or before the first infusion (RFXSTDTC);
    an undated record counts by its planned study day (VISITDY <= 1).
    """
    q = ctx.data.questionnaires
    vnum, vlabel, vday, vepoch = ctx.visits()
    quest = _questionnaire_records(q)
    quest["date"] = pd.to_datetime(quest["date"]).astype("datetime64[ns]")
    quest["VISITNUM"] = quest["visit"].map(vnum).astype("float64")
    quest["VISIT"] = quest["visit"].map(vlabel).fillna(quest["visit"].astype("object").str.upper())
    quest["VISITDY"] = quest["visit"].map(vday).astype("float64")
    quest["EPOCH"] = ctx.epoch_at(quest["patient_id"], quest["date"], quest["visit"].map(vepoch).fillna(""))
    quest["tptnum"] = np.nan
    quest["tpt"] = ""
    quest["tptref"] = ""
    quest["block"] = 0
    quest["per"] = np.nan
    undated = quest[quest["date"].isna()]
    if len(undated):
        groups = undated.groupby(["patient_id", "visit", "cat"], sort=True).size()
        warn_blank("QS.QSDTC", [f"USUBJID={ctx.study_id}-{p} VISIT={vlabel.get(v, v)} QSCAT={c}"
                                for p, v, c in groups.index],
                   "questionnaires.completed_date is missing (SDTMIG 3.4 QS: QSDTC is expected)", records=len(undated))
    diary = _diary(ctx)
    qs = pd.concat([quest, diary], ignore_index=True)
    qs = qs.sort_values(["patient_id", "block", "VISITNUM", "visit", "inst_order", "per", "tptnum", "rank"],
                        kind="stable", na_position="last").reset_index(drop=True)
    qs["USUBJID"] = ctx.usubjid(qs["patient_id"])
    blank = (qs["orres"] == "").to_numpy()
    stat = np.where(blank, "NOT DONE", "")
    qs["date"] = pd.to_datetime(qs["date"]).astype("datetime64[ns]")
    cols: dict[str, Any] = {
        "STUDYID": ctx.study_id, "DOMAIN": "QS", "USUBJID": qs["USUBJID"], "QSSEQ": seq_numbers(qs),
        "QSTESTCD": qs["testcd"], "QSTEST": qs["test"], "QSCAT": qs["cat"], "QSORRES": qs["orres"],
        "QSSTRESC": qs["orres"], "QSSTRESN": qs["stresn"], "QSSTAT": stat,
        "QSREASND": np.where(blank, qs["reason"].fillna(""), ""), "QSLOBXFL": _lobxfl(qs, ctx),
        "QSDRVFL": qs["drv"], "VISITNUM": qs["VISITNUM"], "VISIT": qs["VISIT"], "VISITDY": qs["VISITDY"],
        "EPOCH": qs["EPOCH"], "QSDTC": iso_dates(qs["date"]),
        "QSDY": study_day(qs["date"], ctx.ref_date(qs["patient_id"])),
        "QSTPT": qs["tpt"], "QSTPTNUM": qs["tptnum"], "QSTPTREF": qs["tptref"],
    }
    frame, meta = build_dataset("QS", cols, _QS_SPEC)
    return "QS", "Questionnaires", frame, meta


def _lobxfl(qs: pd.DataFrame, ctx: SdtmContext) -> np.ndarray:
    """``"Y"`` on the last non-blank result before exposure of each patient x QSCAT x QSTESTCD."""
    ref = pd.to_datetime(ctx.ref_date(qs["patient_id"])).astype("datetime64[ns]").to_numpy()
    date = qs["date"].to_numpy()
    dated = ~pd.isna(date)
    before = np.where(dated, date <= ref, qs["VISITDY"].fillna(np.inf).to_numpy() <= 1)
    ok = (qs["orres"] != "").to_numpy() & before & ~pd.isna(ref)
    cand = qs.loc[ok, ["patient_id", "cat", "testcd", "date", "VISITDY"]].assign(_pos=np.flatnonzero(ok))
    cand = cand.sort_values(["date", "VISITDY", "_pos"], kind="stable", na_position="first")
    last = cand.drop_duplicates(["patient_id", "cat", "testcd"], keep="last")["_pos"].to_numpy()
    flag = np.full(len(qs), "", dtype=object)
    flag[last] = "Y"
    return flag


def _diary(ctx: SdtmContext) -> pd.DataFrame:
    """Diary records: one per patient x period x day x item, plus the pre-infusion pain (day 0)."""
    diary = ctx.data.diary
    items = list(ctx.protocol.diary.items)
    items = [i for i in items if i in diary.columns]
    codes = diary_codes(items)
    long = diary.melt(id_vars=["patient_id", "period", "day"], value_vars=items, var_name="item",
                      value_name="value")
    long["rank"] = long["item"].map({k: i for i, k in enumerate(items, start=1)})
    pre = ctx.alloc[["patient_id", "period", "pre_infusion_pain"]].rename(columns={"pre_infusion_pain": "value"})
    pre = pre.assign(day=0, item="__pre", rank=0)
    long = pd.concat([pre, long], ignore_index=True)
    dates = ctx.alloc.set_index(["patient_id", "period"])["infusion_date"]
    key = pd.MultiIndex.from_frame(long[["patient_id", "period"]])
    infusion = pd.Series(dates.reindex(key).to_numpy(), index=long.index)
    lo, hi = ctx.protocol.diary.scale
    pre_test = _PRE_INFUSION[1] if (lo, hi) == (0.0, 10.0) else _PRE_INFUSION[1].replace("NRS 0-10", f"{lo:g}-{hi:g} scale")
    all_codes = {**codes, "__pre": (_PRE_INFUSION[0], pre_test)}
    date = (pd.to_datetime(infusion) + pd.to_timedelta(long["day"], unit="D")).astype("datetime64[ns]")
    return pd.DataFrame({
        "patient_id": long["patient_id"], "visit": "", "cat": DIARY_CATEGORY,
        "testcd": long["item"].map({k: v[0] for k, v in all_codes.items()}),
        "test": long["item"].map({k: v[1] for k, v in all_codes.items()}),
        "orres": number_text(long["value"]), "stresn": long["value"].astype("float64"), "drv": "",
        "inst_order": 0, "rank": long["rank"], "VISITNUM": np.nan, "VISIT": "", "VISITDY": np.nan,
        "EPOCH": ctx.epoch_at(long["patient_id"], date, long["period"].map(epoch_label)), "date": date,
        "reason": _REASON_DIARY,
        "tptnum": long["day"].astype("float64"),
        "tpt": np.where(long["item"] == "__pre", "BEFORE INFUSION", "DAY " + long["day"].astype(str)),
        "tptref": "INFUSION " + long["period"].astype(str), "block": 1, "per": long["period"].astype("float64"),
    })
