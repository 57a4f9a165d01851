"""Access and portability exports: every stored datum about a person, through the registry.

The JSON document has the profile as the Person 360 page shows it (standard, custom and computed
attributes with source and update time, identities, merges) and then every registered table's rows
for the profile and its merged children. ``csv_bundle`` turns it into a zip of one CSV per table.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import models
from django.utils import timezone

from identity.extensions import trait_sources
from people import personal_data
from people.attributes import SYSTEM_ATTRIBUTES
from people.models import Person
from people.selectors import person_attribute_rows, person_latest_device
from privacy.erasure import person_q


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _labels(model: type[models.Model], rows: list[dict]) -> dict[str, dict[Any, str]]:
    """For each foreign key other than to Person: {id: str(target)}, one query per key."""
    labels: dict[str, dict[Any, str]] = {}
    for f in model._meta.concrete_fields:
        if not f.is_relation or f.related_model is Person:
            continue
        ids = {row.get(f.attname) for row in rows} - {None}
        if not ids:
            continue
        labels[f.attname] = {obj.pk: str(obj) for obj in f.related_model._default_manager.filter(pk__in=ids)}
    return labels


def table_rows(entry: personal_data.PersonalData, person_ids: list[int]) -> list[dict]:
    q = person_q(entry, person_ids)
    if q is None:
        return []
    model = entry.model
    names = [f.attname for f in model._meta.concrete_fields]
    rows = list(model._default_manager.filter(q).order_by().values(*names))
    labels = _labels(model, rows)
    out = []
    for row in rows:
        item = {key: _plain(value) for key, value in row.items()}
        for attname, mapping in labels.items():
            if row.get(attname) is not None:
                item[attname.removesuffix("_id")] = mapping.get(row[attname], "")
        out.append(item)
    return out


def build_export(*, root: Person | None, person_ids: list[int], requests: list[dict]) -> dict:
    """The whole export as one JSON-able document."""
    profile: dict[str, Any] = {}
    if root is not None:
        profile = {
            "unified_id": str(root.uid),
            "kind": root.kind,
            "attributes": [
                {
                    "key": row["key"],
                    "label": row["label"],
                    "value": _plain(row["value"]),
                    "type": row["type"],
                    "source": row["source"],
                    "updated_at": _plain(row["updated_at"]),
                }
                for row in person_attribute_rows(person=root)
            ],
            "recent_device": person_latest_device(person=root),
            "system": {name: _plain(getattr(root, name)) for name in SYSTEM_ATTRIBUTES},
        }
        # Computed attributes, audience memberships ...: what the Profile API serves as traits.
        for cls, source in trait_sources.items():
            traits = source.read(root)
            profile[cls] = {
                key: {"value": _plain(item.get("value")), "updated_at": _plain(item.get("updated_at"))}
                for key, item in traits.items()
            }
    tables: dict[str, list[dict]] = {}
    for entry in sorted(personal_data.registered(), key=lambda e: e.model._meta.label):
        if not entry.export:
            continue
        rows = table_rows(entry, person_ids)
        if rows:
            tables[entry.model._meta.label] = rows
    return {
        "generated_at": timezone.now().isoformat(),
        "profile": profile,
        "tables": tables,
        "requests": requests,
    }


def csv_bundle(document: dict) -> bytes:
    """A zip of CSV files: profile attributes, traits, one file per table and the requests."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        profile = document.get("profile") or {}
        if profile.get("attributes"):
            bundle.writestr("profile_attributes.csv", _csv(profile["attributes"]))
        for cls, traits in profile.items():
            if cls in {"attributes", "recent_device", "system"} or not isinstance(traits, dict):
                continue
            bundle.writestr(f"traits_{cls}.csv", _csv([{"key": k, **v} for k, v in traits.items()]))
        for label, rows in document.get("tables", {}).items():
            bundle.writestr(f"{label.replace('.', '_').lower()}.csv", _csv(rows))
        if document.get("requests"):
            bundle.writestr("privacy_requests.csv", _csv(document["requests"]))
        bundle.writestr("export.json", json.dumps(document, ensure_ascii=False, indent=1))
    return buffer.getvalue()


def _csv(rows: list[dict]) -> str:
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: json.dumps(v, ensure_ascii=False)
                if isinstance(v, dict | list)
                else ("" if v is None else v)
                for k, v in row.items()
            }
        )
    return out.getvalue()
