"""Every model that can hold data about a person is in the personal-data registry, so privacy's
export and erasure cannot forget a table. Covers whatever apps are installed."""

from __future__ import annotations

from django.apps import apps
from django.db import models

from people import personal_data
from people.models import Person

# Apps whose free-text and JSON columns this test classifies one by one (the apps present when it
# was written); any app's person references are checked whatever the app.
CLASSIFIED_APPS = {"people", "identity", "computed", "privacy"}

# Text and JSON columns that cannot carry a person's values, with the reason.
NOT_PERSONAL = {
    "people.OrganizationSettings": "organization's own settings",
    "people.Channel": "configuration",
    "people.Source": "configuration",
    "people.AttributeDefinition": "schema",
    "people.EventDefinition": "schema",
    "people.EventPropertyDefinition": "schema",
    "people.ContextDefinition": "schema",
    "people.ContextPropertyDefinition": "schema",
    "people.Job": "parameters and results are ids, counts and errors (privacy jobs carry a request id)",
    "identity.IdentifierType": "policy (blocked values are shared placeholders such as 'null')",
    "identity.AccessToken": "staff tokens",
    "identity.SourceDailyStat": "counters",
    "computed.ComputedAttribute": "definitions",
    "privacy.Tombstone": "salted hashes only",
    "privacy.AuditEntry": "salted hashes and counts only",
}


def person_references(model: type[models.Model]) -> list[str]:
    """Fields through which a row belongs to a person: foreign keys to Person, integer person ids."""
    found = []
    for field in model._meta.concrete_fields:
        if (
            field.is_relation
            and field.related_model is Person
            or isinstance(field, models.IntegerField)
            and (field.name == "person_id" or field.name.endswith("_person_id"))
        ):
            found.append(field.name)
    return found


def free_text_fields(model: type[models.Model]) -> list[str]:
    return [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, models.TextField | models.JSONField)
        or (isinstance(f, models.CharField) and f.name in {"value", "object_repr"})
    ]


def test_every_model_with_a_person_reference_is_registered_with_it():
    missing = []
    for model in apps.get_models():
        references = person_references(model)
        if model is Person:
            references = ["id"]
        if not references:
            continue
        entry = personal_data.get(model)
        if entry is None:
            missing.append(f"{model._meta.label} ({', '.join(references)}) is not registered")
        elif set(references) - set(entry.person_fields):
            missing.append(
                f"{model._meta.label}: {set(references) - set(entry.person_fields)} not in person_field"
            )
    assert missing == []


def test_every_text_or_json_column_of_the_classified_apps_is_registered_or_explained():
    unexplained = []
    for model in apps.get_models():
        if model._meta.app_label not in CLASSIFIED_APPS or model._meta.label in NOT_PERSONAL:
            continue
        fields = free_text_fields(model)
        entry = personal_data.get(model)
        if not fields:
            continue
        if entry is None:
            unexplained.append(f"{model._meta.label}: {fields}")
    assert unexplained == []


def test_registered_fields_exist_on_their_models():
    for entry in personal_data.registered():
        names = {f.name for f in entry.model._meta.concrete_fields} | {"id"}
        assert set(entry.person_fields) <= names, entry.model._meta.label
        assert set(entry.identifier_fields) <= names, entry.model._meta.label


def test_the_registry_catches_a_new_unregistered_model():
    # given: a model with a person reference nobody registered (built, not migrated)
    class Note(models.Model):
        person = models.ForeignKey(Person, on_delete=models.CASCADE)
        text = models.TextField()

        class Meta:
            app_label = "privacy"

    try:
        # then: the check above would name it
        assert person_references(Note) == ["person"]
        assert personal_data.get(Note) is None
    finally:
        apps.all_models["privacy"].pop("note", None)
        apps.clear_cache()
