"""Reads of the audiences app.

Stable contract (the actions app relies on it):

- ``member_audience_ids(person_id=)``: the ids of the active audiences the person is a member of now;
- ``is_member(person_id=, audience_ids=)``: whether the person is a member of any of them.

A merged child is never a member (its memberships are removed when it is merged).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db import connection
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone

from audiences import definition as definitions
from audiences.models import Audience, AudienceMembership, AudienceRefresh, MembershipHistory
from people.models import Person
from people.rawsql import CompiledOnce


def _current(person_id: int):
    return AudienceMembership.objects.filter(
        person_id=person_id,
        version=F("audience__version"),
        audience__state=Audience.State.ACTIVE,
        person__merged_into__isnull=True,
    )


def member_audience_ids(*, person_id: int) -> set[int]:
    """Active audiences the (unmerged) person is a member of."""
    return set(_current(person_id).values_list("audience_id", flat=True))


def is_member(*, person_id: int, audience_ids: Iterable[int]) -> bool:
    ids = list(audience_ids)
    if not ids:
        return False
    return _current(person_id).filter(audience_id__in=ids).exists()


# ---------------------------------------------------------------- members, history, statistics


def current_members(audience: Audience):
    """The membership rows of the audience's current version (with the person), newest entries first."""
    return (
        AudienceMembership.objects.filter(audience_id=audience.pk, version=audience.version)
        .select_related("person")
        .order_by("-entered_at", "-person_id")
    )


def audience_history(audience: Audience):
    return MembershipHistory.objects.filter(audience_id=audience.pk).select_related("person").order_by("-id")


def person_history(*, person_id: int, limit: int = 200) -> list[MembershipHistory]:
    return list(
        MembershipHistory.objects.filter(person_id=person_id)
        .select_related("audience")
        .order_by("-at", "-id")[:limit]
    )


def person_audiences(*, person_id: int) -> list[dict]:
    """The active audiences the person is in, with when they entered (the Profile API /audiences)."""
    rows = (
        _current(person_id)
        .select_related("audience")
        .order_by("audience__key")
        .values("audience__key", "audience__name", "audience_id", "entered_at")
    )
    return [
        {
            "key": r["audience__key"],
            "name": r["audience__name"],
            "id": r["audience_id"],
            "entered_at": r["entered_at"],
        }
        for r in rows
    ]


_SENTINEL_PERSON = -7_340_318_977  # stands for the person id in the statement built once


def _traits_queryset(pid: int):
    entered = AudienceMembership.objects.filter(
        audience_id=OuterRef("pk"), version=OuterRef("version"), person_id=pid
    ).values("entered_at")[:1]
    exited = (
        MembershipHistory.objects.filter(
            audience_id=OuterRef("pk"), person_id=pid, kind=MembershipHistory.Kind.EXITED
        )
        .order_by("-at")
        .values("at")[:1]
    )
    return (
        Audience.objects.filter(state=Audience.State.ACTIVE)
        .annotate(entered=Subquery(entered), exited=Subquery(exited))
        .filter(Q(entered__isnull=False) | Q(exited__isnull=False))
        .values_list("key", "entered", "exited")
    )


# Compiled once per process: building the ORM query each time was most of a Profile API request's CPU.
traits_rows = CompiledOnce(_traits_queryset, _SENTINEL_PERSON)


def person_traits(person) -> dict[str, dict]:
    """Membership as boolean traits: true for members, false after exiting, absent otherwise.

    One query: each active audience with the person's current entry and last exit (the Profile API
    runs it within its identifier lookup)."""
    return traits_from_rows(traits_rows.rows(person.pk), person)


def traits_from_rows(rows: list, person) -> dict[str, dict]:
    """``person_traits`` from the rows of ``traits_rows``."""
    merged = person.merged_into_id is not None  # a merged child is never a member
    return {
        key: {"value": True, "updated_at": entered_at}
        if entered_at is not None and not merged
        else {"value": False, "updated_at": exited_at}
        for key, entered_at, exited_at in rows
        if exited_at is not None or not merged
    }


def daily_changes(audience: Audience, *, days: int = 30) -> list[dict]:
    """Entered and exited per day (organization timezone) over the last ``days`` days."""
    from people.selectors import organization_tz

    tz = organization_tz()
    since = timezone.now() - timedelta(days=days)
    rows = (
        MembershipHistory.objects.filter(audience_id=audience.pk, at__gte=since)
        .annotate(day=TruncDate("at", tzinfo=tz))
        .values("day", "kind")
        .annotate(n=Count("id"))
    )
    by_day: dict = {}
    for r in rows:
        by_day.setdefault(r["day"], {"day": r["day"], "entered": 0, "exited": 0})[r["kind"]] = r["n"]
    return [by_day[d] for d in sorted(by_day)]


def size_over_time(audience: Audience, *, limit: int = 60) -> list[dict]:
    """Member count after each of the last refreshes (oldest first)."""
    rows = list(
        AudienceRefresh.objects.filter(audience_id=audience.pk, error="")
        .order_by("-started_at")
        .values("started_at", "member_count", "entered", "exited", "seconds")[:limit]
    )
    return rows[::-1]


# ---------------------------------------------------------------- preview, impact, explain


def _members_sql(compiled, now=None, person_ids=None):
    from people.selectors import organization_tz

    return definitions.members_sql(
        compiled, now=now or timezone.now(), tz=organization_tz(), person_ids=person_ids
    )


def _sample(sql: str, params: list, n: int) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT m.id FROM ({sql}) m ORDER BY m.id LIMIT %s", [*params, n])
        ids = [r[0] for r in cursor.fetchall()]
    people = Person.objects.in_bulk(ids)
    return [_person_row(people[i]) for i in ids if i in people]


def _person_row(person: Person) -> dict:
    return {
        "id": person.pk,
        "uid": str(person.uid),
        "name": f"{person.first_name} {person.last_name}".strip(),
        "email": person.email,
    }


def preview(compiled, *, now=None, sample: int = 10) -> dict:
    """How many people match a (possibly unsaved) definition now, and a sample of them."""
    sql, params = _members_sql(compiled, now)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM ({sql}) m", params)
        count = cursor.fetchone()[0]
    return {"count": count, "sample": _sample(sql, params, sample)}


def impact(audience: Audience, *, against: Audience | None = None, now=None, sample: int = 5) -> dict | None:
    """+N / −M of this definition against the current members of the audience it was duplicated from."""
    base = against or audience.duplicated_from
    if base is None:
        return None
    compiled = definitions.compile_audience(audience)
    sql, params = _members_sql(compiled, now)
    table = AudienceMembership._meta.db_table
    current = f"SELECT person_id AS id FROM {table} WHERE audience_id = %s AND version = %s"
    cur_params = [base.pk, base.version]
    added = (f"SELECT n.id FROM ({sql}) n WHERE n.id NOT IN ({current})", [*params, *cur_params])
    removed = (f"SELECT c.id FROM ({current}) c WHERE c.id NOT IN ({sql})", [*cur_params, *params])
    out = {"against": {"id": base.pk, "key": base.key, "member_count": base.member_count}}
    with connection.cursor() as cursor:
        for name, (q, p) in (("added", added), ("removed", removed)):
            cursor.execute(f"SELECT COUNT(*) FROM ({q}) x", p)
            out[name] = {"count": cursor.fetchone()[0], "sample": _sample(q, p, sample)}
    return out


def explain(audience: Audience, person: Person, *, now=None) -> dict:
    """Why the person is in or out: per condition true/false with the events that matched."""
    from people.selectors import organization_tz

    compiled = definitions.compile_audience(audience)
    out = definitions.evaluate(compiled, person, now=now or timezone.now(), tz=organization_tz())
    out["member"] = AudienceMembership.objects.filter(
        audience_id=audience.pk, version=audience.version, person_id=person.pk
    ).exists()
    return out
