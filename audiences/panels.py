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


def _attribute_keys(data) -> set[str]:
    """Attribute keys a stored definition names (walked as JSON: no database reads)."""
    if isinstance(data, dict):
        keys = {data["attribute"]} if isinstance(data.get("attribute"), str) else set()
        for value in data.values():
            keys |= _attribute_keys(value)
        return keys
    if isinstance(data, list):
        return set().union(*(_attribute_keys(v) for v in data)) if data else set()
    return set()


def audiences_using_attribute(attribute) -> list[str]:
    """For computed attributes' where-used: the audiences whose definition names the attribute."""
    from audiences.models import Audience

    return [
        f"audience {a.key!r} ({a.get_state_display().lower()})"
        for a in Audience.objects.filter(type=Audience.Type.RULES).order_by("key")
        if attribute.key in _attribute_keys(a.definition)
    ]
