"""The trial data model: :class:`TrialData`, its table schemas, validation and files.

Every path through ketapain meets at a :class:`TrialData`: seven tidy pandas tables
(``patients``, ``allocation``, ``diary``, ``questionnaires``, ``adverse_events``,
``concomitant``, ``screening``) plus ``meta``. The schemas are data (:data:`SCHEMAS`);
``docs/data-model.md`` describes every table and column.

Examples
--------
>>> from ketapain.data import SCHEMAS, TrialData
>>> SCHEMAS["allocation"].key
('patient_id', 'period')
>>> TrialData.from_tables().diary.columns.tolist()[:4]
['patient_id', 'period', 'day', 'avg_pain']
"""

from __future__ import annotations

from ._check import (
    LENIENT_KINDS,
    PROBLEM_KINDS,
    CheckResult,
    DataContract,
    Problem,
    check_trial,
    template_columns,
)
from ._io import FORMATS, META_FILE, read_meta
from ._long import LONG_FACTORS, LongProblem, check_long, is_checked_long, read_long_csv
from ._schema import (
    CAUSALITIES,
    DEFAULT_DIARY_SCALE,
    DRUG_CLASSES,
    PAIN_COLUMNS,
    PAIN_TYPES,
    RACES,
    SCHEMAS,
    SEVERITIES,
    TABLE_NAMES,
    Column,
    DType,
    TableSchema,
)
from ._trial import DEFAULT_MAX_ERRORS, TrialData, read_trial, write_trial
from ._validate import FIRST_DATA_ROW

__all__ = [
    "CAUSALITIES",
    "CheckResult",
    "Column",
    "DEFAULT_DIARY_SCALE",
    "DEFAULT_MAX_ERRORS",
    "DRUG_CLASSES",
    "DType",
    "DataContract",
    "FIRST_DATA_ROW",
    "FORMATS",
    "LENIENT_KINDS",
    "LONG_FACTORS",
    "LongProblem",
    "META_FILE",
    "PAIN_COLUMNS",
    "PAIN_TYPES",
    "PROBLEM_KINDS",
    "Problem",
    "RACES",
    "SCHEMAS",
    "SEVERITIES",
    "TABLE_NAMES",
    "TableSchema",
    "TrialData",
    "check_long",
    "check_trial",
    "is_checked_long",
    "read_long_csv",
    "read_meta",
    "read_trial",
    "template_columns",
    "write_trial",
]
