"""Writes of the actions app: definitions, the client API's deliveries and acts, hooks, webhooks.

Every write goes through here (admin, management API and client API only parse and call one of
these). Targeting itself lives in ``actions.targeting``; webhook sending in ``actions.webhooks``.
"""

from __future__ import annotations

import functools
import json
import random
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from actions import allocation, rawmodels, targeting, webhooks
from actions.models import (
    ACT_EVENTS,
    Action,
    AudienceWebhook,
    CappingRule,
    Hook,
    Reaction,
    ReactionKind,
    WebhookDelivery,
)
from people.models import Channel, OrganizationSettings, Person, Source
from people.services import contact_record, contacts_notify, contacts_recorded, contacts_sql

# The rows an action owns (its relations) and their editable fields.
CHILD_FIELDS = {
    "properties": ("channel", "name", "kind", "value", "attribute", "value_type", "fallback"),
    "capping_rules": ("channels", "reaction", "group", "count", "within_days"),
    "hooks": ("reaction", "channel", "kind", "event_name", "url", "extra", "synchronous"),
    "test_users": ("person", "channel", "skip_targeting"),
}
ACTION_FIELDS = (
    "name",
    "type",
    "tags",
    "state",
    "channels",
    "start_date",
    "start_time",
    "end_date",
    "end_time",
    "trait_conditions",
    "context_conditions",
    "audience_ids",
    "slot",
    "allocation",
)


class ActionError(Exception):
    """A client-API refusal with its HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def definitions_changed() -> None:
    """Compiled definitions are cached per process: every process compiles them again after commit
    (``targeting.definitions``)."""
    targeting.definitions_changed()


# ------------------------------------------------------------------ definitions


def _replace_children(action: Action, children: dict[str, list[dict]]) -> None:
    for relation, rows in children.items():
        if rows is None:
            continue
        fields = CHILD_FIELDS[relation]
        model = getattr(action, relation).model
        getattr(action, relation).all().delete()
        for index, row in enumerate(rows):
            unknown = set(row) - set(fields)
            if unknown:
                raise ValidationError(
                    {f"{relation}[{index}]": f"unknown field(s) {', '.join(sorted(unknown))}"}
                )
            obj = model(action=action, **row)
            try:
                obj.full_clean(exclude=["action"])
            except ValidationError as exc:
                raise ValidationError(
                    {f"{relation}[{index}].{key}": msgs for key, msgs in exc.message_dict.items()}
                ) from exc
            obj.save()


def _children(fields: dict[str, Any]) -> dict[str, list[dict] | None]:
    """Take the child lists out of ``fields`` (None: keep the rows); refuse unknown fields."""
    unknown = set(fields) - set(ACTION_FIELDS) - set(CHILD_FIELDS)
    if unknown:
        raise ValidationError({key: "unknown field" for key in unknown})
    return {relation: fields.pop(relation, None) for relation in CHILD_FIELDS}


def _save(action: Action, children: dict[str, list[dict] | None]) -> Action:
    """Validate and save ``action``; child lists given replace its rows."""
    action.full_clean()
    action.save()
    _replace_children(action, children)
    definitions_changed()
    return action


@transaction.atomic
def action_create(*, name: str, type: str, created_by=None, **fields: Any) -> Action:
    """A new action from ``ACTION_FIELDS`` and the child lists of ``CHILD_FIELDS`` (``properties``,
    ``capping_rules``, ``hooks``, ``test_users``: lists of dicts)."""
    children = _children(fields)
    return _save(Action(name=name, type=type, created_by=created_by, **fields), children)


@transaction.atomic
def action_update(*, action: Action, **fields: Any) -> Action:
    """Change fields; child lists given replace the existing ones."""
    children = _children(fields)
    action = Action.objects.select_for_update().get(pk=action.pk)
    for key, value in fields.items():
        setattr(action, key, value)
    return _save(action, children)


@transaction.atomic
def action_saved(*, action: Action) -> Action:
    """The admin saved ``action`` and its inlines (each validated by its form): refresh caches."""
    definitions_changed()
    return action


@transaction.atomic
def action_set_state(*, action: Action, state: str) -> Action:
    if state not in Action.State.values:
        raise ValidationError({"state": f"expected one of {', '.join(Action.State.values)}"})
    if action.state != state:
        Action.objects.filter(pk=action.pk).update(state=state, updated_at=timezone.now())
        action.state = state
        definitions_changed()
    return action


@transaction.atomic
def action_duplicate(*, action: Action, name: str = "", created_by=None) -> Action:
    """An inactive copy with the same properties, targeting, capping, hooks and test users."""
    copy = Action.objects.get(pk=action.pk)
    copy.pk = None
    copy.name = (name or f"Copy of {action.name}")[:200]
    copy.state = Action.State.INACTIVE
    copy.created_by = created_by
    copy.created_at = timezone.now()
    copy.save()
    for relation, fields in CHILD_FIELDS.items():
        model = getattr(action, relation).model
        model.objects.bulk_create(
            [
                model(
                    action=copy,
                    **{
                        f if f != "person" else "person_id": getattr(row, f if f != "person" else "person_id")
                        for f in fields
                    },
                )
                for row in getattr(action, relation).all()
            ]
        )
    definitions_changed()
    return copy


@transaction.atomic
def action_delete(*, action: Action) -> None:
    """Deleting is refused while the action is active or staging (set it inactive first), like the
    other definitions that are in use."""
    if action.state != Action.State.INACTIVE:
        raise ValidationError(
            f"'{action.name}' is {action.state}: set it inactive before deleting it "
            "(or duplicate it to change it)."
        )
    action.delete()
    definitions_changed()


# ------------------------------------------------------------------ people of the client API


@dataclass
class Resolved:
    person: Person | None
    suppressed: bool = False
    identifiers: dict[str, str] = field(default_factory=dict)
    audience_ids: set[int] | None = None  # the person's audiences when read with the person


def _suppressed(idents: set[tuple[str, str]]) -> bool:
    from identity.extensions import blocked_identifiers
    from identity.models import SuppressedIdentifier

    if not idents:
        return False
    if blocked_identifiers(idents):
        return True
    values = {v for _, v in idents}
    found = SuppressedIdentifier.objects.filter(value__in=values).values_list("type__key", "value")
    return any(pair in idents for pair in found)


def person_resolve(
    *, source: Source, user_id: str | None, anonymous_id: str | None, looked_up: bool = False
) -> Resolved:
    """The profile of the client's ids, resolved as tracking does: an unknown id gets a profile
    (unless the source may not create people); a person any of whose identifiers is suppressed or
    blocked by a privacy filter is returned as suppressed. ``looked_up``: the caller ran
    ``known_person_query`` and it found no live profile (the general path answers)."""
    from identity.extensions import blocked_identifiers
    from identity.models import Identity, SuppressedIdentifier
    from identity.selectors import person_by_identifier
    from identity.services import ingest_batch

    ids = {k: v for k, v in (("user_id", user_id), ("anonymous_id", anonymous_id)) if v}

    def lookup() -> Person | None:
        by_user = person_by_identifier(type_key="user_id", value=user_id) if user_id else None
        by_anon = person_by_identifier(type_key="anonymous_id", value=anonymous_id) if anonymous_id else None
        if user_id and anonymous_id and by_anon != by_user:
            return None  # not linked yet: tracking would create, attach or merge
        return by_user or by_anon

    if not looked_up:
        found = _resolve_known(ids)
        if found is not None:
            return found
    person = lookup()
    if person is None:
        if _suppressed(set(ids.items())):
            return Resolved(None, True, ids)
        if source.protection != Source.Protection.READ_ONLY:
            message = {"type": "identify", "messageId": f"actions-{uuid.uuid4()}"}
            message.update({"userId": user_id} if user_id else {})
            message.update({"anonymousId": anonymous_id} if anonymous_id else {})
            ingest_batch(source=source, messages=[message])
        person = lookup()
        if person is None and user_id:
            person = person_by_identifier(type_key="user_id", value=user_id)
        if person is None:
            return Resolved(None, False, ids)
    # One query: the person's identifiers, each with whether it is on the suppression list.
    rows = (
        Identity.objects.filter(person_id=person.pk)
        .annotate(
            on_list=Exists(
                SuppressedIdentifier.objects.filter(type_id=OuterRef("type_id"), value=OuterRef("value"))
            )
        )
        .values_list("type__key", "value", "on_list")
    )
    idents = set(ids.items())
    for key, value, on_list in rows:
        if on_list:
            return Resolved(None, True, ids)
        idents.add((key, value))
    if blocked_identifiers(idents):
        return Resolved(None, True, ids)
    return Resolved(person, False, ids)


@functools.cache
def _known_person_sql() -> str:
    """The profile holding one identifier, with all its identifiers (type keys and values, two arrays
    in the same order) and whether any of them is on the suppression list: one statement, built once
    (no ORM compilation per request)."""
    from identity.models import IdentifierType, Identity, SuppressedIdentifier

    q = connection.ops.quote_name
    person, identity = q(Person._meta.db_table), q(Identity._meta.db_table)
    types, suppressed = q(IdentifierType._meta.db_table), q(SuppressedIdentifier._meta.db_table)
    held = f"FROM {identity} i JOIN {types} t ON t.id = i.type_id WHERE i.person_id = p.id"
    audiences = "NULL"
    if targeting.audiences_available():
        from audiences.models import Audience, AudienceMembership

        # audiences.selectors.member_audience_ids for an unmerged person (the current version of
        # each active audience; a test holds both equal).
        audiences = (
            f"ARRAY(SELECT m.audience_id FROM {q(AudienceMembership._meta.db_table)} m "
            f"JOIN {q(Audience._meta.db_table)} a ON a.id = m.audience_id "
            f"WHERE m.person_id = p.id AND m.version = a.version AND a.state = '{Audience.State.ACTIVE}')"
        )
    return (
        f"SELECT {rawmodels.columns(Person, 'p')}, {audiences}, ARRAY(SELECT t.key {held} ORDER BY i.id), "
        f"ARRAY(SELECT i.value {held} ORDER BY i.id), "
        f"EXISTS(SELECT 1 {held} AND EXISTS(SELECT 1 FROM {suppressed} s "
        f"WHERE s.type_id = i.type_id AND s.value = i.value)) "
        f"FROM {person} p JOIN {identity} h ON h.person_id = p.id WHERE h.type_id = %s AND h.value = %s"
    )


def known_person_query(ids: dict[str, str]) -> tuple[str, list] | None:
    """The one statement of ``person_resolve`` for one client id (PostgreSQL) and its parameters: the
    person's columns, then their audiences, identifier keys and values and whether any is suppressed
    (``known_person`` reads its row). None where it does not apply (two ids, an invalid id, SQLite):
    the general path answers those."""
    from identity.policy import Policy

    if connection.vendor != "postgresql" or len(ids) != 1:
        return None
    ((type_key, value),) = ids.items()
    key = Policy.cached().lookup_key(type_key, value)
    return None if key is None else (_known_person_sql(), list(key))


def known_person(ids: dict[str, str], row: tuple | None) -> Resolved | None:
    """``person_resolve`` from the row of ``known_person_query`` (then the privacy filters); None when
    the id is unknown or held by a merged profile (the general path answers those)."""
    from identity.extensions import blocked_identifiers

    if row is None or row[0] is None:
        return None
    person = rawmodels.instance(Person, row)
    if person.merged_into_id:
        return None
    audiences, keys, values, on_list = row[rawmodels.width(Person) :]
    if on_list:
        return Resolved(None, True, ids)
    if blocked_identifiers({*ids.items(), *zip(keys, values, strict=True)}):
        return Resolved(None, True, ids)
    return Resolved(person, False, ids, set(audiences) if audiences is not None else None)


def _resolve_known(ids: dict[str, str]) -> Resolved | None:
    query = known_person_query(ids)
    if query is None:
        return None
    found = rawmodels.rows(*query)
    return known_person(ids, found[0] if found else None)


# ------------------------------------------------------------------ deliveries (GET|POST /v1/actions)


def _lock_for_caps(
    actions: list[targeting.Compiled],
    view: targeting.PersonView,
    kinds: tuple[str, ...],
    *,
    per_person: bool = True,
) -> None:
    """Serialize the check-and-insert of capped reactions: the action rows for global rules on
    ``kinds`` (every client racing for the last coupons waits here), the person row for per-person
    rules (``per_person``)."""
    global_ids = sorted(a.id for a in actions if targeting.has_global_rules(a, kinds))
    if global_ids:
        _lock_rows(Action, global_ids)
    user_rules = (r for a in actions for r in a.rules if r.group == CappingRule.Group.USER)
    if per_person and any(r.reaction in kinds for r in user_rules):
        _lock_rows(Person, [view.person.pk])


def _lock_rows(model, ids: list[int]) -> None:
    """``SELECT … FOR UPDATE`` of the rows ``ids`` (sorted: rows are locked in primary-key order)."""
    if connection.vendor != "postgresql":
        list(model.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk"))
        return
    table = connection.ops.quote_name(model._meta.db_table)
    rawmodels.rows(f"SELECT id FROM {table} WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE", [ids])


def actions_for(
    *,
    person: Person,
    channel: str,
    type: str | None = None,
    tags: tuple[str, ...] = (),
    context: dict | None = None,
    now=None,
    rng: random.Random | None = None,
    source: Source | None = None,
    identifiers: dict[str, str] | None = None,
    audience_ids: set[int] | None = None,
) -> list[dict]:
    """The actions ``person`` gets on ``channel``, personalized; each is logged as delivered (one
    bulk insert) and the person is recorded as contacted on the channel (at most once a minute per
    person and channel). Hooks on ``delivered`` run (stored events need the ``source`` and the
    client's ``identifiers``; ``audience_ids``: the person's audiences when already read)."""
    ask = targeting.Ask(
        channel=channel, type=type, tags=tuple(tags), context=context or {}, now=now or timezone.now()
    )
    view = targeting.PersonView(person, audience_ids=audience_ids)
    eligible: list[targeting.Compiled] = []
    capped: list[targeting.Compiled] = []  # steps 1–9 pass; the capping rules decide
    for action in targeting.definitions().on_channel(channel):
        verdict = targeting.screen(action, view, ask)
        if verdict == targeting.HIDDEN:
            continue
        if verdict == targeting.SHOWN or not action.rules:
            eligible.append(action)
        else:
            capped.append(action)
    if not (eligible or capped):
        return []
    candidates = eligible + capped
    props = {a.id: a.properties_for(channel) for a in candidates}
    values = view.values(set().union(*(targeting.property_keys(p) for p in props.values())))
    contact_channel = source.channel if source else _channel(channel)
    contact_due = _contact_due(person, contact_channel)
    hooks = _async_hooks({a.id for a in candidates}, ReactionKind.DELIVERED, channel)
    # One statement counts the capping rules, inserts the deliveries they allow and, when due, records
    # the contact (PostgreSQL, when no slot makes its actions compete). Alone (nothing else to write:
    # no lock, no hook) it needs no transaction of its own.
    in_sql = connection.vendor == "postgresql" and not allocation.competing(candidates)
    deliver = functools.partial(
        _insert_delivered,
        eligible,
        capped,
        person,
        channel,
        ask.now,
        ask.context,
        contact=(contact_channel,) if contact_due else None,
    )
    if in_sql and not hooks and not _global_caps(capped):
        delivered = deliver()
    else:
        with transaction.atomic():
            if capped:
                # Global rules on delivered are exact: the racing clients wait on the action rows. A
                # per-person rule is counted without a lock (the same person asking twice at the same
                # moment may pass it once more).
                _lock_for_caps(capped, view, (ReactionKind.DELIVERED,), per_person=False)
            if in_sql:
                delivered = deliver()
            else:
                if capped:
                    hidden = targeting.capping_reasons(capped, view, ask)
                    eligible += [a for a in capped if a.id not in hidden]
                delivered = sorted(a.id for a in allocation.choose(eligible, rng=rng))
                if delivered:
                    _insert_reactions(
                        delivered, person.pk, channel, ReactionKind.DELIVERED, ask.now, ask.context
                    )
                    if contact_due:
                        _record_contact(person, contact_channel, ask.now)
            if delivered:
                _run_hooks(
                    [h for h in hooks if h.action_id in delivered],
                    ReactionKind.DELIVERED,
                    channel,
                    person,
                    identifiers or {},
                    ask.context,
                    {},
                    ask.now,
                    source=source,
                )
    by_id = {a.id: a for a in candidates}
    return [
        {
            "id": a.id,
            "type": a.type,
            "tags": list(a.tags),
            "properties": targeting.render_properties(props[a.id], values),
        }
        for a in (by_id[i] for i in delivered)
    ]


def _global_caps(capped: list[targeting.Compiled]) -> bool:
    return any(targeting.has_global_rules(a, (ReactionKind.DELIVERED,)) for a in capped)


def _insert_delivered(
    eligible: list[targeting.Compiled],
    capped: list[targeting.Compiled],
    person: Person,
    channel: str,
    at,
    context: dict,
    *,
    contact: tuple[Channel | None] | None = None,
) -> list[int]:
    """The ids (ascending) of the actions delivered: ``eligible`` and those of ``capped`` that no
    capping rule hides (every rule, of any reaction, as ``targeting.capping_reasons`` counts them),
    each logged as a ``delivered`` reaction, in one statement built once (PostgreSQL). With
    ``contact`` (``(the contact's channel or None,)``) the same statement records the person as
    contacted when anything was delivered (people's ``contacts_sql``: last contacted, the
    pending-refresh row), and the marker of ``_record_contact`` is set."""
    rules = [
        {
            "action_id": action.id,
            "kind": rule.reaction,
            "channels": ",".join(rule.channels) or None,
            "lim": rule.count,
            "since": (at - timedelta(days=rule.within_days)).isoformat() if rule.within_days else None,
            "everyone": rule.group != CappingRule.Group.USER,
        }
        for action in capped
        for rule in action.rules
    ]
    params = [
        json.dumps(rules),
        person.pk,
        person.pk,
        person.pk,
        channel,
        str(ReactionKind.DELIVERED),
        at,
        json.dumps(context),
        [a.id for a in eligible] + [a.id for a in capped],
    ]
    if contact is None:
        return sorted(row[0] for row in rawmodels.rows(_insert_delivered_sql(), params))
    (contact_channel,) = contact
    params += [person.pk, contact_channel.pk if contact_channel else None, at]
    rows = rawmodels.rows(_deliver_and_contact_sql(contacts_notify()), params)
    contacted = [row[1:] for row in rows if row[0] is None]
    if contacted:
        cache.set(_contact_marker(person, contact_channel), True, CONTACT_EVERY_SECONDS)
        person.last_contacted_at = contacts_recorded(contacted).get(person.pk)
    return sorted(row[0] for row in rows if row[0] is not None)


@functools.cache
def _insert_delivered_sql() -> str:
    """Per rule, the count of the reactions it limits (the person's and their merged profiles', or
    everyone's), then the insert of the actions no reached rule hides, returning their ids."""
    return _capping_ctes() + " " + _delivered_insert()


@functools.cache
def _deliver_and_contact_sql(notify: bool) -> str:
    """``_insert_delivered_sql``, then the contact of the person (``%s``, the channel's id or NULL,
    the time) when anything was delivered: the rows are the delivered ids ``(id, NULL, NULL,
    NULL)``, then ``(NULL, *contacted)``. One statement, so a first ask needs no transaction."""
    given = "SELECT %s::bigint, %s::bigint, %s::timestamptz WHERE EXISTS (SELECT 1 FROM delivered)"
    return (
        f"{_capping_ctes()}, delivered AS ({_delivered_insert()}), {contacts_sql(given, notify=notify)} "
        "SELECT action_id, NULL::bigint, NULL::timestamptz, NULL::boolean FROM delivered "
        "UNION ALL SELECT NULL, * FROM contacted"
    )


def _capping_ctes() -> str:
    q = connection.ops.quote_name
    reactions = q(Reaction._meta.db_table)
    # Every condition an index can take is written so that it can: the person's rules count through
    # ``reaction_person_action`` (their profiles' ids, then the action, kind and window), a rule over
    # everyone through ``reaction_action_kind``. (``person_id = p OR person_id IN (merged)`` could
    # only filter: each per-person rule then read every reaction of its action, 15 ms a request
    # after 35,000 deliveries at size M, growing with every delivery.)
    limited = (
        f"SELECT count(*) FROM {reactions} x WHERE x.action_id = r.action_id AND x.kind = r.kind "
        "AND x.created_at >= COALESCE(r.since, '-infinity'::timestamptz) "
        "AND (r.channels IS NULL OR x.channel = ANY(string_to_array(r.channels, ',')))"
    )
    return (
        "WITH rules AS (SELECT * FROM json_to_recordset(%s::json) AS r(action_id bigint, kind text, "
        "channels text, lim bigint, since timestamptz, everyone boolean)), "
        "hidden AS (SELECT r.action_id FROM rules r WHERE r.lim <= CASE WHEN r.everyone "
        f"THEN ({limited}) ELSE ({limited} AND x.person_id = ANY({targeting.held_by_sql()})) END)"
    )


def _delivered_insert() -> str:
    """The deliveries of the actions no reached capping rule hides (``hidden``), returning their ids."""
    insert = _reactions_insert(properties="'{}'::jsonb")
    return f"{insert} WHERE a <> ALL(ARRAY(SELECT action_id FROM hidden)) RETURNING action_id"


def _reactions_insert(*, properties: str = "%s::jsonb") -> str:
    """One reaction per action id of an array; the values, in order: person id, channel, kind, time,
    context (and ``properties`` when it is a parameter), then the action ids."""
    table = connection.ops.quote_name(Reaction._meta.db_table)
    return (
        f"INSERT INTO {table} (action_id, person_id, channel, kind, created_at, context, properties) "
        f"SELECT a, %s::bigint, %s::text, %s::text, %s::timestamptz, %s::jsonb, {properties} "
        "FROM unnest(%s::bigint[]) AS a"
    )


def _insert_reactions(
    action_ids: list[int], person_id: int, channel: str, kind: str, at, context: dict, properties=None
) -> None:
    """One reaction per action, one ``INSERT`` (raw on PostgreSQL, built once: the client API runs it
    on every request)."""
    properties = properties or {}
    if connection.vendor != "postgresql":
        Reaction.objects.bulk_create(
            [
                Reaction(
                    action_id=action_id,
                    person_id=person_id,
                    channel=channel,
                    kind=kind,
                    created_at=at,
                    context=context,
                    properties=properties,
                )
                for action_id in action_ids
            ]
        )
        return
    rawmodels.rows(
        _insert_reactions_sql(),
        [person_id, channel, kind, at, json.dumps(context), json.dumps(properties), action_ids],
    )


@functools.cache
def _insert_reactions_sql() -> str:
    return _reactions_insert()


CONTACT_EVERY_SECONDS = 60


def _record_contact(person: Person, channel: Channel | None, at) -> None:
    """Last contacted, at most once per person and channel per ``CONTACT_EVERY_SECONDS`` (a marker in
    Django's cache: per process with the default memory cache, shared with Redis): recording costs
    a statement and a refresh of the person's computed attributes and audiences. On PostgreSQL the
    client API records it in its delivery's statement instead (``_insert_delivered``)."""
    if cache.add(_contact_marker(person, channel), True, CONTACT_EVERY_SECONDS):
        contact_record(person=person, channel=channel, at=at)


def _contact_marker(person: Person, channel: Channel | None) -> str:
    return f"attune:actions:contacted:{person.pk}:{channel.pk if channel else ''}"


def _contact_due(person: Person, channel: Channel | None) -> bool:
    """Whether a delivery now would record the contact (no marker within the minute)."""
    return cache.get(_contact_marker(person, channel)) is None


def _channel(key: str) -> Channel | None:
    cache_key = f"attune:actions:channel:{key}"
    found = cache.get(cache_key)
    if found is None:
        found = Channel.objects.filter(key=key).first() or False
        cache.set(cache_key, found, 60)
    return found or None


# ------------------------------------------------------------------ acts (POST /v1/actions/act)


@dataclass
class ActResult:
    status: int
    body: dict


def act(
    *,
    source: Source,
    person: Person,
    action_id: int,
    event: str,
    identifiers: dict[str, str],
    context: dict | None = None,
    properties: dict | None = None,
    now=None,
    audience_ids: set[int] | None = None,
) -> ActResult:
    """Record the client's reaction. ``accept`` re-checks state, channel, test user, time range,
    traits, audiences and the accept capping rules (exactly, under concurrency) and calls the
    synchronous accept hook, whose status ≥ 300 fails the act with nothing recorded."""
    kind = ACT_EVENTS.get(event)
    if kind is None:
        raise ActionError(400, "invalid_event", f"event must be one of {', '.join(ACT_EVENTS)}")
    now = now or timezone.now()
    context, properties = context or {}, properties or {}
    channel = source.channel.key
    compiled = targeting.compiled_action(action_id)
    if compiled is None:
        raise ActionError(404, "action_not_found", f"There is no action {action_id}.")
    hooks = _async_hooks((action_id,), kind, channel)
    if kind != ReactionKind.ACCEPTED and not hooks:
        # Nothing to check and one row to write: one statement, no transaction of its own.
        _insert_reactions([action_id], person.pk, channel, kind, now, context, properties)
        return ActResult(200, {"success": True, "reaction": kind})
    view = targeting.PersonView(person, audience_ids=audience_ids)
    ask = targeting.Ask(channel=channel, context=context, now=now)
    with transaction.atomic():
        sync_result = None
        if kind == ReactionKind.ACCEPTED:
            _lock_for_caps([compiled], view, (ReactionKind.ACCEPTED,))
            steps = targeting.evaluate(
                compiled,
                view,
                ask,
                check_type_and_tags=False,
                check_context=False,
                capping_kinds=(ReactionKind.ACCEPTED,),
            )
            failed = next((s for s in steps if s.passed is False), None)
            if failed:
                raise ActionError(
                    403,
                    f"not_allowed_{failed.name}",
                    f"The person may not accept this action: {failed.reason}.",
                )
            sync_hooks = [
                h
                for h in targeting.definitions().hooks.get(kind, ())
                if h.action_id == action_id
                and h.kind == Hook.Kind.WEBHOOK
                and h.synchronous
                and h.channel in ("", channel)
            ]
            for hook in sync_hooks:
                body = _hook_body(hook, kind, channel, identifiers, properties, now)
                sync_result = webhooks.call_now(hook=hook, person=person, body=body)
                if sync_result["statusCode"] is None or sync_result["statusCode"] >= 300:
                    status = sync_result["statusCode"] or 502
                    return ActResult(
                        status if status >= 300 else 502,
                        {
                            "code": "hook_failed",
                            "message": sync_result["error"] or f"The accept hook answered {status}.",
                            "hook": sync_result,
                        },
                    )
        _insert_reactions([action_id], person.pk, channel, kind, now, context, properties)
        _run_hooks(hooks, kind, channel, person, identifiers, context, properties, now, source=source)
    body: dict[str, Any] = {"success": True, "reaction": kind}
    if sync_result is not None:
        body["hook"] = sync_result
    return ActResult(200, body)


def _hook_body(hook: Hook, kind: str, channel: str, identifiers: dict, properties: dict, now) -> str:
    return webhooks.action_body(
        event=kind,
        action_id=hook.action_id,
        identifiers=identifiers,
        channel=channel,
        user_properties=properties,
        custom_properties=hook.extra,
        at=now,
    )


def _async_hooks(action_ids: set[int] | list[int], kind: str, channel: str) -> list[Hook]:
    """The asynchronous hooks of ``(kind, channel)`` on ``action_ids``."""
    return [
        h
        for h in targeting.definitions().hooks.get(kind, ())
        if h.action_id in action_ids and h.channel in ("", channel) and not h.synchronous
    ]


def _run_hooks(
    hooks: list[Hook],
    kind: str,
    channel: str,
    person: Person,
    identifiers: dict[str, str],
    context: dict,
    properties: dict,
    now,
    source: Source | None = None,
) -> None:
    """Run ``hooks`` (``_async_hooks``): stored events and queued webhook deliveries."""
    if not hooks:
        return
    messages = []
    for hook in hooks:
        if hook.kind == Hook.Kind.TRACK_EVENT:
            message = {
                "type": "track",
                "event": hook.event_name,
                "messageId": f"action-hook-{uuid.uuid4()}",
                "properties": {**properties, "actionId": hook.action_id, "reaction": kind},
                "context": context,
                "timestamp": now.isoformat(),
            }
            message.update({"userId": identifiers["user_id"]} if identifiers.get("user_id") else {})
            message.update(
                {"anonymousId": identifiers["anonymous_id"]} if identifiers.get("anonymous_id") else {}
            )
            if "userId" in message or "anonymousId" in message:
                messages.append(message)
        else:
            body = _hook_body(hook, kind, channel, identifiers, properties, now)
            webhooks.enqueue(
                hook=hook, action_id=hook.action_id, person=person, event=kind, url=hook.url, body=body
            )
    if messages and source is not None:
        from identity.services import ingest_batch

        ingest_batch(source=source, messages=messages)


# ------------------------------------------------------------------ webhooks and keys

AUDIENCE_BATCH = 500


@transaction.atomic
def audience_webhook_save(*, webhook: AudienceWebhook | None = None, **fields: Any) -> AudienceWebhook:
    webhook = webhook or AudienceWebhook()
    for key, value in fields.items():
        setattr(webhook, key, value)
    webhook.full_clean()
    webhook.save()
    return webhook


@transaction.atomic
def audience_webhooks_queue(*, audience_id: int, first_history_id: int, last_history_id: int) -> list:
    """One delivery per matching webhook and batch of up to ``AUDIENCE_BATCH`` changes:
    ``{event: "audience_membership_changed", audienceId, audienceKey, changes: [{event: entered|exited,
    userId, personId, at}], customProperties, timestamp}``. Idempotent per history range."""
    from audiences.models import Audience, MembershipHistory
    from identity.models import Identity

    hooks = list(
        AudienceWebhook.objects.filter(enabled=True).filter(
            Q(audience_id=audience_id) | Q(audience__isnull=True)
        )
    )
    audience = Audience.objects.filter(pk=audience_id).first()
    if not hooks or audience is None:
        return []
    rows = list(
        MembershipHistory.objects.filter(
            audience_id=audience_id, id__gte=first_history_id, id__lte=last_history_id
        )
        .order_by("id")
        .values("id", "person_id", "person__uid", "kind", "at")
    )
    user_ids = dict(
        Identity.objects.filter(
            person_id__in={r["person_id"] for r in rows}, type__key="user_id"
        ).values_list("person_id", "value")
    )
    now = timezone.now()
    queued = []
    for hook in hooks:
        wanted = {k for k, on in (("entered", hook.on_entered), ("exited", hook.on_exited)) if on}
        changes = [r for r in rows if r["kind"] in wanted]
        for start in range(0, len(changes), AUDIENCE_BATCH):
            chunk = changes[start : start + AUDIENCE_BATCH]
            body = webhooks.dumps(
                {
                    "event": "audience_membership_changed",
                    "audienceId": audience.pk,
                    "audienceKey": audience.key,
                    "changes": [
                        {
                            "event": r["kind"],
                            "userId": user_ids.get(r["person_id"]),
                            "personId": str(r["person__uid"]),
                            "at": r["at"].isoformat(),
                        }
                        for r in chunk
                    ],
                    "customProperties": hook.extra,
                    "timestamp": now.isoformat(),
                    "historyRange": [chunk[0]["id"], chunk[-1]["id"]],
                }
            )
            event = "audience_" + (
                "entered"
                if {r["kind"] for r in chunk} == {"entered"}
                else ("exited" if {r["kind"] for r in chunk} == {"exited"} else "changed")
            )
            queued.append(
                webhooks.enqueue(
                    hook=None,
                    action_id=None,
                    person=None,
                    event=event,
                    url=hook.url,
                    body=body,
                    audience_webhook=hook,
                )
            )
    return queued


@transaction.atomic
def delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a logged webhook again (a new delivery row with the same body, signed afresh)."""
    return webhooks.enqueue(
        hook=delivery.hook,
        audience_webhook=delivery.audience_webhook,
        action_id=delivery.action_id,
        person=delivery.person,
        event=delivery.event,
        url=delivery.url,
        body=delivery.body,
    )


@transaction.atomic
def signing_key_rotate() -> OrganizationSettings:
    """A new signing key; the old one keeps signing too (two ``v1=``) until the rotation is finished."""
    org = OrganizationSettings.objects.select_for_update().get(pk=_org().pk)
    org.webhook_signing_key_previous = org.webhook_signing_key
    org.webhook_signing_key = secrets.token_hex(32)
    org.save(update_fields=["webhook_signing_key", "webhook_signing_key_previous", "updated_at"])
    _forget_org()
    return org


@transaction.atomic
def signing_key_finish_rotation() -> OrganizationSettings:
    """Stop signing with the previous key (once every receiver knows the new one)."""
    org = OrganizationSettings.objects.select_for_update().get(pk=_org().pk)
    if org.webhook_signing_key_previous:
        org.webhook_signing_key_previous = ""
        org.save(update_fields=["webhook_signing_key_previous", "updated_at"])
        _forget_org()
    return org


def _org() -> OrganizationSettings:
    from people.selectors import organization

    return organization()


def _forget_org() -> None:
    from people.selectors import ORGANIZATION_CACHE_KEY

    cache.delete(ORGANIZATION_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(ORGANIZATION_CACHE_KEY))
