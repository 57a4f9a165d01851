"""The evaluation order: one failing step at a time, with the simulation's reason."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from actions import selectors, services, targeting
from actions.models import Reaction

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")
NOON = datetime(2026, 6, 15, 12, 0, tzinfo=BERLIN)


def passing(**overrides):
    """An action that person u1 (Ada, on web, page /home) gets."""
    fields = {
        "name": "Summer sale",
        "type": "banner",
        "tags": ["summer", "home"],
        "state": "active",
        "channels": ["web"],
        "start_date": date(2026, 6, 1),
        "end_date": date(2026, 6, 30),
        "trait_conditions": {"attribute": "first_name", "op": "equals", "value": "Ada"},
        "context_conditions": [
            {"channel": "web", "key": "page.path", "type": "text", "op": "equals", "value": "/home"}
        ],
        "capping_rules": [{"reaction": "delivered", "group": "user", "count": 1, "within_days": 0}],
    }
    fields.update(overrides)
    return fields


def run(action, person, **ask):
    ask.setdefault("channel", "web")
    ask.setdefault("type", "banner")
    ask.setdefault("tags", ("summer",))
    ask.setdefault("context", {"page": {"path": "/home"}})
    ask.setdefault("now", NOON)
    result = selectors.simulate(action=action, person=person, **ask)
    # The client API's screening (no reasons) agrees with the simulation on every case here.
    verdict = targeting.screen(
        targeting.compile_action(action),
        targeting.PersonView(person),
        targeting.Ask(**{**ask, "tags": tuple(ask["tags"])}),
    )
    states = {s["step"]: s["state"] for s in result["steps"]}
    if any(state == "failed" for step, state in states.items() if step != "capping"):
        assert verdict == targeting.HIDDEN
    elif states["capping"] == "skipped":  # a test user skipping targeting
        assert verdict == targeting.SHOWN
    else:
        assert verdict == targeting.TO_CAP
    return result


def failing(result):
    assert result["gets_action"] is False
    failed = [s for s in result["steps"] if s["state"] == "failed"]
    assert len(failed) == 1
    after = result["steps"][result["steps"].index(failed[0]) + 1 :]
    assert all(s["state"] == "skipped" for s in after)
    return failed[0]["step"], failed[0]["reason"]


def test_the_passing_action_passes_every_step_in_order(make_action, known):
    # given
    person = known(first_name="Ada")
    action = make_action(**passing())
    # when
    result = run(action, person)
    # then
    assert result["gets_action"] is True
    assert [s["step"] for s in result["steps"]] == [
        "state",
        "channel",
        "type",
        "tags",
        "test_user",
        "time_range",
        "traits",
        "context",
        "audiences",
        "capping",
    ]
    assert {s["state"] for s in result["steps"]} == {"passed"}


@pytest.mark.parametrize(
    "overrides,ask,step,reason",
    [
        ({"state": "inactive"}, {}, "state", "the action is inactive"),
        ({}, {"channel": "app"}, "channel", "channel 'app' is not targeted (targeted: web)"),
        ({}, {"type": "popup"}, "type", "the action's type is 'banner', not 'popup'"),
        ({}, {"tags": ("summer", "winter")}, "tags", "the action lacks the tag(s) winter"),
        (
            {"state": "staging"},
            {},
            "test_user",
            "the action is in staging and the person is not a test user on 'web'",
        ),
        (
            {"start_date": date(2026, 6, 16)},
            {},
            "time_range",
            "starts 2026-06-16 00:00 (Europe/Berlin); it is 2026-06-15 12:00",
        ),
        (
            {"end_date": date(2026, 6, 14)},
            {},
            "time_range",
            "ended after 2026-06-14 (Europe/Berlin); it is 2026-06-15 12:00",
        ),
        (
            {"start_date": None, "end_date": None, "start_time": time(14), "end_time": time(18)},
            {},
            "time_range",
            "outside the daily window 14:00–18:00 (Europe/Berlin); it is 12:00",
        ),
        (
            {"trait_conditions": {"attribute": "first_name", "op": "equals", "value": "Bob"}},
            {},
            "traits",
            "first_name equals 'Bob' is false (the person has 'Ada')",
        ),
        (
            {},
            {"context": {"page": {"path": "/cart"}}},
            "context",
            "context page.path equals /home is false (the request has '/cart')",
        ),
        ({}, {"context": {}}, "context", "context page.path equals /home is false (the request has missing)"),
    ],
)
def test_each_step_failing_alone_gives_its_reason(make_action, known, overrides, ask, step, reason):
    # given
    person = known(first_name="Ada")
    action = make_action(**passing(**overrides))
    # when
    result = run(action, person, **ask)
    # then
    assert failing(result) == (step, reason)


def test_audience_step_fails_when_the_person_is_in_none_of_the_audiences(make_action, known):
    # given: an audience id that no one belongs to
    person = known(first_name="Ada")
    action = make_action(**passing(audience_ids=[987654]))
    # when
    step, reason = failing(run(action, person))
    # then
    assert step == "audiences"
    assert reason in (
        "the person is in none of the action's audiences",
        "audiences are not available in this installation",
    )


def test_capping_step_fails_once_the_person_reached_the_count(make_action, known):
    # given: one delivery already logged
    person = known(first_name="Ada")
    action = make_action(**passing())
    Reaction.objects.create(
        action=action, person=person, channel="web", kind="delivered", created_at=NOON - timedelta(days=40)
    )
    # when
    step, reason = failing(run(action, person))
    # then
    assert (step, reason) == ("capping", "1 delivered by this person ever (limit 1)")


def test_context_conditions_of_another_channel_are_ignored(make_action, known):
    # given: the context condition is for the app channel only
    person = known(first_name="Ada")
    cond = [{"channel": "app", "key": "screen", "type": "text", "op": "equals", "value": "home"}]
    action = make_action(**passing(context_conditions=cond))
    # when
    result = run(action, person, context={})
    # then
    assert result["gets_action"] is True
    assert result["steps"][7]["reason"] == "no context conditions"


def test_test_user_with_skip_targeting_gets_a_staging_action_at_once(make_action, known):
    # given: staging, outside the time range, wrong traits, capped — but a skipping test user
    person = known(first_name="Zed")
    action = make_action(
        **passing(
            state="staging",
            start_date=date(2027, 1, 1),
            end_date=None,
            test_users=[{"person": person, "skip_targeting": True}],
        )
    )
    Reaction.objects.create(action=action, person=person, channel="web", kind="delivered")
    # when
    result = run(action, person)
    # then
    assert result["gets_action"] is True
    assert result["steps"][4] == {
        "step": "test_user",
        "label": "Test user",
        "state": "passed",
        "reason": "a test user with 'skip targeting': shown at once",
    }
    assert {s["state"] for s in result["steps"][5:]} == {"skipped"}


def test_test_user_without_skip_still_goes_through_targeting(make_action, known):
    # given
    person = known(first_name="Zed")
    action = make_action(**passing(state="staging", test_users=[{"person": person, "skip_targeting": False}]))
    # when
    step, reason = failing(run(action, person))
    # then
    assert step == "traits"


def test_test_user_of_another_channel_does_not_count(make_action, known):
    person = known(first_name="Ada")
    action = make_action(
        **passing(state="staging", channels=["web", "app"], test_users=[{"person": person, "channel": "app"}])
    )
    step, _ = failing(run(action, person))
    assert step == "test_user"


# ------------------------------------------------------------------ time ranges in the org timezone


@pytest.mark.parametrize(
    "now_utc,gets",
    [
        (datetime(2026, 6, 30, 21, 59, tzinfo=ZoneInfo("UTC")), True),  # 23:59 in Berlin on the end date
        (datetime(2026, 6, 30, 22, 0, tzinfo=ZoneInfo("UTC")), False),  # 00:00 on July 1st in Berlin
        (datetime(2026, 5, 31, 21, 59, tzinfo=ZoneInfo("UTC")), False),  # 23:59 on May 31st in Berlin
        (datetime(2026, 5, 31, 22, 0, tzinfo=ZoneInfo("UTC")), True),  # 00:00 on the start date in Berlin
    ],
)
def test_dates_are_whole_days_in_the_organization_timezone_end_inclusive(make_action, known, now_utc, gets):
    person = known(first_name="Ada")
    action = make_action(**passing(capping_rules=[]))
    assert run(action, person, now=now_utc)["gets_action"] is gets


@pytest.mark.parametrize(
    "start,end,local,gets",
    [
        (time(22), time(2), time(23, 30), True),  # a window across midnight
        (time(22), time(2), time(1, 59), True),
        (time(22), time(2), time(2, 0), False),  # end exclusive
        (time(22), time(2), time(21, 59), False),
        (time(9), None, time(8, 59), False),  # from 09:00 every day
        (None, time(9), time(8, 59), True),  # until 09:00 every day
    ],
)
def test_daily_windows_in_the_organization_timezone(make_action, known, start, end, local, gets):
    person = known(first_name="Ada")
    action = make_action(
        **passing(start_date=None, end_date=None, start_time=start, end_time=end, capping_rules=[])
    )
    now = datetime.combine(date(2026, 6, 15), local, tzinfo=BERLIN)
    assert run(action, person, now=now)["gets_action"] is gets


def test_date_with_time_is_an_exact_instant(make_action, known):
    person = known(first_name="Ada")
    action = make_action(
        **passing(
            start_date=date(2026, 6, 15),
            start_time=time(12, 30),
            end_date=date(2026, 6, 15),
            end_time=time(13),
            capping_rules=[],
        )
    )
    assert run(action, person, now=NOON)["gets_action"] is False
    assert run(action, person, now=NOON + timedelta(minutes=30))["gets_action"] is True
    assert run(action, person, now=NOON + timedelta(minutes=60))["gets_action"] is False


def test_organization_timezone_change_moves_the_day(make_action, known, org):
    # given: in Berlin it is already the 1st of July; in New York still June 30th
    from django.core.cache import cache

    person = known(first_name="Ada")
    action = make_action(**passing(capping_rules=[]))
    now = datetime(2026, 6, 30, 23, 0, tzinfo=ZoneInfo("UTC"))
    assert run(action, person, now=now)["gets_action"] is False
    # when
    org.timezone = "America/New_York"
    org.save()
    cache.clear()
    # then
    assert run(action, person, now=now)["gets_action"] is True


def test_services_refuse_bad_definitions_with_a_path(web):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.action_create(name="x", type="Bad Type")
    assert "type" in exc.value.message_dict
