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
from sqlalchemy import select

from ketapain.capture import roles
from ketapain.capture.audit import Actor
from ketapain.capture.models import AUDITED_TABLES, AdverseEvent, Concomitant
from ketapain.capture.schemas import UserUpdate
from ketapain.capture.services import Context
from ketapain.capture.services import users as accounts
from ketapain.capture.web import _errors, i18n
from ketapain.capture.web._format import code_text
from ketapain.data import CAUSALITIES, DRUG_CLASSES, PAIN_TYPES, SEVERITIES
from ketapain.instruments import get_instrument
from ketapain.protocol import load_protocol

from .conftest import ADMIN_PW, ROLE_PW, Web
from .test_pages import TODAY, _public_protocol_text, new_patient, page_matrix, screening_form

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
    keys |= {f"table.{t}" for t in AUDITED_TABLES} | {f"cm.class.{d}" for d in DRUG_CLASSES} | {f"pain.{p}" for p in PAIN_TYPES}
    keys |= {"sex.F", "sex.M", "visit.name.end_period", "visit.name.period_day"}
    keys |= {f"scr.outcome.{o}" for o in ("not_eligible", "refused", "other", "randomised")}
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
    for path in (link, f"{link}?period=1&day=1", "/login", "/password-reset"):
        if bad := untranslated(visible_text(patient.get(path).text), public):
            found[f"patient {path}"] = bad
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


# --- stored codes in words: no raw table name, visit, status, role, AE grade, drug class... ----

def _raw_code_lists() -> tuple[list[str], list[str]]:
    """Codes a French page must show in words (``_format.code_text``), outside ``data-verbatim``
    (a code whose French words are the code itself, like ``tramadol``, cannot be told apart).

    ``tokens``: codes that are no French word, found anywhere in the text; ``cells``: codes that
    are also words or names (``F``, ``active``, ``inclusion``...), found only as the whole text
    of an element (a table cell, an option) or before `` #<id>`` (a record)."""
    protocol = load_protocol("ketapain")
    statuses = ("active", "open", "answered", "closed", "pending", "approved", "rejected", "withdrawn", "disabled", "deleted",
                "entered_in_error", "valid", "void", "reset")
    by_kind = {"table": AUDITED_TABLES, "visit": [v.name for v in protocol.visits], "status": statuses,
               "role": [r for r in roles.STAFF_ROLES if r != "admin"],   # "admin" is also the first admin's user name
               "severity": SEVERITIES, "causality": CAUSALITIES, "drug_class": DRUG_CLASSES, "pain_type": PAIN_TYPES,
               "sex": ("F", "M"), "outcome": ("not_eligible", "refused", "randomised")}
    codes = {c for kind, cs in by_kind.items() for c in cs if code_text(kind, c, "fr") != c}
    words = {c for c in codes if re.fullmatch(r"[A-Z]|active|inclusion|randomisation|refused|reset|valid|void|[a-z]+s", c)}
    return sorted(codes - words, key=len, reverse=True), sorted(words)


def raw_codes(page: str, public: list[str] = []) -> list[str]:  # noqa: B006  (read only)
    """The stored codes shown raw in a page's visible text (see :func:`_raw_code_lists`), after
    the protocol's own text (``public``) is removed."""
    tokens, cells = _raw_code_lists()
    parser = _Visible()
    parser.feed(page)
    parts = []
    for part in parser.parts:
        text = part
        for p in public:
            text = text.replace(p, "")
        parts.append(text.strip())
    found = re.findall(r"(?<![\w.])(?:" + "|".join(map(re.escape, tokens)) + r")(?![\w])", "\n".join(parts))
    cell = re.compile(r"(?:" + "|".join(map(re.escape, cells)) + r")(?: #\d+.*)?")
    return found + [p for p in parts if cell.fullmatch(p)]


def test_the_code_scan_finds_raw_codes():
    assert raw_codes("<td>adverse_events #4.term</td><td>end_period_1</td><td>F</td><td>Femme</td>") == [
        "adverse_events", "end_period_1", "F"]
    assert raw_codes("<td>visits #3</td><p>visits</p><p>Visites actives</p><td data-verbatim>mild</td>") == ["visits #3", "visits"]
    assert raw_codes("<p>a severe heart failure</p>", ["a severe heart failure"]) == []
    assert raw_codes("<span>(investigator)</span><p>traitements concomitants; tramadol</p>") == ["investigator"]


PEOPLE = {"ines": "investigator", "camille": "nurse", "paul": "pharmacist", "sophie": "statistician", "marie": "monitor",
          "remi": "monitor"}
"""Users named otherwise than their role, so that a role code on a page is never a user name."""


def test_french_pages_show_stored_codes_in_words(app):
    """A study with every kind of stored code on its pages: each role's pages in French show
    them in words; the audit trail shows its rows as stored."""
    admin = Web(app, "admin", ADMIN_PW, lang="fr")
    for name, role in PEOPLE.items():
        assert admin.post("/users", {"username": name, "role": role, "password": ROLE_PW}).status_code == 303
    sophie = Web(app, "sophie", ROLE_PW, lang="fr")
    (grant,) = re.findall(r'data-testid="change-(\d+)"', sophie.get("/lock").text)
    assert sophie.post(f"/lock/requests/{grant}/approve", {"password": ROLE_PW}).status_code == 303   # paul, pharmacist
    users = {name: Web(app, name, ROLE_PW, lang="fr") for name in PEOPLE if name != "remi"} | {"admin": admin}
    camille, marie, ines = users["camille"], users["marie"], users["ines"]
    pid = new_patient(camille)
    assert camille.post("/screening", screening_form(a_age="12")).status_code == 303   # not eligible
    r = camille.post(f"/patients/{pid}/adverse-events", {"period": "1", "term": "vertiges", "severity": "severe", "serious": "yes",
                                                        "causality": "probably", "onset_date": str(TODAY)})
    assert r.status_code == 303
    for period, cls in (("0", "paracetamol_nsaids"), ("1", "hypnotics_sedatives")):
        assert camille.post(f"/patients/{pid}/concomitant", {"period": period, "drug_class": cls}).status_code == 303
    hads = get_instrument("hads")
    form = {"visit": "inclusion", "instrument": "hads"} | {f"item_{it.key}": "1" for it in hads.items}
    assert camille.post(f"/patients/{pid}/questionnaire", form).status_code == 303
    with app.state.sessionmaker() as s:
        ae = s.execute(select(AdverseEvent.id).where(AdverseEvent.patient_id == pid)).scalar_one()
        cm = s.execute(select(Concomitant.id).where(Concomitant.patient_id == pid)).scalars().first()
    for table, rid in (("adverse_events", ae), ("concomitant", cm), ("patients", 1)):
        assert marie.post("/queries", {"table_name": table, "record_id": str(rid), "text": "à vérifier"}).status_code == 303
    qids = re.findall(r'action="/queries/(\d+)/answer"', ines.get("/queries").text)
    assert ines.post(f"/queries/{qids[0]}/answer", {"answer": "vérifié"}).status_code == 303
    assert marie.post(f"/queries/{qids[1]}/close", {"reason": "ok"}).status_code == 303
    r = admin.post("/users/reset", {"target_user": "paul", "reason": "oubli", "password": ADMIN_PW})   # pending
    assert r.status_code == 303
    assert ines.post(f"/patients/{pid}/sign", {"password": ROLE_PW, "meaning": "revu"}).status_code == 303
    with app.state.sessionmaker() as s:   # one account disabled (an admin's direct change)
        users_ctx = Context(s, Actor("admin", "admin", 1), app.state.settings, app.state.protocol)
        accounts.update_user(users_ctx, "remi", UserUpdate(status="disabled", reason="départ"))
        s.commit()

    paths = [*page_matrix(pid), "/audit?table=adverse_events", f"/patients/{pid}/questionnaire?visit=end_period_1&instrument=bpi"]
    public = [html.unescape(t) for t in _public_protocol_text(load_protocol("ketapain"))]
    found: dict[str, list[str]] = {}
    seen = ""
    for name, web in users.items():
        for path in paths:
            r = web.get(path)
            if r.status_code != 200:
                continue
            assert '<html lang="fr">' in r.text, (name, path)
            seen += r.text
            if bad := raw_codes(r.text, public):
                found[f"{name} {path}"] = sorted(set(bad))
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
    # each kind was on the pages, in words
    for words in ("événements indésirables #", "traitements concomitants #", "questionnaires #", "Fin de la période 1",
                  "Inclusion", "sévère", "probable", "paracétamol, AINS", "hypnotiques, sédatifs", "femme",
                  "radiculopathie", "non éligible", "actif", "désactivé", "ouverte", "répondue", "close", "en attente",
                  "approuvée", "infirmier·e", "statisticien·ne", "Réinitialiser le mot de passe de paul"):
        assert words in seen, words
    audit = admin.get("/audit?table=adverse_events").text
    assert re.search(r"<tr data-verbatim>.*<td>adverse_events</td>.*<td>severity</td>.*<td>severe</td>", audit)
