"""Plain factory functions; tests get them through fixtures in conftest.py."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.contrib.auth.models import Group, User
from django.utils import timezone

from people.models import Channel, Event, Person
from people.services import SourceCredentials, source_create

_seq = itertools.count(1)


def make_person(**fields) -> Person:
    return Person.objects.create(**fields)


def make_channel(key: str = "web", name: str | None = None, **fields) -> Channel:
    channel, _ = Channel.objects.get_or_create(key=key, defaults={"name": name or key.title(), **fields})
    return channel


def make_source(name: str = "Website", channel: Channel | None = None, **fields) -> SourceCredentials:
    return source_create(name=name, channel=channel or make_channel(), **fields)


def make_event(person: Person, name: str = "Page Viewed", at: datetime | None = None, **fields) -> Event:
    return Event.objects.create(
        person=person,
        name=name,
        timestamp=at or timezone.now(),
        message_id=fields.pop("message_id", f"msg-{next(_seq)}"),
        **fields,
    )


def make_staff_user(username: str, role: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user
