"""Emergency unblinding of one patient's period: reason and user required, logged, nothing more revealed."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypedDict

from ketapain.errors import DataError
from ketapain.operations._kits import check_kit_code_kind, normalise_kit_code
from ketapain.operations._listfiles import load_randomisation_list
from ketapain.operations._randomisation import RandomisationList

__all__ = ["Unblinding", "unblind"]


class _LogRecord(TypedDict):
    """One line of the unblinding log (JSON)."""

    timestamp_utc: str
    event: str
    user: str
    reason: str
    protocol_id: str
    list_kind: str
    patient_id: str
    period: int
    kit_code: str
    list_commitment: str


@dataclass(frozen=True, slots=True)
class Unblinding:
    """One unblinded allocation: the treatment of one patient in one period, and nothing else.

    The sequence is deliberately absent: it would reveal the patient's other periods.
    """

    patient_id: str
    period: int
    treatment: str
    kit_code: str
    list_kind: str
    protocol_id: str
    timestamp_utc: str
    user: str
    reason: str

    def summary(self) -> str:
        test = " — TEST LIST, NOT FOR PATIENT USE" if self.list_kind == "test" else ""
        return "\n".join([
            f"EMERGENCY UNBLINDING ({self.list_kind}{test})",
            f"  study:     {self.protocol_id}",
            f"  patient:   {self.patient_id}",
            f"  period:    {self.period}",
            f"  kit:       {self.kit_code}",
            f"  treatment: {self.treatment}",
            f"  by {self.user} at {self.timestamp_utc} — reason: {self.reason}",
        ])

    def to_dict(self) -> dict[str, Any]:
        return {"patient_id": self.patient_id, "period": self.period, "treatment": self.treatment,
                "kit_code": self.kit_code, "list_kind": self.list_kind, "protocol_id": self.protocol_id,
                "timestamp_utc": self.timestamp_utc, "user": self.user, "reason": self.reason}


def unblind(
    pharmacy_list: RandomisationList | str | os.PathLike[str],
    target: str | tuple[str, int],
    *,
    reason: str,
    user: str,
    log_path: str | os.PathLike[str],
) -> Unblinding:
    """Reveal the treatment of one kit (or one patient x period), after logging the request.

    Parameters
    ----------
    pharmacy_list
        A :class:`RandomisationList`, or the folder of a written list (its commitment is
        checked first: a changed list is refused).
    target
        A kit code (as typed: case and spaces do not matter), or ``(patient_id, period)``.
    reason, user
        Why and by whom; both required and non-blank.
    log_path
        The audit log (JSON lines), appended to — and flushed to disk — *before* the
        treatment is returned; if it cannot be written, nothing is revealed. Each line holds
        ``timestamp_utc, event, user, reason, protocol_id, list_kind, patient_id, period,
        kit_code, list_commitment`` — never the treatment, so the log itself stays blinded.

    Returns
    -------
    Unblinding
        Patient, period, treatment and kit of that one allocation — no sequence, no other period.

    Raises
    ------
    ListKindMismatchError
        A test kit code against the production list, or a production code against a test list.
    CommitmentMismatchError
        The list folder's ``pharmacy.csv`` no longer matches its commitment.
    DataError
        Blank reason or user, unknown kit or patient/period, log not writable.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise DataError("reason: an emergency unblinding needs a non-empty reason")
    if not isinstance(user, str) or not user.strip():
        raise DataError("user: an emergency unblinding needs the name of the person asking")
    rlist = pharmacy_list if isinstance(pharmacy_list, RandomisationList) else load_randomisation_list(pharmacy_list)
    table = rlist.table
    if isinstance(target, str):
        code = normalise_kit_code(target)
        if not code:
            raise DataError("kit code: empty")
        check_kit_code_kind(code, rlist.kind)
        hit = table.index[table["kit_code"] == code]
        if len(hit) == 0:
            raise DataError(f"kit code {code!r} is not in the {rlist.kind} list of {rlist.protocol_id}")
    else:
        try:
            patient_id, period = target
            period = int(period)
        except (TypeError, ValueError):
            raise DataError(f"target={target!r}: give a kit code or (patient_id, period)") from None
        hit = table.index[(table["patient_id"] == str(patient_id)) & (table["period"] == period)]
        if len(hit) == 0:
            raise DataError(f"patient {patient_id!r} period {period}: not in the {rlist.kind} list of "
                            f"{rlist.protocol_id}")
    row = table.loc[hit[0]]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    record: _LogRecord = {
        "timestamp_utc": now,
        "event": "emergency_unblinding",
        "user": user.strip(),
        "reason": reason.strip(),
        "protocol_id": rlist.protocol_id,
        "list_kind": rlist.kind,
        "patient_id": str(row["patient_id"]),
        "period": int(row["period"]),
        "kit_code": str(row["kit_code"]),
        "list_commitment": rlist.commitment,
    }
    line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    log = Path(log_path)
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise DataError(f"{log}: cannot write the unblinding log ({exc}); nothing was unblinded") from None
    return Unblinding(
        patient_id=record["patient_id"],
        period=record["period"],
        treatment=str(row["treatment"]),
        kit_code=record["kit_code"],
        list_kind=rlist.kind,
        protocol_id=rlist.protocol_id,
        timestamp_utc=now,
        user=record["user"],
        reason=record["reason"],
    )

