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

from ._io import FORMATS, META_FILE
from ._long import LONG_FACTORS, LongProblem, check_long, is_checked_long, read_long_csv
from ._schema import (
    CAUSALITIES,
    DRUG_CLASSES,
    PAIN_TYPES,
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
    "Column",
    "DEFAULT_MAX_ERRORS",
    "DRUG_CLASSES",
    "DType",
    "FIRST_DATA_ROW",
    "FORMATS",
    "LONG_FACTORS",
    "LongProblem",
    "META_FILE",
    "PAIN_TYPES",
    "SCHEMAS",
    "SEVERITIES",
    "TABLE_NAMES",
    "TableSchema",
    "TrialData",
    "check_long",
    "is_checked_long",
    "read_long_csv",
    "read_trial",
    "write_trial",
]
