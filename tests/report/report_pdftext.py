"""A minimal PDF text extractor for the tests, independent of fpdf2 (no PDF library installed).

It reads the file's objects, inflates FlateDecode streams, maps each font resource name to
its ToUnicode CMap (bfchar/bfrange entries) and decodes the strings shown by ``Tj``/``TJ``
in the page content streams. Enough for PDFs that use Type0 (2-byte) fonts with ToUnicode
maps, as fpdf2 writes them for TrueType fonts.
"""

from __future__ import annotations

import re
import zlib

_OBJ = re.compile(rb"(\d+) 0 obj")
_STREAM = re.compile(rb"stream\r?\n")
_LENGTH = re.compile(rb"/Length (\d+)(?! \d+ R)")


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Each object's dictionary and its (inflated) stream. A stream is read by its ``/Length``,
    not up to the next "endstream"/"endobj": compressed bytes can contain those words (a
    search for them cut some streams short, and zlib then failed on the truncated data)."""
    out = {}
    pos = 0
    while (m := _OBJ.search(pdf, pos)) is not None:
        end = pdf.index(b"endobj", m.end())
        s = _STREAM.search(pdf, m.end())
        length = _LENGTH.search(pdf, m.end(), s.start()) if s is not None and s.start() < end else None
        if s is None or length is None:
            out[int(m[1])] = (pdf[m.end():end], None)
            pos = end + 6
            continue
        body = pdf[m.end():s.start()]
        data = pdf[s.end():s.end() + int(length[1])]
        if b"/FlateDecode" in body:
            data = zlib.decompress(data)
        out[int(m[1])] = (body, data)
        pos = pdf.index(b"endobj", s.end() + int(length[1])) + 6
    return out


def _cmap(text: bytes) -> dict[int, str]:
    table: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.DOTALL):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.DOTALL):
        for a, b, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            start = int(dst, 16)
            for i, code in enumerate(range(int(a, 16), int(b, 16) + 1)):
                table[code] = chr(start + i)
    return table


def _literal(raw: bytes) -> bytes:
    """Undo the escapes of a PDF literal string (without its parentheses)."""
    out = bytearray()
    i = 0
    simple = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}
    while i < len(raw):
        c = raw[i]
        if c == 0x5C:  # backslash
            i += 1
            e = raw[i]
            if e in simple:
                out.append(simple[e])
            elif 0x30 <= e <= 0x37:
                digits = re.match(rb"[0-7]{1,3}", raw[i:i + 3]).group(0)
                out.append(int(digits, 8) & 0xFF)
                i += len(digits) - 1
            elif e in (0x0A, 0x0D):
                pass
            else:
                out.append(e)
        else:
            out.append(c)
        i += 1
    return bytes(out)


_TOKEN = re.compile(rb"/(\w+)\s+[\d.]+\s+Tf|\((?:\\.|[^\\)])*\)|\bET\b", re.DOTALL)


def pdf_text(pdf: bytes) -> str:
    """All text shown in the PDF, pieces joined by spaces and whitespace collapsed."""
    return " ".join(t for t in pdf_page_texts(pdf) if t)


def _page_objects(objects: dict[int, tuple[bytes, bytes | None]]) -> list[int]:
    """The page objects in reading order (the ``/Kids`` of the page tree, depth first)."""
    def walk(num: int) -> list[int]:
        head = objects[num][0]
        if re.search(rb"/Type\s*/Pages\b", head):
            kids = re.search(rb"/Kids\s*\[(.*?)\]", head, re.DOTALL)
            return [p for ref in re.findall(rb"(\d+) 0 R", kids.group(1) if kids else b"") for p in walk(int(ref))]
        return [num]

    roots = [n for n, (head, _) in objects.items() if re.search(rb"/Type\s*/Pages\b", head) and b"/Parent" not in head]
    return [p for root in roots for p in walk(root)]


def pdf_page_texts(pdf: bytes) -> list[str]:
    """The text shown on each page, in page order (pieces joined by spaces, whitespace collapsed)."""
    objects = _objects(pdf)
    font_cmap: dict[int, dict[int, str]] = {}
    for num, (head, _) in objects.items():
        m = re.search(rb"/ToUnicode\s+(\d+) 0 R", head)
        if b"/Type /Font" in head and m:
            font_cmap[num] = _cmap(objects[int(m.group(1))][1] or b"")
    names: dict[str, int] = {}
    for head, _ in objects.values():
        for name, ref in re.findall(rb"/(F\d+)\s+(\d+) 0 R", head):
            names[name.decode()] = int(ref)
    pages: list[str] = []
    for page in _page_objects(objects):
        pieces: list[str] = []
        refs = re.findall(rb"/Contents\s+(\d+) 0 R", objects[page][0])
        data = b"".join(objects[int(ref)][1] or b"" for ref in refs)
        cmap: dict[int, str] = {}
        for m in _TOKEN.finditer(data):
            tok = m.group(0)
            if m.group(1):
                cmap = font_cmap.get(names.get(m.group(1).decode(), -1), {})
            elif tok == b"ET":
                pieces.append(" ")
            else:
                raw = _literal(tok[1:-1])
                pieces.append("".join(cmap.get(int.from_bytes(raw[i:i + 2], "big"), "\ufffd")
                                      for i in range(0, len(raw) - 1, 2)))
        pages.append(re.sub(r"\s+", " ", "".join(pieces)).strip())
    return pages


def page_count(pdf: bytes) -> int:
    """Number of page objects (``/Type /Page``, not ``/Pages``)."""
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
