"""Identity-graph health for the admin dashboard: a few aggregate statements over all profiles.

- identities per profile, as a distribution (1, 2, ... 9, 10+ identifiers);
- merges per day over the chart's 14 days, by reason;
- profiles at an identifier limit, per identifier type whose limit is above 1 (with a limit of 1,
  every profile holding that type is "at" it, which says nothing);
- blocked values most often hit: the pipeline records nothing when it drops one blocked identifier
  of a message that has others, so this counts the messages rejected because every identifier was
  blocked (``RejectedMessage`` with reason code ``blocked_identifier``), last 30 days, by the values
  named in the reason;
- suspected shared devices: a device identifier (an identifier of an anonymous type: anonymous id,
  device ids, push tokens) on a profile that also holds at least ``SHARED_DEVICE_USERS`` distinct
  user ids. Such profiles come from raised user-id limits, alias calls or manual merges: one
  browser or phone used by several account holders, which tied their accounts into one profile.

``health_context()`` is the dashboard section's context; the dashboard caches it for a minute.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from identity.models import IdentifierType, Identity, Merge
from people.rawsql import select_rows

DISTRIBUTION_TOP = 10  # the last bucket is "10+"
SHARED_DEVICE_USERS = 3
LISTED = 10
BLOCKED_DAYS = 30
IDENTITIES = Identity._meta.db_table
TYPES = IdentifierType._meta.db_table
BLOCKED_PREFIX = "Every identifier of the message is blocked: "


def identities_distribution() -> list[tuple[str, int]]:
    """[(label, profiles)]: how many profiles hold 1, 2, ... 9, 10+ identifiers (every bucket shown)."""
    counts = dict(
        select_rows(
            f"SELECT CASE WHEN n >= %s THEN %s ELSE n END AS bucket, COUNT(*) "
            f"FROM (SELECT person_id, COUNT(*) AS n FROM {IDENTITIES} GROUP BY person_id) per_person "
            f"GROUP BY bucket",
            [DISTRIBUTION_TOP, DISTRIBUTION_TOP],
        )
    )
    return [
        (f"{n}+" if n == DISTRIBUTION_TOP else str(n), int(counts.get(n, 0)))
        for n in range(1, DISTRIBUTION_TOP + 1)
    ]


def merges_per_day(days: list, tz) -> dict[str, list[int]]:
    """{reason label: [merges on each of ``days``]} (undone merges included: they happened)."""
    from people.lastcontacted import day_bounds

    since, _ = day_bounds(days[0], tz)
    _, end = day_bounds(days[-1], tz)
    rows = (
        Merge.objects.filter(created_at__gte=since, created_at__lt=end)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values_list("day", "reason")
        .annotate(n=Count("id"))
    )
    by_reason: dict[str, dict] = {}
    for day, reason, n in rows:
        by_reason.setdefault(reason, {})[day] = n
    labels = dict(Merge.Reason.choices)
    return {
        labels.get(reason, reason): [per.get(d, 0) for d in days] for reason, per in sorted(by_reason.items())
    }


def profiles_at_limit() -> list[dict]:
    """Per identifier type with a limit above 1: how many profiles hold ``limit`` values of it."""
    rows = select_rows(
        f'SELECT t.key, t.label, t."limit", COUNT(*) '
        f"FROM (SELECT person_id, type_id, COUNT(*) AS n FROM {IDENTITIES} GROUP BY person_id, type_id) c "
        f'JOIN {TYPES} t ON t.id = c.type_id WHERE t."limit" > 1 AND c.n >= t."limit" '
        f'GROUP BY t.key, t.label, t."limit" ORDER BY COUNT(*) DESC, t.key',
    )
    return [
        {"key": key, "label": label or key, "limit": limit, "profiles": n} for key, label, limit, n in rows
    ]


def blocked_hits(now=None) -> list[dict]:
    """The blocked values that rejected most messages in the last 30 days, most first."""
    from people.models import RejectedMessage

    since = (now or timezone.now()) - timedelta(days=BLOCKED_DAYS)
    rows = (
        RejectedMessage.objects.filter(reason_code="blocked_identifier", received_at__gte=since)
        .values_list("reason")
        .annotate(n=Count("id"))
        .order_by("-n", "reason")[:LISTED]
    )
    return [{"values": reason.removeprefix(BLOCKED_PREFIX), "messages": n} for reason, n in rows]


def shared_devices() -> list[dict]:
    """Device identifiers on profiles holding at least ``SHARED_DEVICE_USERS`` user ids, most first,
    each with the user ids (at most 10 devices; one statement for the devices, one for their ids)."""
    devices = select_rows(
        f"SELECT dt.key, d.value, d.person_id, COUNT(DISTINCT u.value) AS users "
        f"FROM {IDENTITIES} d JOIN {TYPES} dt ON dt.id = d.type_id "
        f"JOIN {IDENTITIES} u ON u.person_id = d.person_id "
        f"JOIN {TYPES} ut ON ut.id = u.type_id AND ut.key = 'user_id' "
        f"WHERE dt.anonymous = %s "
        f"GROUP BY dt.key, d.value, d.person_id HAVING COUNT(DISTINCT u.value) >= %s "
        f"ORDER BY users DESC, dt.key, d.value LIMIT %s",
        [True, SHARED_DEVICE_USERS, LISTED],
    )
    person_ids = {person_id for _, _, person_id, _ in devices}
    user_ids: dict[int, list[str]] = {}
    for person_id, value in (
        Identity.objects.filter(person_id__in=person_ids, type__key="user_id")
        .order_by("person_id", "value")
        .values_list("person_id", "value")
    ):
        user_ids.setdefault(person_id, []).append(value)
    return [
        {
            "type": key,
            "value": value,
            "person_id": person_id,
            "users": users,
            "user_ids": user_ids.get(person_id, []),
        }
        for key, value, person_id, users in devices
    ]


def health_context() -> dict:
    from people.dashboard import CHART_DAYS, SERIES_COLOURS, chart_options
    from people.selectors import organization_today, organization_tz

    tz = organization_tz()
    today = organization_today()
    days = [today - timedelta(days=i) for i in range(CHART_DAYS - 1, -1, -1)]
    distribution = identities_distribution()
    merges = merges_per_day(days, tz)
    return {
        "distribution_chart": json.dumps(
            {
                "labels": [label for label, _ in distribution],
                "datasets": [
                    {
                        "label": "Profiles",
                        "data": [n for _, n in distribution],
                        "backgroundColor": SERIES_COLOURS[0],
                        "borderRadius": 2,
                    }
                ],
            }
        ),
        "distribution_options": chart_options(
            x_title="Identifiers on the profile", y_title="Profiles", legend=False
        ),
        "distribution": distribution,
        "profiles_with_identities": sum(n for _, n in distribution),
        "merges_chart": json.dumps(
            {
                "labels": [d.strftime("%b %d") for d in days],
                "datasets": [
                    {
                        "label": label,
                        "data": data,
                        "backgroundColor": SERIES_COLOURS[(i + 1) % len(SERIES_COLOURS)],
                        "borderRadius": 2,
                    }
                    for i, (label, data) in enumerate(merges.items())
                ],
            }
        ),
        "merges_options": chart_options(x_title="Day", y_title="Merges", stacked=True),
        "merges_total": sum(sum(data) for data in merges.values()),
        "chart_days": CHART_DAYS,
        "at_limit": profiles_at_limit(),
        "blocked": blocked_hits(),
        "blocked_days": BLOCKED_DAYS,
        "shared_devices": shared_devices(),
        "shared_device_users": SHARED_DEVICE_USERS,
    }
