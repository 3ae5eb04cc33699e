"""Issue 17, inputs: every HTML form of the pages, each field in turn given a hostile value (a
400-digit number, 1e400, NaN, a NUL character, 20,000 characters, a negative number, a date in
year 99999, markup), the other fields as the page filled them. No answer may be a 5xx, and a 4xx
page must say which field is wrong when the value reached validation. Bounded: the forms of the
pages below, one request per field and value, on SQLite and PostgreSQL."""

from __future__ import annotations

from html.parser import HTMLParser

from .conftest import Web
from .test_pages import new_patient

HOSTILE = ("9" * 400, "1e400", "NaN", "a\x00b", "x" * 20_000, "-5", "99999-01-01", "<script>x</script>")

SKIP_ACTIONS = ("/logout", "/lock", "/unlock", "/language")
"""Forms whose effect would end the crawl (logging out, locking the study) or that hold no data."""


class _Forms(HTMLParser):
    """The POST forms of a page: action and the fields with the values the page gave them."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._current: dict[str, str] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post":
            self._current = {}
            self.forms.append((a.get("action", ""), self._current))
        elif self._current is not None and tag in ("input", "textarea") and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a and a["name"] in self._current:
                return
            self._current.setdefault(a["name"], a.get("value", ""))
        elif self._current is not None and tag == "select":
            self._select = a.get("name")
        elif self._current is not None and tag == "option" and self._select and self._select not in self._current:
            self._current[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "select":
            self._select = None


def _forms(web: Web, path: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Forms()
    parser.feed(web.get(path).text)
    return [(action, fields) for action, fields in parser.forms if action and not action.startswith(SKIP_ACTIONS)]


def test_no_form_field_value_gives_a_server_error(webs):
    nurse, admin = webs["nurse"], webs["admin"]
    pid = new_patient(nurse)
    pages = {nurse: ["/", "/patients", "/screening", f"/patients/{pid}", f"/patients/{pid}/questionnaire?visit=inclusion&instrument=bpi"],
             admin: ["/users", "/queries"]}
    seen: set[tuple[str, str]] = set()
    failures: list[str] = []
    sent = 0
    for web, paths in pages.items():
        for path in paths:
            for action, fields in _forms(web, path):
                for name in sorted(fields):
                    if name == "csrf_token" or (action, name) in seen:
                        continue
                    seen.add((action, name))
                    for value in HOSTILE:
                        r = web.post(action, fields | {name: value})
                        sent += 1
                        if r.status_code >= 500:
                            failures.append(f"{action} {name}={value[:20]!r}: {r.status_code}")
    assert sent > 200, sent  # the crawl found the forms (a control of the test itself)
    assert failures == [], "\n".join(failures[:20])
