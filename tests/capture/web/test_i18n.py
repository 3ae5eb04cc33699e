"""Every UI string exists in English and French: the locale files have the same keys and
the same ``{placeholders}``, every key the templates and page code use is defined, and every
page each role can reach, rendered in French, shows no raw key and no English UI phrase."""

from __future__ import annotations

import html
import re
import string
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ketapain.capture import roles
from ketapain.capture.web import _errors, i18n
from ketapain.data import CAUSALITIES, SEVERITIES
from ketapain.protocol import load_protocol

from .conftest import Web

WEB = Path(i18n.__file__).parent
EN, FR = i18n.load_locale("en"), i18n.load_locale("fr")


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def used_keys() -> set[str]:
    """Literal keys (``t('x.y')``) in the templates, plus the keys built from a prefix."""
    keys: set[str] = set()
    for f in (WEB / "templates").glob("*.html"):
        keys |= set(re.findall(r"\bt\('([a-z0-9_.]+)'", f.read_text()))
    prefixed = {k for k in keys if k.endswith(".")}
    keys -= prefixed
    code = "".join(f.read_text() for f in WEB.glob("_*.py"))
    keys |= {f"msg.{m}" for m in re.findall(r"[?&]msg=(\w+)", code)}
    keys |= {f"role.{r}" for r in roles.STAFF_ROLES} | {f"ae.sev.{s}" for s in SEVERITIES} | {f"ae.caus.{c}" for c in CAUSALITIES}
    keys |= {f"qry.status.{s}" for s in ("open", "answered", "closed")} | {f"err.{c}" for c in (401, 403, 404, 405, 409, 422, 429)}
    keys |= {"err.csrf", "err.generic"} | {f"err.type.{k}" for k in set(_errors._KINDS.values())}
    keys |= {f"diary.{i}" for i in ("avg_pain", "max_pain", "night_pain")}
    keys |= {f"chg.action.{a}" for a in ("lock", "unlock", "grant_role", "reset_password")}
    keys |= {f"users.status.{s}" for s in ("active", "disabled", "reset")}
    keys |= {f"chg.status.{s}" for s in ("pending", "approved", "rejected", "withdrawn")}
    assert prefixed == {"ae.caus.", "ae.sev.", "chg.action.", "chg.status.", "diary.", "err.type.", "msg.", "qry.status.",
                        "role.", "users.status."}, prefixed  # all covered above
    return keys


def test_locales_have_the_same_keys_and_placeholders():
    assert set(EN) == set(FR)
    for key in EN:
        assert EN[key].strip() and FR[key].strip(), key
        assert _fields(EN[key]) == _fields(FR[key]), key


@pytest.mark.parametrize("lang", i18n.LANGS)
def test_every_used_key_is_defined(lang):
    table = i18n.load_locale(lang)
    missing = sorted(k for k in used_keys() if k not in table)
    assert missing == []
    assert len(used_keys()) > 150   # the scan found the templates' keys


def test_french_differs_where_words_differ():
    assert FR["diary.save"] == "Enregistrer" and EN["diary.save"] == "Save"
    assert sum(EN[k] != FR[k] for k in EN) > 0.8 * len(EN)


# --- every page in French: no raw key, no English UI text ---------------------------------

class _Visible(HTMLParser):
    """The text a reader sees (text outside script/style, and placeholder/title/aria-label/
    button values), without elements marked ``data-verbatim`` (recorded text shown as stored:
    audit trail rows, the service's technical detail under its translated summary)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0
        self._verbatim: tuple[str, int] | None = None   # (tag, nesting depth)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self._verbatim and tag == self._verbatim[0]:
            self._verbatim = (tag, self._verbatim[1] + 1)
        elif self._verbatim is None and "data-verbatim" in a:
            self._verbatim = (tag, 1)
        if tag in ("script", "style"):
            self._skip += 1
        if self._verbatim:
            return
        self.parts += [a[k] for k in ("placeholder", "title", "aria-label") if a.get(k)]
        if tag == "input" and a.get("type") in ("submit", "button") and a.get("value"):
            self.parts.append(a["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if self._verbatim and tag == self._verbatim[0]:
            self._verbatim = (tag, self._verbatim[1] - 1) if self._verbatim[1] > 1 else None

    def handle_data(self, data):
        if not self._skip and not self._verbatim and data.strip():
            self.parts.append(data.strip())


def visible_text(page: str) -> str:
    parser = _Visible()
    parser.feed(page)
    return "\n".join(parser.parts)


_NAMESPACES = sorted({k.split(".")[0] for k in EN})
_RAW_KEY = re.compile(r"\b(?:" + "|".join(_NAMESPACES) + r")\.[a-z0-9_]+(?:\.[a-z0-9_]+)*\b")


def _english_phrases() -> list[str]:
    """English UI texts that French replaces: each fixed run of 2+ words between placeholders
    (single words are too often names or data to scan for)."""
    out = set()
    for key, text in EN.items():
        if text == FR[key]:
            continue
        for part in re.split(r"\{[^}]*\}", text):
            run = part.strip(" :;,.()·—-")
            if len(run.split()) >= 2 and run not in FR[key]:
                out.add(run)
    return sorted(out, key=len, reverse=True)


def untranslated(text: str, public: list[str]) -> list[str]:
    """Raw locale keys and English UI phrases in a French page's visible ``text`` (after the
    protocol's own text, which the protocol file decides, is removed)."""
    for p in public:
        text = text.replace(p, "")
    found = _RAW_KEY.findall(text)
    return found + [p for p in _english_phrases() if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text)]


def test_the_scan_finds_raw_keys_and_english():
    assert untranslated("Enregistrer\nnav.nope", []) == ["nav.nope"]
    assert EN["cb.record_infusion"] in untranslated(f"Période 1 — {EN['cb.record_infusion']}", [])
    assert untranslated("\n".join(FR.values()), []) == []
    page = '<p>Motif</p><table><tr data-verbatim><td>awaiting randomisation</td></tr></table><p title="Log out">x</p>'
    assert visible_text(page) == "Motif\nLog out\nx"


def test_every_page_in_french_for_every_role(app, webs):
    from .test_pages import ROLES, _link, _public_protocol_text, new_patient, page_matrix

    nurse = webs["nurse"]
    pid = new_patient(nurse)
    link = _link(nurse, pid)
    public = [html.unescape(t) for t in _public_protocol_text(load_protocol("ketapain"))]
    found: dict[str, list[str]] = {}
    for role in ROLES:
        web = webs[role]
        paths = [*page_matrix(pid), "/randomisation-list", "/audit?table=patients", "/patients/P999", f"/patients/{pid}/pharmacy/1"]
        for path in paths:
            sep = "&" if "?" in path else "?"
            r = web.get(f"{path}{sep}lang=fr")
            assert '<html lang="fr">' in r.text, (role, path)
            if bad := untranslated(visible_text(r.text), public):
                found[f"{role} {path}"] = bad
    patient = Web(app, lang="fr")
    for path in (link, f"{link}?period=1&day=1", "/login"):
        if bad := untranslated(visible_text(patient.get(path).text), public):
            found[f"patient {path}"] = bad
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
