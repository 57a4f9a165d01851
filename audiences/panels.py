"""The audiences app's section of the Person 360 page and its dashboard number."""

from __future__ import annotations

from people.extensions import person_panel


@person_panel("audiences", title="Audiences", template="audiences/panels/audiences.html", order=30)
def person_audiences_context(person, request) -> dict:
    """Memberships with entry times, why (explain per active audience, at most 20) and the timeline."""
    from audiences.models import Audience
    from audiences.selectors import explain, person_audiences, person_history

    explained = []
    for audience in Audience.objects.filter(state=Audience.State.ACTIVE).order_by("key")[:20]:
        try:
            result = explain(audience, person)
        except Exception as exc:  # noqa: BLE001 - one broken definition must not break the page
            result = {"member": False, "matched": False, "steps": [], "error": str(exc)}
        explained.append({"audience": audience, **result})
    return {
        "person": person,
        "audience_rows": person_audiences(person_id=person.pk),
        "audience_explained": explained,
        "audience_timeline": person_history(person_id=person.pk, limit=50),
    }


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
