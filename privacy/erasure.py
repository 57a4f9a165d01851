"""Erasing people through the personal-data registry (``people.personal_data``).

Every registered model is erased by its own function or by the default: rows whose person fields
name one of the people, and rows whose identifier fields contain one of their identifier values, are
deleted in primary-key batches of ``BATCH`` rows, each batch its own short transaction (no long
locks; ingestion for other people goes on). ``Person`` rows go last, in one transaction that first
locks them (so an ingestion batch that already resolved to them finishes first) and sweeps up rows
written meanwhile.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db import connection, models, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from people import personal_data
from people.models import Person

BATCH = 5000
PATTERNS_PER_QUERY = 50


@dataclass
class ErasureContext:
    person_ids: list[int]
    idents: list[tuple[str, str]]
    counts: Counter = field(default_factory=Counter)
    on_progress: Callable[[int], None] = lambda n: None

    @property
    def values(self) -> list[str]:
        return sorted({value for _, value in self.idents})

    @property
    def patterns(self) -> list[str]:
        """Each value as stored in text and in JSON (escaped, with and without ASCII escapes)."""
        found: set[str] = set()
        for value in self.values:
            found.add(value)
            found.add(json.dumps(value)[1:-1])
            found.add(json.dumps(value, ensure_ascii=False)[1:-1])
        return sorted(p for p in found if p)

    def add(self, label: str, n: int) -> None:
        if n:
            self.counts[label] += n
            self.on_progress(n)


def person_q(entry: personal_data.PersonalData, person_ids: list[int]) -> Q | None:
    if not entry.person_fields:
        return None
    return reduce(or_, (Q(**{f"{name}__in": person_ids}) for name in entry.person_fields))


def text_match_querysets(
    model: type[models.Model], fields: Iterable[str], patterns: list[str]
) -> Iterable[models.QuerySet]:
    """Querysets of the rows whose ``fields`` (text or JSON) contain one of ``patterns``."""
    fields = list(fields)
    if not fields or not patterns:
        return
    annotations = {f"_privacy_text_{name}": Cast(name, TextField()) for name in fields}
    for start in range(0, len(patterns), PATTERNS_PER_QUERY):
        chunk = patterns[start : start + PATTERNS_PER_QUERY]
        match = reduce(or_, (Q(**{f"{alias}__contains": p}) for alias in annotations for p in chunk))
        yield model._default_manager.annotate(**annotations).filter(match)


def _links_to(model: type[models.Model]) -> list[tuple[personal_data.PersonalData, str, str]]:
    """Registered models keyed by a field of ``model``'s rows: (entry, their field, model's field)."""
    found = []
    for entry in personal_data.registered():
        linked = entry.options.get("linked")
        if linked and linked[1] == model._meta.label:
            found.append((entry, linked[0], linked[2]))
    return found


def _delete_linked(entry: personal_data.PersonalData, field: str, values: list, ctx: ErasureContext) -> None:
    if not values:
        return
    model = entry.model
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        column = connection.ops.quote_name(model._meta.get_field(field).column)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", [list(values)])
            n = cursor.rowcount
    else:
        n = 0
        for start in range(0, len(values), 500):
            chunk = values[start : start + 500]
            n += (
                model._default_manager.filter(**{f"{field}__in": chunk})
                .order_by()
                ._raw_delete(connection.alias)
            )
    ctx.add(model._meta.label, n)


def delete_in_batches(model: type[models.Model], queryset: models.QuerySet, ctx: ErasureContext) -> int:
    """Delete ``queryset``'s rows ``BATCH`` at a time, each batch in its own transaction, with the
    rows of models linked to them (the dedupe keys of deleted events)."""
    label = model._meta.label
    if isinstance(model._meta.pk, models.CompositePrimaryKey):
        with transaction.atomic():
            n = model._default_manager.filter(pk__in=queryset.values("pk"))._raw_delete(queryset.db)
        ctx.add(label, n)
        return n
    links = _links_to(model)
    linked_fields = [other for _, _, other in links]
    total = 0
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                # One statement per batch; RETURNING hands back what linked rows are keyed by.
                inner, params = queryset.order_by().values("pk")[:BATCH].query.sql_with_params()
                qn = connection.ops.quote_name
                returning = ", ".join(
                    [qn(model._meta.pk.column), *(qn(model._meta.get_field(f).column) for f in linked_fields)]
                )
                table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"DELETE FROM {table} WHERE {pk} IN ({inner}) RETURNING {returning}",
                        params,
                    )
                    rows = cursor.fetchall()
                n = len(rows)
            else:
                rows = list(queryset.order_by().values_list("pk", *linked_fields)[:BATCH])
                n = (
                    model._default_manager.filter(pk__in=[r[0] for r in rows])._raw_delete(queryset.db)
                    if rows
                    else 0
                )
            for position, (entry, own_field, _) in enumerate(links, start=1):
                _delete_linked(entry, own_field, sorted({r[position] for r in rows if r[position]}), ctx)
        total += n
        ctx.add(label, n)
        if len(rows) < BATCH:
            break
    return total


def default_erase(entry: personal_data.PersonalData, ctx: ErasureContext) -> int:
    model = entry.model
    manager = model._default_manager
    opts = entry.options
    n = 0
    if "linked" in opts and opts["linked"][1] not in personal_data.registry:
        n += _erase_linked(entry, ctx)  # the target is not erased through the registry: find them first
    q = person_q(entry, ctx.person_ids)
    if q is not None:
        n += delete_in_batches(model, manager.filter(q), ctx)
    if "identifier_pair" in opts:
        type_field, value_field = opts["identifier_pair"]
        for start in range(0, len(ctx.idents), 500):
            chunk = ctx.idents[start : start + 500]
            match = reduce(or_, (Q(**{type_field: t, value_field: v}) for t, v in chunk))
            n += delete_in_batches(model, manager.filter(match), ctx)
        return n
    on_match = opts.get("on_match", "delete")
    for queryset in text_match_querysets(model, entry.identifier_fields, ctx.patterns):
        if on_match == "null":
            with transaction.atomic():
                m = manager.filter(pk__in=queryset.values("pk")).update(
                    **dict.fromkeys(entry.identifier_fields)
                )
            ctx.add(model._meta.label, m)
            n += m
        elif on_match == "remove_items":
            n += _remove_items(entry, queryset, ctx)
        else:
            n += delete_in_batches(model, queryset, ctx)
    return n


def _erase_linked(entry: personal_data.PersonalData, ctx: ErasureContext) -> int:
    """Rows keyed by a value of the person's rows elsewhere (dedupe keys of their events)."""
    own_field, other_label, other_field = entry.options["linked"]
    other = personal_data.registry.get(other_label)
    if other is None:
        return 0
    manager = entry.model._default_manager
    source = other.model._default_manager.filter(person_q(other, ctx.person_ids)).exclude(**{other_field: ""})
    total, last = 0, None
    while True:
        page = source.order_by("pk")
        if last is not None:
            page = page.filter(pk__gt=last)
        rows = list(page.values_list("pk", other_field)[:BATCH])
        if not rows:
            break
        last = rows[-1][0]
        with transaction.atomic():
            n = (
                manager.filter(**{f"{own_field}__in": [r[1] for r in rows]})
                .order_by()
                ._raw_delete(manager.db)
            )
        ctx.add(entry.model._meta.label, n)
        total += n
    return total


def _remove_items(entry: personal_data.PersonalData, queryset: models.QuerySet, ctx: ErasureContext) -> int:
    """Drop the list items that carry one of the values; delete rows left empty."""
    patterns = ctx.patterns
    changed = 0
    for pk in list(queryset.order_by().values_list("pk", flat=True)):
        with transaction.atomic():
            row = entry.model._default_manager.select_for_update().filter(pk=pk).first()
            if row is None:
                continue
            for name in entry.identifier_fields:
                items = getattr(row, name) or []
                if not isinstance(items, list):
                    continue
                kept = [
                    item
                    for item in items
                    if not any(
                        p in json.dumps(item) or p in json.dumps(item, ensure_ascii=False) for p in patterns
                    )
                ]
                setattr(row, name, kept)
                if hasattr(row, "count"):
                    row.count = len(kept)
            if all(not getattr(row, name) for name in entry.identifier_fields):
                row.delete()
            else:
                row.save()
        changed += 1
    ctx.add(entry.model._meta.label, changed)
    return changed


def erase_entry(entry: personal_data.PersonalData, ctx: ErasureContext) -> int:
    eraser = entry.options.get("erase")
    return eraser(ctx) if eraser else default_erase(entry, ctx)


def ordered_entries() -> list[personal_data.PersonalData]:
    entries = [e for e in personal_data.registered() if e.model is not Person]
    return sorted(entries, key=lambda e: (e.options.get("order", 100), e.model._meta.label))


def estimate(person_ids: list[int]) -> int:
    """Rows to delete (for progress): the people's rows in every registered model with person fields."""
    total = len(person_ids)
    for entry in ordered_entries():
        q = person_q(entry, person_ids)
        if q is not None and "erase" not in entry.options:
            total += entry.model._default_manager.filter(q).count()
    return total


def erase_people(ctx: ErasureContext) -> Counter:
    """Erase every registered row of ``ctx.person_ids``; returns the counts per model label."""
    for entry in ordered_entries():
        erase_entry(entry, ctx)
    with transaction.atomic():
        # Wait for ingestion transactions that already hold these rows, then sweep what they wrote.
        list(
            Person.objects.select_for_update().filter(pk__in=ctx.person_ids).order_by("pk").values_list("pk")
        )
        for entry in ordered_entries():
            q = person_q(entry, ctx.person_ids)
            if q is not None and "erase" not in entry.options:
                delete_in_batches(entry.model, entry.model._default_manager.filter(q), ctx)
        # The ORM delete takes care of any reference the registry does not know (a safety net).
        _, per_model = Person.objects.filter(pk__in=ctx.person_ids).delete()
        for label, n in per_model.items():
            ctx.add(label, n)
    return ctx.counts
