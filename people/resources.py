"""The quick export of the person list (django-import-export): the rows on screen as CSV, XLSX, JSON ...

Columns: ``id`` (the unified id), ``kind``, every standard attribute and one column per custom
attribute definition. Imports go through identity resolution instead (``identity/imports/``: mapped
columns, identifiers as identities, a preview and a job), and so does the full export with computed
values and chosen columns (docs/import-export.md).
"""

from __future__ import annotations

from import_export import fields, resources

from people.attributes import STANDARD_ATTRIBUTES, read_attribute
from people.models import AttributeDefinition, Person


class AttributeField(fields.Field):
    """A standard or custom attribute column, read through ``read_attribute``."""

    def get_value(self, obj):
        return read_attribute(obj, self.column_name)


class PersonResource(resources.ModelResource):
    id = fields.Field(attribute="uid", column_name="id", readonly=True)

    class Meta:
        model = Person
        fields = ["id", "kind"]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.definitions = [d.key for d in AttributeDefinition.objects.order_by("key")]
        for key in [*STANDARD_ATTRIBUTES, *self.definitions]:
            self.fields[key] = AttributeField(attribute=None, column_name=key, readonly=True)

    def get_export_order(self):
        return ("id", "kind", *STANDARD_ATTRIBUTES, *self.definitions)

    def get_queryset(self):
        return Person.objects.live()
