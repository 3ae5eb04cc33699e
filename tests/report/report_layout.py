"""Layout measurements of a rendered report in Chromium, for the layout tests (issue 19).

* :func:`overflowing_tables`: the display tables wider than their container, or reaching past
  the main column (what a 1280 px window or an A4 page would cut off or scroll).
* :func:`pdf_headings`: the headings of a PDF that Chromium printed with ``outline=True``, each
  with its page and the height of its top above the page's bottom edge, read from the outline's
  destinations (``/Dest [page /XYZ x y zoom]``), so a test can tell a heading left alone at the
  bottom of a page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_OBJ = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.DOTALL)

#: JavaScript returning, per display table, its id and how far it reaches past its wrapper and
#: the main column (CSS px; > 0 is cut off or needs scrolling).
_OVERFLOW_JS = """() => {
  const main = document.querySelector('main');
  const style = getComputedStyle(main);
  const mainRight = main.getBoundingClientRect().right - parseFloat(style.paddingRight);
  return [...document.querySelectorAll('table.display')].map(t => {
    const wrap = t.parentElement;
    return {id: t.id, table: t.scrollWidth, wrap: wrap.clientWidth,
            past_main: t.getBoundingClientRect().right - mainRight,
            past_wrap: t.scrollWidth - wrap.clientWidth};
  });
}"""


def overflowing_tables(page: Any, tolerance: float = 0.5) -> list[dict[str, Any]]:
    """The display tables of the loaded ``page`` that are wider than their wrapper or the main column."""
    rows = page.evaluate(_OVERFLOW_JS)
    return [r for r in rows if r["past_wrap"] > tolerance or r["past_main"] > tolerance]


@dataclass(frozen=True, slots=True)
class PdfHeading:
    """A heading of a Chromium PDF outline: its text, 0-based page and top's height above the page bottom (pt)."""

    title: str
    page: int
    top: float


def _text(raw: bytes) -> str:
    if raw.startswith(b"<"):
        data = bytes.fromhex(raw[1:-1].decode())
        return data[2:].decode("utf-16-be") if data.startswith(b"\xfe\xff") else data.decode("latin-1")
    body = raw[1:-1]
    body = re.sub(rb"\\([()\\])", rb"\1", body)
    return body[2:].decode("utf-16-be") if body.startswith(b"\xfe\xff") else body.decode("latin-1")


def pdf_headings(pdf: bytes) -> tuple[list[PdfHeading], int]:
    """The outline headings of a Chromium PDF (``page.pdf(outline=True)``) and the page count."""
    objects = {int(m.group(1)): m.group(2) for m in _OBJ.finditer(pdf)}
    pages: list[int] = []

    def walk(num: int) -> None:
        body = objects[num]
        if re.search(rb"/Type\s*/Pages\b", body):
            kids = re.search(rb"/Kids\s*\[(.*?)\]", body, re.DOTALL)
            for ref in re.findall(rb"(\d+) 0 R", kids.group(1) if kids else b""):
                walk(int(ref))
        else:
            pages.append(num)

    root = next(n for n, b in objects.items() if re.search(rb"/Type\s*/Pages\b", b) and b"/Parent" not in b)
    walk(root)
    index = {num: i for i, num in enumerate(pages)}
    out = []
    for body in objects.values():
        title = re.search(rb"/Title\s*(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f]*>)", body)
        dest = re.search(rb"/Dest\s*\[\s*(\d+) 0 R\s*/XYZ\s+([-\d.]+)\s+([-\d.]+)", body)
        if title and dest and int(dest.group(1)) in index:
            out.append(PdfHeading(_text(title.group(1)), index[int(dest.group(1))], float(dest.group(3))))
    return sorted(out, key=lambda h: (h.page, -h.top)), len(pages)
