"""Every exception and warning ketapain raises, in one place.

Hierarchy
---------
::

    KetapainError                      base of all our exceptions
    ├── ProtocolError(ValueError)      a protocol file or setting is invalid
    ├── DataError(ValueError)          a table, file, row or value is invalid
    ├── InstrumentError(ValueError)    questionnaire answers cannot be scored
    ├── ModelError(ValueError)         a statistical model cannot be fitted as asked
    └── CaptureError                   the capture web app refuses a request (service layer)
        ├── AuthenticationFailed(PermissionError)  wrong or missing credentials        -> HTTP 401
        ├── PermissionDenied(PermissionError)      the role may not do this            -> HTTP 403
        ├── NotFound(LookupError)                  no such record                      -> HTTP 404
        ├── Conflict(ValueError)                   clashes with stored data            -> HTTP 409
        │   └── StudyLocked                        the database is locked              -> HTTP 409
        └── RateLimited(PermissionError)           too many failed logins              -> HTTP 429

    KetapainWarning(UserWarning)       base of all our warnings
    ├── SingularFitWarning             a variance component is estimated on its boundary (0)
    ├── ConvergenceWarning             an optimiser stopped before its tolerance
    ├── TwoStageTestingWarning         the carry-over pre-test / drop strategy was used
    └── ImputationWarning              values could not be imputed and stay missing

The capture app maps its errors to HTTP status codes as shown; :class:`DataError` and
:class:`InstrumentError` (bad input) become 422 there.

Every message says what is wrong, where (file, row, column, parameter) and what is
allowed, e.g. ``diary.csv row 17: avg_pain=11 is outside 0..10``.

Row numbers in messages are always spreadsheet rows: the header is row 1, so the table row at
0-based position ``i`` (``frame.iloc[i]``) is row ``i + FIRST_DATA_ROW`` — for a CSV file and an
in-memory DataFrame alike, so a message means the same line whichever way the data came in.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationFailed",
    "CaptureError",
    "Conflict",
    "ConvergenceWarning",
    "DataError",
    "FIRST_DATA_ROW",
    "ImputationWarning",
    "InstrumentError",
    "KetapainError",
    "KetapainWarning",
    "ModelError",
    "NotFound",
    "PermissionDenied",
    "ProtocolError",
    "RateLimited",
    "SingularFitWarning",
    "StudyLocked",
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


class CaptureError(KetapainError):
    """Base class of the capture app's errors (service layer; the API maps them to HTTP codes)."""


class AuthenticationFailed(CaptureError, PermissionError):
    """Wrong or missing credentials (user name, password, session or patient token)."""


class PermissionDenied(CaptureError, PermissionError):
    """The user's role may not do this (the message never names blinded data)."""


class NotFound(CaptureError, LookupError):
    """No such record."""


class Conflict(CaptureError, ValueError):
    """The request clashes with stored data (a duplicate, a closed query, a used slot...)."""


class StudyLocked(Conflict):
    """The database is locked: writes are refused until the documented unlock."""


class RateLimited(CaptureError, PermissionError):
    """Too many failed logins; ``retry_after_s`` (seconds) says when to try again."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


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
