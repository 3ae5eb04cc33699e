"""Mark up one ``<form>`` of a drawn page with what was refused (issue 17: the message beside
the field).

:func:`annotate_form` takes the HTML of the page the form came from (freshly rendered: the
CSRF token and the hidden fields are the page's own), finds the form posting to a path, puts
the submitted values back into its fields (never a password), and adds, for each problem, a
``<p class="field-error" id="err-<name>">`` right after the field (after its ``<label>`` when
the field sits inside one, after its ``<fieldset>`` for a group of radio buttons), the
field's ``aria-invalid``/``aria-describedby``, and a summary with links to the fields at the
top of the form. The page is parsed with :class:`html.parser.HTMLParser` for the positions of
its elements; the page's text is edited at those positions only, every inserted value
escaped.

>>> page = ('<main><form method="post" action="/x"><label>Age <input name="age" type="number"></label>'
...         '<input type="password" name="password"><button>Save</button></form></main>')
>>> problems = [FieldProblem("age", "Age", "outside the allowed range")]
>>> out = annotate_form(page, "/x", [("age", "<b>200</b>"), ("password", "secret")], problems, heading="Not valid")
>>> 'value="&lt;b&gt;200&lt;/b&gt;"' in out and "secret" not in out
True
>>> out.index('name="age"') < out.index('id="err-age"') < out.index('name="password"')
True
>>> 'aria-invalid="true"' in out and 'href="#field-age"' in out
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

from markupsafe import escape as _markup_escape

__all__ = ["FieldProblem", "annotate_form"]

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})
_NOT_FILLED = frozenset({"hidden", "password", "submit", "button", "reset", "image", "file"})
_BROWSER_KEEPS = {"number": re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"), "date": re.compile(r"\d{4}-\d{2}-\d{2}")}
"""The values a number or date field shows; another sent value comes back in a text field."""
_PREFIXES = ("item_", "a_", "c_", "dn4_")
"""Form names built from a model field or an item key: ``item_<key>`` (questionnaires),
``a_``/``c_``/``dn4_`` (screening answers, criteria, DN4 items)."""


@dataclass(slots=True)
class FieldProblem:
    """One refused entry: the field it names (a model field, ``answers.age``, an item key, or
    ``form``), its label when known, and the text to show in the page's language."""

    field: str
    label: str | None
    text: str
    verbatim: bool = False  # English text of the validator or the service, marked lang="en"


@dataclass(slots=True, eq=False)
class _El:
    tag: str
    attrs: list[tuple[str, str | None]]
    start: int
    start_end: int
    parent: _El | None
    end: int = -1
    end_end: int = -1
    text: list[str] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        return next((v for k, v in self.attrs if k == name), None)

    def within(self, other: _El) -> bool:
        node = self.parent
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False


class _Tree(HTMLParser):
    """The elements of a page with their positions (offsets of the start and end tags)."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.lines = [0] + [m.end() for m in re.finditer("\n", html)]
        self.elements: list[_El] = []
        self.stack: list[_El] = []
        self.feed(html)
        self.close()
        for el in self.stack:  # never closed: ends where the page ends
            el.end = el.end_end = len(html)

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.lines[line - 1] + col

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        el = _El(tag, attrs, start, start + len(self.get_starttag_text() or ""), self.stack[-1] if self.stack else None)
        self.elements.append(el)
        if tag in _VOID:
            el.end = el.end_end = el.start_end
        else:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        el = _El(tag, attrs, start, start + len(self.get_starttag_text() or ""), self.stack[-1] if self.stack else None)
        el.end = el.end_end = el.start_end
        self.elements.append(el)

    def handle_endtag(self, tag: str) -> None:
        start = self._offset()
        end = self.html.find(">", start) + 1 or len(self.html)
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                for inner in self.stack[i + 1:]:  # closed implicitly (e.g. a <p> left open)
                    inner.end = inner.end_end = start
                self.stack[i].end, self.stack[i].end_end = start, end
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        for i, el in enumerate(self.stack):  # the visible text of labels and legends (not a select's options)
            if el.tag in ("label", "legend", "option") and not any(e.tag in ("select", "textarea") for e in self.stack[i + 1:]):
                el.text.append(data)


def escape(text: str) -> str:
    """``text`` escaped for HTML as the templates escape it (Jinja's markupsafe: ``'`` -> ``&#39;``)."""
    return str(_markup_escape(text))


def _text(el: _El) -> str:
    return " ".join("".join(el.text).split())


def _start_tag(el: _El, attrs: list[tuple[str, str | None]]) -> str:
    parts = "".join(f" {k}" if v is None else f' {k}="{escape(v)}"' for k, v in attrs)
    return f"<{el.tag}{parts}>"


def _set(attrs: list[tuple[str, str | None]], name: str, value: str | None, *, present: bool = True) -> list[tuple[str, str | None]]:
    out = [(k, v) for k, v in attrs if k != name]
    return [*out, (name, value)] if present else out


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)


def _pick_form(tree: _Tree, action_path: str, submitted: dict[str, list[str]]) -> _El | None:
    """The form posting to ``action_path``; among several, the one whose hidden fields match
    what was sent (e.g. ``action=revoke``), then the one with most of the sent names."""
    best: tuple[int, _El] | None = None
    for form in (e for e in tree.elements if e.tag == "form"):
        if (form.get("method") or "get").lower() != "post" or urlsplit(unescape(form.get("action") or "")).path != action_path:
            continue
        inputs = [e for e in tree.elements if e.within(form) and e.tag in ("input", "select", "textarea") and e.get("name")]
        hidden = [e for e in inputs if e.tag == "input" and (e.get("type") or "").lower() == "hidden"]
        if any(e.get("name") in submitted and (e.get("value") or "") not in submitted[e.get("name") or ""] for e in hidden):
            continue
        score = len({e.get("name") for e in inputs} & submitted.keys())
        if best is None or score > best[0]:
            best = (score, form)
    return best[1] if best else None


def _name_of(problem: str, names: Sequence[str]) -> str | None:
    """The form field a problem's field names: itself, its last part, or a prefixed form name."""
    last = problem.split(".")[-1]
    for candidate in (problem, last, *(p + last for p in _PREFIXES)):
        if candidate in names:
            return candidate
    return None


class _Edits:
    def __init__(self) -> None:
        self.tags: dict[int, tuple[_El, list[tuple[str, str | None]]]] = {}
        self.inserts: list[tuple[int, int, str]] = []
        self.replaces: list[tuple[int, int, str]] = []

    def attrs(self, el: _El) -> list[tuple[str, str | None]]:
        return self.tags.get(id(el), (el, list(el.attrs)))[1]

    def retag(self, el: _El, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[id(el)] = (el, attrs)

    def insert(self, at: int, text: str) -> None:
        self.inserts.append((at, len(self.inserts), text))

    def apply(self, html: str) -> str:
        spans = [(el.start, el.start_end, _start_tag(el, attrs)) for el, attrs in self.tags.values()]
        spans += [(a, b, t) for a, b, t in self.replaces]
        spans += [(at, at, text) for at, _, text in sorted(self.inserts)]
        out, pos = [], 0
        for a, b, text in sorted(spans, key=lambda s: (s[0], s[1] != s[0])):
            out.append(html[pos:a])
            out.append(text)
            pos = max(pos, b)
        out.append(html[pos:])
        return "".join(out)


def _fill(tree: _Tree, controls: list[_El], submitted: dict[str, list[str]], edits: _Edits) -> None:
    """The submitted values back in the fields (text, number, date, select, radio, checkbox,
    textarea); hidden fields, passwords and buttons keep the fresh page's."""
    seen: dict[str, int] = {}
    for el in controls:
        name = el.get("name") or ""
        kind = (el.get("type") or "text").lower() if el.tag == "input" else el.tag
        if kind in _NOT_FILLED or "password" in name.lower():
            continue
        values = submitted.get(name)
        if kind in ("radio", "checkbox"):
            edits.retag(el, _set(edits.attrs(el), "checked", None, present=(el.get("value") or "on") in (values or [])))
        elif values is None:
            continue
        elif el.tag == "select":
            for opt in (e for e in tree.elements if e.tag == "option" and e.within(el)):
                value = opt.get("value") if opt.get("value") is not None else _text(opt)
                edits.retag(opt, _set(edits.attrs(opt), "selected", None, present=value in values))
        elif el.tag == "textarea":
            edits.replaces.append((el.start_end, el.end, escape(values[0])))
        else:
            i = seen[name] = seen.get(name, -1) + 1
            value = values[min(i, len(values) - 1)]
            attrs = _set(edits.attrs(el), "value", value)
            if value and not _BROWSER_KEEPS.get(kind, re.compile(".*")).fullmatch(value):
                attrs = _set(attrs, "type", "text")  # a browser would blank it: shown as sent
            edits.retag(el, attrs)


def _anchor(group: list[_El], form: _El, fields: list[_El]) -> int:
    """Where a field's message goes: after its fieldset (a group of radio buttons alone in
    one), else after its label, else right after the field."""
    last = group[-1]
    if (last.get("type") or "").lower() in ("radio", "checkbox"):
        node = last.parent
        while node is not None and node is not form and node.tag != "fieldset":
            node = node.parent
        if node is not None and node.tag == "fieldset" and all(e in group for e in fields if e.within(node)) \
                and all(e.within(node) for e in group):
            return node.end_end
    node = last.parent
    while node is not None and node is not form:
        if node.tag == "label":
            return node.end_end
        node = node.parent
    return last.end_end


def _label(group: list[_El], tree: _Tree) -> str | None:
    """The field's own label on the page: its <label>, or the legend of its radio group."""
    first = group[0]
    group_of_choices = len(group) > 1 and (first.get("type") or "").lower() in ("radio", "checkbox")
    node = first.parent
    while node is not None:
        if node.tag == "label" and not group_of_choices:  # a radio button's own label is its choice ("Yes")
            return _text(node) or None
        if node.tag == "fieldset":
            legend = next((e for e in tree.elements if e.tag == "legend" and e.parent is node), None)
            return _text(legend) if legend is not None else None
        node = node.parent
    ident = first.get("id")
    target = next((e for e in tree.elements if e.tag == "label" and ident and e.get("for") == ident), None)
    return _text(target) if target is not None else None


def annotate_form(html: str, action_path: str, submitted: Sequence[tuple[str, str]], problems: Sequence[FieldProblem], *,
                  heading: str = "", detail: str = "", notice: str = "", title: str = "", fill: bool = True,
                  summary: bool = True) -> str | None:
    """``html`` with the form posting to ``action_path`` marked up (module docstring); None when
    the page has no such form. ``detail`` (HTML) closes the summary (the service's message);
    ``notice`` (plain text), when given, heads the page's ``<main>`` with a link to the summary;
    ``title`` (plain text), when given, starts the page's ``<title>``. ``fill=False`` leaves the
    fields' values as drawn, ``summary=False`` adds the messages beside the fields only (a page
    listing the problems itself: the correction form)."""
    tree = _Tree(html)
    sent: dict[str, list[str]] = {}
    for k, v in submitted:
        sent.setdefault(k, []).append(v)
    form = _pick_form(tree, action_path, sent)
    if form is None:
        return None
    controls = [e for e in tree.elements if e.within(form) and e.tag in ("input", "select", "textarea") and e.get("name")]
    fields = [e for e in controls if (e.get("type") or "").lower() not in ("hidden", "submit", "button", "reset", "image")]
    groups: dict[str, list[_El]] = {}
    for e in fields:
        groups.setdefault(e.get("name") or "", []).append(e)
    edits = _Edits()
    if fill:
        _fill(tree, controls, sent, edits)
    by_name: dict[str, list[FieldProblem]] = {}
    rows = []
    for p in problems:
        name = _name_of(p.field, list(groups))
        if name is not None:
            by_name.setdefault(name, []).append(p)
        rows.append((p, name))
    ids: dict[str, str] = {}
    for n, (name, plist) in enumerate(by_name.items()):
        group, err_id = groups[name], f"err-{_slug(name)}"
        for i, el in enumerate(group):
            attrs = edits.attrs(el)
            described = " ".join(filter(None, [el.get("aria-describedby"), err_id]))
            attrs = _set(_set(attrs, "aria-invalid", "true"), "aria-describedby", described)
            if i == 0:
                ids[name] = el.get("id") or f"field-{_slug(name)}"
                attrs = _set(attrs, "id", ids[name])
                if n == 0:
                    attrs = _set(attrs, "autofocus", None)
            edits.retag(el, attrs)
        text = "; ".join(_message(p) for p in plist)
        edits.insert(_anchor(group, form, fields), f'<p class="field-error" id="{err_id}" data-testid="field-error" '
                                                     f'data-field="{escape(name)}">{text}</p>')
    if not summary:
        return edits.apply(html)
    items = []
    for p, name in rows:
        label = escape(p.label or (_label(groups[name], tree) if name else None) or p.field)
        where = f'<a href="#{escape(ids[name])}">{label}</a>' if name else label
        items.append(f'<li data-field="{escape(name or p.field)}">{where}: {_message(p)}</li>')
    box = (f'<div class="form-errors" id="form-errors" role="alert" data-testid="form-errors"><p>{escape(heading)}</p>'
           + (f"<ul>{''.join(items)}</ul>" if items else "") + detail + "</div>")
    edits.insert(form.start_end, box)
    main = next((e for e in tree.elements if e.tag == "main"), None)
    if notice and main is not None and form.start > main.start:
        edits.insert(main.start_end, f'<p class="banner" data-testid="form-errors-link"><a href="#form-errors">{escape(notice)}</a></p>')
    head = next((e for e in tree.elements if e.tag == "title"), None)
    if title and head is not None:
        edits.insert(head.start_end, f"{escape(title)} · ")
    return edits.apply(html)


def _message(p: FieldProblem) -> str:
    return f'<span lang="en" data-verbatim>{escape(p.text)}</span>' if p.verbatim else escape(p.text)
