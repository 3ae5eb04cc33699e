"""Small helpers shared by the CLI commands."""

from __future__ import annotations

__all__ = ["name_files"]


def name_files(message: str, files: dict[str, str]) -> str:
    """Replace the table label that starts a library message by the file it came from.

    Library messages name in-memory tables ("diary row 3: ...", "data row 5: ...") with rows
    numbered like the file's lines (header = row 1), so only the label needs replacing.

    Examples
    --------
    >>> name_files("diary row 3: avg_pain=11 is outside 0..10", {"diary": "d.csv"})
    'd.csv row 3: avg_pain=11 is outside 0..10'
    >>> name_files("data: required column(s) 'y' missing", {"data": "x.csv"})
    "x.csv: required column(s) 'y' missing"
    """
    for label, filename in files.items():
        for sep in (" row", ":"):
            if message.startswith(label + sep):
                return filename + message[len(label):]
    return message
