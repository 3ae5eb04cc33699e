"""Every exception and warning ketapain raises, in one place.

Hierarchy
---------
::

    KetapainError                      base of all our exceptions
    ├── ProtocolError(ValueError)      a protocol file or setting is invalid
    ├── DataError(ValueError)          a table, file, row or value is invalid
    ├── InstrumentError(ValueError)    questionnaire answers cannot be scored
    └── ModelError(ValueError)         a statistical model cannot be fitted as asked

    KetapainWarning(UserWarning)       base of all our warnings
    ├── SingularFitWarning             a variance component is estimated on its boundary (0)
    ├── ConvergenceWarning             an optimiser stopped before its tolerance
    ├── TwoStageTestingWarning         the carry-over pre-test / drop strategy was used
    └── ImputationWarning              values could not be imputed and stay missing

Every message says what is wrong, where (file, row, column, parameter) and what is
allowed, e.g. ``diary.csv row 17: avg_pain=11 is outside 0..10``.

Row numbers in messages are always spreadsheet rows: the header is row 1, so the table row at
0-based position ``i`` (``frame.iloc[i]``) is row ``i + FIRST_DATA_ROW`` — for a CSV file and an
in-memory DataFrame alike, so a message means the same line whichever way the data came in.
"""

from __future__ import annotations

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "FIRST_DATA_ROW",
    "ImputationWarning",
    "InstrumentError",
    "KetapainError",
    "KetapainWarning",
    "ModelError",
    "ProtocolError",
    "SingularFitWarning",
    "TwoStageTestingWarning",
]


FIRST_DATA_ROW = 2
"""Row number of a table's first data row in messages (the header is row 1)."""


class KetapainError(Exception):
    """Base class of every exception raised by ketapain."""


class ProtocolError(KetapainError, ValueError):
    """A protocol file or protocol setting is invalid."""


class DataError(KetapainError, ValueError):
    """A data table, file, row or value is invalid (message names file, row, column, value)."""


class InstrumentError(KetapainError, ValueError):
    """Questionnaire answers cannot be scored (unknown item, value out of range...)."""


class ModelError(KetapainError, ValueError):
    """A statistical model cannot be fitted to the data as specified."""


class KetapainWarning(UserWarning):
    """Base class of every warning issued by ketapain."""


class SingularFitWarning(KetapainWarning):
    """A variance component was estimated on the boundary of its space (exactly 0)."""


class ConvergenceWarning(KetapainWarning):
    """An optimiser stopped before reaching its convergence tolerance."""


class TwoStageTestingWarning(KetapainWarning):
    """Carry-over was pre-tested and dropped/kept: two-stage testing biases the treatment test."""


class ImputationWarning(KetapainWarning):
    """Some missing values could not be imputed and remain missing."""
