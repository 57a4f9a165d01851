"""CSV import and export of people (django-import-export), for analysts.

Columns: ``id`` (the unified id), ``kind``, every standard attribute and one column per custom
attribute definition. A row finds its person by ``id``, else by ``email``; otherwise it creates one.
Values go through the attribute service with the "CSV import" source (CSV priority), so they are
cast, validated (a bad value makes the row invalid with the attribute, value and expected type),
ordered by time and audited like every other write.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from import_export import fields, resources

from people.attributes import STANDARD_ATTRIBUTES, read_attribute
from people.models import AttributeDefinition, Person
from people.services import (
    AttributeWrite,
    csv_import_source,
    person_write_attributes,
    validate_attribute_writes,
)


class AttributeField(fields.Field):
    """A standard or custom attribute column, read through ``read_attribute``."""

    def get_value(self, obj):
        return read_attribute(obj, self.column_name)

    def save(self, instance, row, is_m2m=False, **kwargs):
        # Values are written by PersonResource.save_instance through the attribute service.
        pass


class PersonResource(resources.ModelResource):
    id = fields.Field(attribute="uid", column_name="id", readonly=True)

    class Meta:
        model = Person
        fields = ["id", "kind"]
        import_id_fields = []
        clean_model_instances = False
        skip_diff = False
        use_transactions = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.definitions = {d.key: d for d in AttributeDefinition.objects.all()}
        self._source = None  # the "CSV import" source, looked up (or created) by the first row
        for key in [*STANDARD_ATTRIBUTES, *self.definitions]:
            self.fields[key] = AttributeField(attribute=None, column_name=key)

    def before_import(self, dataset, **kwargs):
        """Rows naming an erased or suppressed person by email are skipped (one check per file)."""
        from people.personal_data import blocked_identifiers

        super().before_import(dataset, **kwargs)
        emails = set()
        if "email" in (dataset.headers or []):
            emails = {str(v).strip().lower() for v in dataset["email"] if v and str(v).strip()}
        self.blocked_emails = {value for _, value in blocked_identifiers({("email", e) for e in emails})}

    def skip_row(self, instance, original, row, import_validation_errors=None):
        email = (row.get("email") or "").strip().lower()
        if email and email in getattr(self, "blocked_emails", ()):
            return True
        return super().skip_row(instance, original, row, import_validation_errors=import_validation_errors)

    def get_export_order(self):
        return ("id", "kind", *STANDARD_ATTRIBUTES, *self.definitions)

    def get_queryset(self):
        return Person.objects.live()

    def get_instance(self, instance_loader, row):
        raw_id = (row.get("id") or "").strip()
        if raw_id:
            try:
                person = Person.objects.filter(uid=uuid.UUID(raw_id)).first()
            except ValueError:
                raise ValidationError({"id": f"'{raw_id}' is not a unified id."}) from None
            if person is None:
                raise ValidationError({"id": f"No person has the unified id {raw_id}."})
            while person.merged_into_id is not None:  # a merged profile: write to the one it joined
                person = person.merged_into
            return person
        email = (row.get("email") or "").strip().lower()
        if email:
            return Person.objects.live().filter(email=email).first()
        return None

    def import_instance(self, instance, row, **kwargs):
        kind = (row.get("kind") or "").strip()
        if kind:
            if kind not in Person.Kind.values:
                raise ValidationError({"kind": f"Unknown kind '{kind}'; use person or company."})
            instance.kind = kind
        writes = []
        for key in [*STANDARD_ATTRIBUTES, *self.definitions]:
            if key not in row:
                continue
            value = row[key]
            if value is None or (isinstance(value, str) and value.strip() == ""):
                continue  # empty cells leave values alone; use the bulk update to reset
            writes.append(AttributeWrite(key, value))
        errors = {}
        for write in writes:
            try:
                validate_attribute_writes([write], self.definitions)
            except ValidationError as exc:
                errors[write.key] = exc.messages
        if errors:
            raise ValidationError(errors)
        instance._attribute_writes = writes

    def save_instance(self, instance, is_create, row, **kwargs):
        if is_create or instance.pk is None:
            instance.save()
        elif "kind" in row:
            Person.objects.filter(pk=instance.pk).update(kind=instance.kind)
        if self._source is None:
            self._source = csv_import_source()
        person_write_attributes(
            person=instance,
            writes=getattr(instance, "_attribute_writes", []),
            source=self._source,
            definitions=self.definitions,
        )
