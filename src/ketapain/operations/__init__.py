"""Trial operations: randomisation lists, kit codes, blinded labels, commitment, unblinding;
eligibility, CONSORT flow, the period gate and infusion preparation.

See ``docs/randomisation.md`` and ``docs/operations.md``. The pharmacy list and its metadata are UNBLINDED; only the
label files (``labels.csv``, ``labels.html``) and the commitment may leave the pharmacy.

Exceptions raised here (defined in :mod:`ketapain.errors`, importable from here too; both
subclass :class:`~ketapain.errors.DataError`, hence ``KetapainError`` and ``ValueError``):
:class:`ListKindMismatchError` (test and production mixed up) and
:class:`CommitmentMismatchError` (a list that no longer matches its commitment).
"""

from __future__ import annotations

from ketapain._seeds import resolve_seed
from ketapain.design import protocol_sequences
from ketapain.errors import CommitmentMismatchError, ListKindMismatchError
from ketapain.operations._consort import ConsortFlow, PeriodFlow, consort_flow
from ketapain.operations._dosing import (
    MAX_RATE_ML_PER_H,
    MIN_RATE_ML_PER_H,
    Dispensing,
    InfusionPlan,
    PreparedBag,
    PreparedInjection,
    parse_strength,
    prepare_infusions,
)
from ketapain.operations._eligibility import (
    EligibilityResult,
    FailedCriterion,
    ScreeningQuestion,
    evaluate_eligibility,
    evaluate_screening,
    screening_questions,
)
from ketapain.operations._from_protocol import randomise_protocol
from ketapain.operations._gate import GateDecision, period_gate
from ketapain.operations._kits import (
    KIT_ALPHABET,
    KIT_CODE_LENGTH,
    TEST_PREFIX,
    ListKind,
    check_kit_code_kind,
    kit_codes,
    normalise_kit_code,
)
from ketapain.operations._listfiles import (
    COMMITMENT_FILE,
    LABELS_CSV,
    LABELS_HTML,
    LIST_FILES,
    META_FILE,
    PHARMACY_CSV,
    ListVerification,
    import_pharmacy_list,
    load_randomisation_list,
    verify_list,
    write_randomisation_list,
)
from ketapain.operations._randomisation import (
    ALGORITHM,
    LABEL_COLUMNS,
    MAX_LIST_KITS,
    MAX_LIST_PATIENTS,
    PHARMACY_COLUMNS,
    RandomisationList,
    make_randomisation_list,
    sequence_label,
)
from ketapain.operations._unblinding import Unblinding, unblind

__all__ = [
    "ALGORITHM",
    "COMMITMENT_FILE",
    "CommitmentMismatchError",
    "ConsortFlow",
    "Dispensing",
    "EligibilityResult",
    "FailedCriterion",
    "GateDecision",
    "InfusionPlan",
    "KIT_ALPHABET",
    "KIT_CODE_LENGTH",
    "LABELS_CSV",
    "LABELS_HTML",
    "LABEL_COLUMNS",
    "LIST_FILES",
    "ListKind",
    "ListKindMismatchError",
    "ListVerification",
    "MAX_LIST_KITS",
    "MAX_LIST_PATIENTS",
    "MAX_RATE_ML_PER_H",
    "META_FILE",
    "MIN_RATE_ML_PER_H",
    "PHARMACY_COLUMNS",
    "PHARMACY_CSV",
    "PeriodFlow",
    "PreparedBag",
    "PreparedInjection",
    "RandomisationList",
    "ScreeningQuestion",
    "TEST_PREFIX",
    "Unblinding",
    "check_kit_code_kind",
    "consort_flow",
    "evaluate_eligibility",
    "evaluate_screening",
    "import_pharmacy_list",
    "kit_codes",
    "load_randomisation_list",
    "make_randomisation_list",
    "normalise_kit_code",
    "parse_strength",
    "period_gate",
    "prepare_infusions",
    "protocol_sequences",
    "randomise_protocol",
    "resolve_seed",
    "screening_questions",
    "sequence_label",
    "unblind",
    "verify_list",
    "write_randomisation_list",
]
