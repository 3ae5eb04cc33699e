"""Screening questions come from the protocol's criteria: the question's text, the value the
form records and the eligibility rule cannot disagree (issue 16: "Never treated with
ketamine" answered Yes used to record previous_ketamine = true and exclude the person)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ketapain.capture.audit import Actor
from ketapain.capture.models import AuditLog, Screening
from ketapain.capture.schemas import ScreeningCreate
from ketapain.capture.services import Context, screening
from ketapain.operations import screening_questions
from ketapain.protocol import list_protocols, load_protocol

from .screening_cases import cases, eligible_answers, form_key

DN4_OK = {str(i): int(i <= 5) for i in range(1, 11)}


@pytest.mark.parametrize("name", list_protocols())
def test_every_yes_no_question_records_the_value_that_meets_its_criterion(name):
    protocol = load_protocol(name)
    for q in screening_questions(protocol):
        c = next(x for x in protocol.eligibility.criteria if x.id == q.criterion)
        assert q.field == c.field and q.kind == c.kind
        if q.answer == "yes_no":
            assert q.text == c.text   # the question is the criterion's own words
            # Yes = the statement is true = the rule holds (inclusion met / exclusion applies)
            assert c.rule_holds(q.value_for(True)) and not c.rule_holds(q.value_for(False))


def test_never_treated_with_ketamine_yes_records_not_previously_treated():
    q = {x.criterion: x for x in screening_questions(load_protocol("ketapain"))}["inc_ketamine_naive"]
    assert (q.text, q.field, q.value_for(True), q.value_for(False)) == ("Never treated with ketamine", "previous_ketamine", False, True)


def test_screen_every_criterion_both_ways_at_the_service(app):
    """Through the service the pages call: the form's answer to each criterion, both ways,
    with every other criterion met: recorded value, eligibility and the failed criterion."""
    protocol = app.state.protocol
    base = eligible_answers(protocol)
    all_cases = cases(protocol)
    assert len(all_cases) == 2 * len(screening_questions(protocol)) >= 2 * 16
    with app.state.sessionmaker() as s:
        ctx = Context(s, Actor("nurse", "nurse"), app.state.settings, protocol)
        for case in all_cases:
            answers = screening.answers_from_form(ctx, base | {form_key(protocol, case): case.form_value})
            row = screening.screen(ctx, ScreeningCreate(answers=answers, dn4_items=DN4_OK))
            stored = s.get(Screening, row.id)
            assert stored.answers[case.field] == case.recorded and type(stored.answers[case.field]) is type(case.recorded), case
            assert stored.eligible is case.eligible, case
            assert [f["id"] for f in stored.failed] == ([] if case.eligible else [case.criterion]), case
            assert stored.outcome == ("other" if case.eligible else "not_eligible")
        # audited: one create row per screening's answers
        n = s.execute(select(AuditLog).where(AuditLog.table_name == "screenings", AuditLog.field == "answers")).scalars().all()
        assert len(n) == len(all_cases)
        s.rollback()


def test_unanswered_and_bad_numbers(app):
    protocol = app.state.protocol
    with app.state.sessionmaker() as s:
        ctx = Context(s, Actor("nurse", "nurse"), app.state.settings, protocol)
        answers = screening.answers_from_form(ctx, eligible_answers(protocol) | {"c_inc_ketamine_naive": "", "a_age": " "})
        assert answers["previous_ketamine"] is None and answers["age"] is None
        r = screening.screen(ctx, ScreeningCreate(answers=answers, dn4_items=DN4_OK))
        assert {f["id"]: f["reason"] for f in r.failed} == {"inc_age": "not answered", "inc_ketamine_naive": "not answered"}
        with pytest.raises(Exception, match="age: 'old' is not a number"):
            screening.answers_from_form(ctx, {"a_age": "old"})
        s.rollback()
