"""The audiences app's section of the Person 360 page and its dashboard number."""

from __future__ import annotations


def person_audiences_context(person, request) -> dict:
    from audiences.selectors import person_audiences, person_history

    return {
        "audience_rows": person_audiences(person_id=person.pk),
        "audience_timeline": person_history(person_id=person.pk, limit=50),
    }


def active_count() -> int:
    from audiences.models import Audience

    return Audience.objects.filter(state=Audience.State.ACTIVE).count()


def key_in_use(key: str) -> bool:
    from audiences.models import Audience, RetiredAudienceKey

    return Audience.objects.filter(key=key).exists() or RetiredAudienceKey.objects.filter(key=key).exists()
