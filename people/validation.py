"""Validation of definitions (kept out of models' save(): services and forms call it)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from people.attributes import STANDARD_ATTRIBUTES
from people.models import AttributeDefinition, AttributeType

ITEM_FIELD_TYPES = set(AttributeType.values) - {AttributeType.LIST}


def validate_attribute_definition(definition: AttributeDefinition) -> None:
    """Full validation of an attribute definition, including the type-is-immutable rule."""
    definition.full_clean()
    errors: dict[str, list[str]] = {}
    if definition.key in STANDARD_ATTRIBUTES:
        errors.setdefault("key", []).append(f"'{definition.key}' is a standard attribute.")
    elif not definition.pk:
        from people.extensions import key_owners

        for label, owns in key_owners.items():
            if owns(definition.key):
                errors.setdefault("key", []).append(f"'{definition.key}' is already a {label}.")
    if definition.pk:
        stored = AttributeDefinition.objects.filter(pk=definition.pk).values("type", "key").first()
        if stored is not None and stored["type"] != definition.type:
            errors.setdefault("type", []).append("The type of an attribute cannot change once created.")
        if stored is not None and stored["key"] != definition.key:
            errors.setdefault("key", []).append("The key of an attribute cannot change once created.")
    schema = definition.item_schema or []
    if definition.type == AttributeType.LIST:
        if not isinstance(schema, list) or not schema:
            errors.setdefault("item_schema", []).append(
                'A list needs its item fields, e.g. [{"key": "sku", "type": "text"}].'
            )
        else:
            seen = set()
            for index, item in enumerate(schema):
                if not isinstance(item, dict) or "key" not in item or "type" not in item:
                    errors.setdefault("item_schema", []).append(
                        f"Item field {index} needs a 'key' and a 'type'."
                    )
                    continue
                if item["type"] not in ITEM_FIELD_TYPES:
                    errors.setdefault("item_schema", []).append(
                        f"Item field '{item['key']}' has unknown type '{item['type']}'; "
                        f"use one of {', '.join(sorted(ITEM_FIELD_TYPES))}."
                    )
                if item["key"] in seen:
                    errors.setdefault("item_schema", []).append(f"Item field '{item['key']}' is repeated.")
                seen.add(item["key"])
    elif schema:
        errors.setdefault("item_schema", []).append("Only list attributes have an item schema.")
    if errors:
        raise ValidationError(errors)
