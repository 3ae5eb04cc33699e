"""Shared helpers of the analysis plan: input checks, arm roles, visit-to-period mapping and
JSON-safe conversion. Private; used by every section module (warnings: ``_warnings``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ketapain._json import json_safe
from ketapain.data import TrialData
from ketapain.errors import FIRST_DATA_ROW, DataError
from ketapain.protocol import Protocol

__all__ = [
    "BASELINE",
    "active_arms",
    "check_inputs",
    "json_safe",
    "numeric_diary_items",
    "period_end_days",
    "protocol_order",
    "reference_arm",
    "visit_periods",
]

#: Label of the baseline time point in questionnaire frames.
BASELINE = "baseline"


def reference_arm(protocol: Protocol) -> str:
    """The placebo arm (all components placebo); the first arm when no arm is all placebo."""
    for arm in protocol.arms:
        if arm.is_placebo:
            return arm.code
    return protocol.arms[0].code


def active_arms(protocol: Protocol) -> tuple[str, ...]:
    """Arms with at least one non-placebo component, in protocol order."""
    return tuple(a.code for a in protocol.arms if any(not c.is_placebo for c in a.components))


def period_end_days(protocol: Protocol) -> dict[int, int]:
    """Day (relative to the first infusion, day 0) on which each period ends.

    Period ``k`` ends on day ``(k - 1) * (period_days + washout_days) + period_days``: with
    KETAPAIN's 35-day periods and no washout, days 35, 70 and 105.
    """
    step = protocol.design.period_days + (protocol.design.washout_days or 0)
    return {k: (k - 1) * step + protocol.design.period_days for k in range(1, protocol.design.periods + 1)}


def visit_periods(protocol: Protocol) -> tuple[str | None, dict[str, int]]:
    """``(baseline visit, {end-of-period visit: period})`` from the protocol's visit days.

    The baseline visit is the last visit on or before day 0 that lists questionnaires (the
    inclusion visit in KETAPAIN); if none qualifies, the earliest visit that ends no period;
    None if every visit ends a period (a trial whose questionnaires are only at the end of the
    periods has no baseline) or without visits. A visit whose day equals the end day of
    period ``k`` (:func:`period_end_days`) ends period ``k``.

    Examples
    --------
    >>> from ketapain.protocol import load_protocol
    >>> visit_periods(load_protocol("ketapain"))
    ('inclusion', {'end_period_1': 1, 'end_period_2': 2, 'end_period_3': 3})
    """
    visits = sorted(protocol.visits, key=lambda v: v.day)
    ends = {day: k for k, day in period_end_days(protocol).items()}
    before = [v for v in visits if v.day <= 0 and v.questionnaires]
    others = [v for v in visits if v.day not in ends]
    baseline = before[-1].name if before else others[0].name if others else None
    return baseline, {v.name: ends[v.day] for v in visits if v.day in ends}


def check_inputs(data: TrialData, protocol: Protocol) -> None:
    """Refuse data that do not belong to the protocol, naming the value and what is allowed.

    Raises
    ------
    DataError
        No allocation rows; an allocation treatment that is not an arm code; a period above
        the protocol's number of periods; a diary item of an endpoint missing from the diary;
        a diary item or ``pre_infusion_pain`` outside the protocol's diary scale (a TrialData
        does not store the scale it was checked against: built without ``diary_scale``, or with
        another one, its values are checked here).
    """
    if not isinstance(data, TrialData):
        raise DataError(f"data must be a TrialData, got {type(data).__name__}")
    alloc = data.allocation
    if alloc.empty:
        raise DataError("allocation has no rows: there is nothing to analyse")
    codes = protocol.arm_codes
    unknown = sorted(set(alloc["treatment"].astype(str)) - set(codes))
    if unknown:
        row = int(np.flatnonzero(~alloc["treatment"].astype(str).isin(codes))[0]) + FIRST_DATA_ROW
        raise DataError(
            f"allocation row {row}: treatment={unknown[0]!r} is not an arm of protocol "
            f"{protocol.study.id!r} (arms: {', '.join(codes)})"
            + (f"; other unknown codes: {', '.join(map(repr, unknown[1:]))}" if len(unknown) > 1 else "")
        )
    too_late = alloc["period"] > protocol.design.periods
    if too_late.any():
        row = int(np.flatnonzero(too_late.to_numpy())[0]) + FIRST_DATA_ROW
        raise DataError(
            f"allocation row {row}: period={int(alloc['period'].iloc[row - FIRST_DATA_ROW])} is above the "
            f"protocol's {protocol.design.periods} periods"
        )
    missing = sorted({e.value for e in protocol.endpoints} - set(data.diary.columns))
    if missing:
        raise DataError(f"diary has no column {', '.join(map(repr, missing))} (an endpoint's diary item)")
    _check_scale(data, protocol)


def _check_scale(data: TrialData, protocol: Protocol) -> None:
    """Every diary item of the protocol and ``allocation.pre_infusion_pain`` lies on the protocol's
    diary scale (values that are not numbers are left to :func:`numeric_diary_items`)."""
    lo, hi = protocol.diary.scale
    scale = f"{lo:g}..{hi:g}"
    diary, alloc = data.diary, data.allocation
    columns = [("diary", diary, item) for item in protocol.diary.items if item in diary.columns]
    columns.append(("allocation", alloc, "pre_infusion_pain"))
    for table, frame, column in columns:
        x = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        with np.errstate(invalid="ignore"):
            outside = np.flatnonzero((x < lo) | (x > hi))
        if len(outside):
            value = float(x[outside[0]])
            more = f" ({len(outside)} rows in all)" if len(outside) > 1 else ""
            raise DataError(f"{column}={value:g} is outside {scale}, the diary scale of protocol "
                            f"{protocol.study.id!r} ([diary] scale_min, scale_max){more}", located=True, source=table,
                            row=int(outside[0]) + FIRST_DATA_ROW, column=column, value=value, allowed=scale)


def numeric_diary_items(data: TrialData, protocol: Protocol) -> TrialData:
    """``data`` with every diary item of the protocol as numbers (``float64``).

    The reference study's items are typed schema columns; any other item of the protocol is an
    extra column of the diary, text when read from CSV. Those are converted here (a TrialData
    is rebuilt only when one needs it), so that nothing downstream depends on the item names.

    Raises
    ------
    DataError
        A value of such an item that is not a number (``ketapain check`` reports these as
        ``diary_value``), located at its diary row.
    """
    diary = data.diary
    text = [i for i in protocol.diary.items if i in diary.columns and not pd.api.types.is_float_dtype(diary[i])]
    if not text:
        return data
    for item in text:
        raw = diary[item]
        x = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero((raw.notna() & x.isna()).to_numpy(dtype=bool))
        if len(bad):
            scale = f"{protocol.diary.scale_min}..{protocol.diary.scale_max}"
            value = raw.iloc[int(bad[0])]
            raise DataError(f"{item}={value!r} is not a number (allowed: {scale}, empty = missing)", located=True,
                            source="diary", row=int(bad[0]) + FIRST_DATA_ROW, column=item, value=value, allowed=scale)
        diary[item] = x.astype("float64")
    return TrialData.from_tables(patients=data.patients, allocation=data.allocation, diary=diary,
                                 questionnaires=data.questionnaires, adverse_events=data.adverse_events,
                                 concomitant=data.concomitant, screening=data.screening, meta=data.meta,
                                 diary_scale=protocol.diary.scale)


def protocol_order(frame: pd.DataFrame, protocol: Protocol, keys: tuple[str, ...]) -> pd.DataFrame:
    """Sort rows by arm (``treatment``) and endpoint in protocol order, other keys as they are.

    Labels that are not arms (``baseline``, ``any_active``) sort before (``baseline``) or
    after the arms; unknown endpoint names sort last.
    """
    ranks: dict[str, dict[str, int]] = {
        "treatment": {BASELINE: -1, **{c: i for i, c in enumerate(protocol.arm_codes)}},
        "endpoint": {e.name: i for i, e in enumerate(protocol.endpoints)},
        "item": {name: i for i, name in enumerate(protocol.diary.items)},
    }
    cols = {}
    for k in keys:
        if k in ranks:
            cols[f"_rank_{k}"] = frame[k].map(ranks[k]).astype("float64").fillna(len(ranks[k]) + 1).to_numpy()
        else:
            cols[f"_rank_{k}"] = frame[k].to_numpy()
    tmp = frame.assign(**cols)
    return tmp.sort_values(list(cols), kind="stable").drop(columns=list(cols)).reset_index(drop=True)
