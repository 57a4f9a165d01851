"""Whether a person gets an action, and why not: the evaluation order shared by the client API, the
accept re-check and the simulation.

Order (short-circuit): state → channel → type → tags → test user → time range → trait conditions →
context conditions → audiences → capping. A test user with "skip targeting" gets the action right
after the test-user step. Every step answers with a reason a marketer can read.

Definitions are compiled once per process and kept until they change (``definitions()``): every
``CACHE_SECONDS`` a process reads a fingerprint of the action rows (their count and latest change) and
compiles again only when it differs; the services that change actions drop the fingerprint at once
(``definitions_changed``), in every process when Django's cache is shared. A request reads no action
rows. The client API screens actions with ``screen`` (the evaluation order without the reasons); the
simulation and the accept re-check use ``evaluate`` (every step with its reason).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Max, Q
from django.utils import timezone

from actions import templating
from actions.models import Action, ActionProperty, CappingRule, Hook
from people import conditions
from people.caching import ProcessCache
from people.conditions.attributes import attribute_values, resolve
from people.conditions.evaluator import Evaluation, read_property
from people.conditions.evaluator import evaluate as evaluate_tree
from people.conditions.operators import OperandError, cast_operand, predicate_matches
from people.models import Person

STEPS = (
    "state",
    "channel",
    "type",
    "tags",
    "test_user",
    "time_range",
    "traits",
    "context",
    "audiences",
    "capping",
)
STEP_LABELS = {
    "state": "State",
    "channel": "Channel",
    "type": "Type",
    "tags": "Tags",
    "test_user": "Test user",
    "time_range": "Time range",
    "traits": "Trait conditions",
    "context": "Context conditions",
    "audiences": "Audiences",
    "capping": "Capping",
}
CONTEXT_TYPES = ("text", "number", "boolean")
CACHE_SECONDS = 5.0


# ------------------------------------------------------------------ compiled definitions


@dataclass(frozen=True)
class ContextCondition:
    channel: str
    key: str
    path: tuple[str, ...]
    type: str
    op: str
    value: Any
    memo: str = ""  # the condition as JSON (equal conditions share one check per request)


@dataclass(frozen=True)
class CompiledProperty:
    name: str
    channel: str
    kind: str
    value: str
    attribute: str
    value_type: str
    fallback: str
    nodes: tuple = ()


@dataclass(frozen=True)
class Rule:
    id: int
    channels: tuple[str, ...]
    reaction: str
    group: str
    count: int
    within_days: int


@dataclass
class Compiled:
    id: int
    name: str
    type: str
    tags: tuple[str, ...]
    state: str
    channels: tuple[str, ...]
    start_date: date | None
    start_time: time | None
    end_date: date | None
    end_time: time | None
    trait_tree: Any
    context_conditions: tuple[ContextCondition, ...]
    audience_ids: tuple[int, ...]
    slot: str
    allocation: bool
    properties: tuple[CompiledProperty, ...]
    rules: tuple[Rule, ...]
    test_users: dict[int, list[tuple[str, bool]]] = field(default_factory=dict)
    trait_key: str = ""  # the trait conditions as canonical JSON: equal trees are evaluated once
    _properties: dict[str, list[CompiledProperty]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.has_time_range = bool(self.start_date or self.end_date or self.start_time or self.end_time)
        self.audience_set = frozenset(self.audience_ids)

    def properties_for(self, channel: str) -> list[CompiledProperty]:
        found = self._properties.get(channel)
        if found is None:
            chosen: dict[str, CompiledProperty] = {}
            for prop in self.properties:
                if prop.channel == "" and prop.name not in chosen:
                    chosen[prop.name] = prop
            for prop in self.properties:
                if prop.channel == channel:
                    chosen[prop.name] = prop
            found = self._properties[channel] = list(chosen.values())
        return found


def parse_context_conditions(raw: Any) -> tuple[ContextCondition, ...]:
    """Check the JSON list of context conditions; ``ValueError`` names the position."""
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list):
        raise ValueError("context conditions: expected a list")
    out = []
    for index, item in enumerate(raw):
        where = f"context_conditions[{index}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an object with channel, key, type, op, value")
        unknown = set(item) - {"channel", "key", "type", "op", "value"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        key = item.get("key")
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"{where}.key: expected a context key such as page.path")
        channel = item.get("channel") or ""
        if not isinstance(channel, str):
            raise ValueError(f"{where}.channel: expected a channel key")
        value_type = item.get("type", "text")
        if value_type not in CONTEXT_TYPES:
            raise ValueError(f"{where}.type: expected one of {', '.join(CONTEXT_TYPES)}")
        op = item.get("op")
        try:
            value = cast_operand(value_type, op, item.get("value"))
        except OperandError as exc:
            raise ValueError(f"{where}: {exc}") from exc
        path = tuple(key.strip().split("."))
        try:
            memo = json.dumps([channel, path, value_type, op, value], default=str)
        except (TypeError, ValueError):
            memo = ""
        out.append(ContextCondition(channel, key, path, value_type, op, value, memo))
    return tuple(out)


def compile_action(action: Action) -> Compiled:
    """A checked, parsed form of ``action`` (``properties``, ``capping_rules`` and ``test_users``
    prefetched or read here)."""
    tree = conditions.check(action.trait_conditions) if action.trait_conditions else None
    props = []
    for prop in action.properties.all():
        nodes = templating.parse(prop.value) if prop.kind == ActionProperty.Kind.TEMPLATE else ()
        props.append(
            CompiledProperty(
                prop.name,
                prop.channel,
                prop.kind,
                prop.value,
                prop.attribute,
                prop.value_type,
                prop.fallback,
                nodes,
            )
        )
    rules = tuple(
        Rule(r.pk, tuple(r.channels or ()), r.reaction, r.group, r.count, r.within_days)
        for r in action.capping_rules.all()
    )
    test_users: dict[int, list[tuple[str, bool]]] = {}
    for test_user in action.test_users.all():
        test_users.setdefault(test_user.person_id, []).append((test_user.channel, test_user.skip_targeting))
    return Compiled(
        id=action.pk,
        name=action.name,
        type=action.type,
        tags=tuple(action.tags or ()),
        state=action.state,
        channels=tuple(action.channels or ()),
        start_date=action.start_date,
        start_time=action.start_time,
        end_date=action.end_date,
        end_time=action.end_time,
        trait_tree=tree,
        context_conditions=parse_context_conditions(action.context_conditions),
        audience_ids=tuple(int(a) for a in action.audience_ids or ()),
        slot=action.slot,
        allocation=action.allocation,
        properties=tuple(props),
        rules=rules,
        test_users=test_users,
        trait_key=json.dumps(action.trait_conditions, sort_keys=True) if tree is not None else "",
    )


def _query():
    return Action.objects.prefetch_related("properties", "capping_rules", "test_users")


LIVE_STATES = (Action.State.ACTIVE, Action.State.STAGING)


@dataclass
class Definitions:
    """Every active or staging action, compiled, and every hook (of any action), by reaction."""

    stamp: tuple
    actions: list[Compiled]
    hooks: dict[str, list[Hook]]

    def __post_init__(self) -> None:
        self.by_id = {a.id: a for a in self.actions}
        self._channels: dict[str, list[Compiled]] = {}

    def on_channel(self, channel: str) -> list[Compiled]:
        """The actions targeting ``channel`` (the others fail the channel step), in id order."""
        found = self._channels.get(channel)
        if found is None:
            found = self._channels[channel] = [a for a in self.actions if channel in a.channels]
        return found


def _stamp() -> tuple:
    """What changes whenever a service changes an action or its rows: every write saves the action
    row (``updated_at``), a duplicate adds one, a delete removes one."""
    found = Action.objects.aggregate(n=Count("pk"), latest=Max("updated_at"))
    return (found["n"], found["latest"])


_stamps = ProcessCache("actions.definitions", seconds=CACHE_SECONDS, max_entries=1)
_current: list[Definitions] = []


def definitions() -> Definitions:
    """The compiled definitions (compiled again only when the fingerprint changed)."""
    stamp = _stamps.get("stamp", _stamp)
    current = _current[0] if _current else None
    if current is not None and current.stamp == stamp:
        return current
    hooks: dict[str, list[Hook]] = {}
    for hook in Hook.objects.order_by("pk"):
        hooks.setdefault(hook.reaction, []).append(hook)
    live = _query().filter(state__in=LIVE_STATES).order_by("pk")
    current = Definitions(stamp, [compile_action(a) for a in live], hooks)
    _current[:] = [current]
    return current


def definitions_changed() -> None:
    """A service changed actions: read the fingerprint again now, and in every process after commit."""
    _stamps.changed()


def forget_compiled() -> None:
    """Forget this process's copy (tests)."""
    _stamps.clear()
    _current.clear()


def compiled_actions() -> list[Compiled]:
    """Every active or staging action, compiled."""
    return definitions().actions


def compiled_action(action_id: int) -> Compiled | None:
    found = definitions().by_id.get(action_id)
    if found is not None:
        return found
    action = _query().filter(pk=action_id).first()
    return compile_action(action) if action else None


# ------------------------------------------------------------------ one request


@dataclass
class Ask:
    """What the client asks for."""

    channel: str
    type: str | None = None
    tags: tuple[str, ...] = ()
    context: dict = field(default_factory=dict)
    now: datetime = field(default_factory=timezone.now)
    tz: ZoneInfo | None = None
    # Context conditions already checked for this ask (actions often share them).
    checked: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)

    def zone(self) -> ZoneInfo:
        if self.tz is None:
            from people.selectors import organization_tz

            self.tz = organization_tz()
        return self.tz


@dataclass
class Step:
    name: str
    passed: bool | None  # None: not evaluated (short-circuit or skipped for a test user)
    reason: str

    def as_dict(self) -> dict:
        state = "skipped" if self.passed is None else ("passed" if self.passed else "failed")
        return {"step": self.name, "label": STEP_LABELS[self.name], "state": state, "reason": self.reason}


class PersonView:
    """What the evaluation reads about one person, fetched lazily and once per request: attribute
    values and events (one ``people.conditions`` evaluation shared by every action's trait conditions)
    and audience memberships (one query, or ``audience_ids`` when the caller read them already)."""

    def __init__(self, person: Person, *, audience_ids: set[int] | None = None):
        self.person = person
        self._audiences = audience_ids
        self._values: dict[str, Any] = {}
        self._evaluation: Evaluation | None = None
        self._matched: dict[tuple[str, datetime], bool] = {}

    def audience_ids(self) -> set[int]:
        if self._audiences is None:
            self._audiences = member_audience_ids(self.person.pk)
        return self._audiences

    def matches(self, tree: Any, ask: Ask, key: str = "") -> bool:
        """Whether ``tree`` holds for the person at ``ask.now``; ``key`` (``Compiled.trait_key``)
        names equal trees, each evaluated once."""
        if key:
            found = self._matched.get((key, ask.now))
            if found is None:
                found = self._matched[(key, ask.now)] = self.matches(tree, ask)
            return found
        ev = self._evaluation
        if ev is None or ev.now != ask.now:
            ev = self._evaluation = Evaluation(self.person, ask.now, ask.zone())
        return evaluate_tree(tree, ev, record=False)

    def values(self, keys: set[str]) -> dict[str, Any]:
        missing = [key for key in keys if key not in self._values]
        if missing:
            refs = [ref for key in missing if (ref := resolve(key)) is not None]
            found = attribute_values(self.person, refs) if refs else {}
            for key in missing:
                self._values[key] = found.get(key)
        return {key: self._values[key] for key in keys}


@functools.cache
def audiences_available() -> bool:
    try:
        from audiences import selectors  # noqa: F401
    except ImportError:
        return False
    return hasattr(selectors, "member_audience_ids")


def member_audience_ids(person_id: int) -> set[int]:
    if not audiences_available():
        return set()
    from audiences.selectors import member_audience_ids as members

    return set(members(person_id=person_id))


def _time_bounds(action: Compiled, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
    start = end = None
    if action.start_date:
        start = datetime.combine(action.start_date, action.start_time or time(0), tzinfo=tz)
    if action.end_date:
        if action.end_time:
            end = datetime.combine(action.end_date, action.end_time, tzinfo=tz)
        else:
            end = datetime.combine(action.end_date + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def time_range_reason(action: Compiled, ask: Ask) -> str | None:
    """None when ``ask.now`` is inside the action's time range, else why not.

    A date (with or without its time) bounds the range; the end date is inclusive (the whole day)
    unless it has a time (then the range ends at that instant). Times without their date form a
    daily window (start inclusive, end exclusive; it may wrap midnight). All in the organization's
    timezone.
    """
    if not action.has_time_range:
        return None
    tz = ask.zone()
    local = ask.now.astimezone(tz)
    start, end = _time_bounds(action, tz)
    if start and ask.now < start:
        return (
            f"starts {start.strftime('%Y-%m-%d %H:%M')} ({tz.key}); it is {local.strftime('%Y-%m-%d %H:%M')}"
        )
    if end and ask.now >= end:
        shown = (
            (end - timedelta(days=1)).date().isoformat()
            if not action.end_time
            else end.strftime("%Y-%m-%d %H:%M")
        )
        after = "" if action.end_time else "after "
        return f"ended {after}{shown} ({tz.key}); it is {local.strftime('%Y-%m-%d %H:%M')}"
    window_start = action.start_time if not action.start_date else None
    window_end = action.end_time if not action.end_date else None
    if window_start or window_end:
        now_t = local.time().replace(tzinfo=None)
        lo, hi = window_start or time(0), window_end
        inside = (lo <= now_t < hi if lo <= hi else now_t >= lo or now_t < hi) if hi else now_t >= lo
        if not inside:
            span = f"{lo.strftime('%H:%M')}–{hi.strftime('%H:%M') if hi else '24:00'}"
            return f"outside the daily window {span} ({tz.key}); it is {now_t.strftime('%H:%M')}"
    return None


def context_reason(action: Compiled, ask: Ask) -> str | None:
    for cond in action.context_conditions:
        if cond.channel and cond.channel != ask.channel:
            continue
        actual = read_property(ask.context, cond.path, cond.type)
        if not predicate_matches(actual, cond.type, cond.op, cond.value, now=ask.now, tz=ask.zone()):
            shown = "missing" if actual is None else repr(actual)
            return f"context {cond.key} {cond.op} {_show(cond.value)} is false (the request has {shown})"
    return None


def context_passes(action: Compiled, ask: Ask) -> bool:
    """``context_reason(action, ask) is None``, each distinct condition checked once per ask."""
    for cond in action.context_conditions:
        if cond.channel and cond.channel != ask.channel:
            continue
        passed = ask.checked.get(cond.memo) if cond.memo else None
        if passed is None:
            actual = read_property(ask.context, cond.path, cond.type)
            passed = predicate_matches(actual, cond.type, cond.op, cond.value, now=ask.now, tz=ask.zone())
            if cond.memo:
                ask.checked[cond.memo] = passed
        if not passed:
            return False
    return True


def _show(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def _trait_reason(action: Compiled, view: PersonView, ask: Ask) -> str | None:
    if action.trait_tree is None or view.matches(action.trait_tree, ask):
        return None
    explained = conditions.explain(action.trait_tree, view.person, now=ask.now, tz=ask.zone())
    failed = [s for s in explained["steps"] if not s.get("matched")]
    if not failed:
        return "the trait conditions do not match"
    parts = []
    for s in failed[:3]:
        if s["kind"] == "attribute":
            parts.append(
                f"{s['attribute']} {s['op']} {s['value']!r} is false (the person has {s['actual']!r})"
            )
        elif s["kind"] == "event":
            parts.append(f"event {s['event']}: {s['count']} found, needs {s['count_op']} {s['count_value']}")
        else:
            parts.append(f"last contacted {s['op']} {s['value']!r} is false")
    return "; ".join(parts)


def test_user_entry(action: Compiled, person_id: int, channel: str) -> tuple[bool, bool]:
    """(is a test user on this channel, skips targeting)."""
    entries = [skip for ch, skip in action.test_users.get(person_id, ()) if ch in ("", channel)]
    return bool(entries), any(entries)


def evaluate(
    action: Compiled,
    view: PersonView,
    ask: Ask,
    *,
    check_type_and_tags: bool = True,
    check_context: bool = True,
    capping_kinds: tuple[str, ...] | None = None,
    with_capping: bool = True,
) -> list[Step]:
    """The ordered steps up to the first failure (later steps are listed as not evaluated)."""
    steps: list[Step] = []

    def finish(skip_reason: str) -> list[Step]:
        done = {s.name for s in steps}
        steps.extend(Step(name, None, skip_reason) for name in STEPS if name not in done)
        return steps

    def fail(name: str, reason: str) -> list[Step]:
        steps.append(Step(name, False, reason))
        return finish("not evaluated (an earlier step failed)")

    if action.state not in (Action.State.ACTIVE, Action.State.STAGING):
        return fail("state", f"the action is {action.state}")
    steps.append(Step("state", True, f"the action is {action.state}"))
    if ask.channel not in action.channels:
        targeted = ", ".join(action.channels) or "none"
        return fail("channel", f"channel {ask.channel!r} is not targeted (targeted: {targeted})")
    steps.append(Step("channel", True, f"channel {ask.channel!r} is targeted"))
    if check_type_and_tags:
        if ask.type and ask.type != action.type:
            return fail("type", f"the action's type is {action.type!r}, not {ask.type!r}")
        steps.append(Step("type", True, f"type {action.type!r}" if ask.type else "no type asked"))
        missing = [tag for tag in ask.tags if tag not in action.tags]
        if missing:
            return fail("tags", f"the action lacks the tag(s) {', '.join(missing)}")
        steps.append(Step("tags", True, "has every asked tag" if ask.tags else "no tags asked"))
    else:
        steps.append(Step("type", None, "not checked on an act"))
        steps.append(Step("tags", None, "not checked on an act"))
    is_test_user, skip = test_user_entry(action, view.person.pk, ask.channel)
    if action.state == Action.State.STAGING and not is_test_user:
        return fail(
            "test_user", f"the action is in staging and the person is not a test user on {ask.channel!r}"
        )
    if skip:
        steps.append(Step("test_user", True, "a test user with 'skip targeting': shown at once"))
        return finish("skipped for a test user with 'skip targeting'")
    steps.append(
        Step("test_user", True, "a test user" if is_test_user else "not a test user (targeting applies)")
    )
    reason = time_range_reason(action, ask)
    if reason:
        return fail("time_range", reason)
    steps.append(
        Step("time_range", True, "inside the time range" if action.has_time_range else "no time range")
    )
    reason = _trait_reason(action, view, ask)
    if reason:
        return fail("traits", reason)
    steps.append(
        Step("traits", True, "the trait conditions match" if action.trait_tree else "no trait conditions")
    )
    if check_context:
        reason = context_reason(action, ask)
        if reason:
            return fail("context", reason)
        relevant = [c for c in action.context_conditions if c.channel in ("", ask.channel)]
        steps.append(
            Step("context", True, "the context conditions match" if relevant else "no context conditions")
        )
    else:
        steps.append(Step("context", None, "not checked on an act"))
    if action.audience_ids:
        if not audiences_available():
            return fail("audiences", "audiences are not available in this installation")
        if view.audience_ids().isdisjoint(action.audience_set):
            return fail("audiences", "the person is in none of the action's audiences")
        steps.append(Step("audiences", True, "a member of a listed audience"))
    else:
        steps.append(Step("audiences", True, "no audience restriction"))
    if with_capping:
        reason = capping_reasons([action], view, ask, kinds=capping_kinds).get(action.id)
        if reason:
            return fail("capping", reason)
        steps.append(
            Step("capping", True, "under every capping rule" if action.rules else "no capping rules")
        )
    return steps


def passed(steps: list[Step]) -> bool:
    return all(step.passed is not False for step in steps)


HIDDEN, SHOWN, TO_CAP = "hidden", "shown", "capping"
NO = (False, False)


def screen(action: Compiled, view: PersonView, ask: Ask) -> str:
    """``evaluate(action, view, ask, with_capping=False)`` without the reasons, for the client API:
    ``HIDDEN`` (a step fails), ``SHOWN`` (a test user skipping targeting: no capping either) or
    ``TO_CAP`` (steps 1–9 pass; the capping rules decide). Same checks in the same order (the tests
    compare both on every step)."""
    if action.state not in LIVE_STATES or ask.channel not in action.channels:
        return HIDDEN
    if (ask.type and ask.type != action.type) or any(tag not in action.tags for tag in ask.tags):
        return HIDDEN
    is_test_user, skip = test_user_entry(action, view.person.pk, ask.channel) if action.test_users else NO
    if action.state == Action.State.STAGING and not is_test_user:
        return HIDDEN
    if skip:
        return SHOWN
    if time_range_reason(action, ask) or (
        action.trait_tree and not view.matches(action.trait_tree, ask, action.trait_key)
    ):
        return HIDDEN
    if not context_passes(action, ask):
        return HIDDEN
    if action.audience_ids and (
        not audiences_available() or view.audience_ids().isdisjoint(action.audience_set)
    ):
        return HIDDEN
    return TO_CAP


# ------------------------------------------------------------------ capping


def capping_reasons(
    actions: list[Compiled], view: PersonView, ask: Ask, *, kinds: tuple[str, ...] | None = None
) -> dict[int, str]:
    """``{action_id: reason}`` for actions a capping rule hides: one grouped count of the person's
    reactions (with the profiles merged into theirs) for the per-person rules, one of everyone's for
    the rules over everyone."""
    user_rules, all_rules = [], []
    for action in actions:
        for rule in action.rules:
            if kinds is not None and rule.reaction not in kinds:
                continue
            (user_rules if rule.group == CappingRule.Group.USER else all_rules).append((action.id, rule))
    counts = _counts(user_rules, view.person.pk, ask.now) if user_rules else {}
    if all_rules:
        counts.update(_counts(all_rules, None, ask.now))
    reasons: dict[int, str] = {}
    for action_id, rule in [*user_rules, *all_rules]:
        if action_id in reasons:
            continue
        seen = counts.get(rule.id, 0)
        if seen >= rule.count:
            who = "this person" if rule.group == CappingRule.Group.USER else "everyone"
            window = f"in the last {rule.within_days} days" if rule.within_days else "ever"
            channels = f" on {', '.join(rule.channels)}" if rule.channels else ""
            reasons[action_id] = f"{seen} {rule.reaction} by {who}{channels} {window} (limit {rule.count})"
    return reasons


def _counts(rules: list[tuple[int, Rule]], person_id: int | None, now: datetime) -> dict[int, int]:
    """Each rule's count from one statement: the reactions of ``person_id`` (and of the profiles
    merged into theirs; everyone's when None) grouped by action, kind and channel, counted ever and
    within each rule's window (one column per distinct window)."""
    windows = sorted({rule.within_days for _, rule in rules if rule.within_days})
    action_ids = sorted({action_id for action_id, _ in rules})
    kinds = sorted({rule.reaction for _, rule in rules})
    if connection.vendor == "postgresql":
        rows = _count_rows_sql(action_ids, kinds, person_id, now, windows)
    else:
        rows = _count_rows_orm(action_ids, kinds, person_id, now, windows)
    counts = {}
    for action_id, rule in rules:
        column = f"d{rule.within_days}" if rule.within_days else "ever"
        counts[rule.id] = sum(
            row[column]
            for row in rows
            if row["action_id"] == action_id
            and row["kind"] == rule.reaction
            and (not rule.channels or row["channel"] in rule.channels)
        )
    return counts


def _count_rows_sql(
    action_ids: list[int], kinds: list[str], person_id: int | None, now: datetime, windows: list[int]
) -> list[dict]:
    """The grouped count in raw SQL (the client API runs it on every request: no ORM compilation)."""
    from actions import rawmodels
    from actions.models import Reaction

    columns = "".join(f", count(*) FILTER (WHERE created_at >= %s::timestamptz) AS d{d}" for d in windows)
    params: list[Any] = [now - timedelta(days=d) for d in windows] + [action_ids, kinds]
    scope = ""
    if person_id is not None:
        scope = f" AND person_id = ANY({held_by_sql()})"
        params += [person_id, person_id]
    rows = rawmodels.rows(
        f"SELECT action_id, kind, channel, count(*) AS ever{columns} "
        f"FROM {connection.ops.quote_name(Reaction._meta.db_table)} "
        f"WHERE action_id = ANY(%s::bigint[]) AND kind = ANY(%s::text[]){scope} "
        "GROUP BY action_id, kind, channel",
        params,
    )
    names = ["action_id", "kind", "channel", "ever", *(f"d{d}" for d in windows)]
    return [dict(zip(names, row, strict=True)) for row in rows]


@functools.cache
def held_by_sql() -> str:
    """The ids of a person (``%s``, given twice) and of the profiles merged into theirs, as an array:
    ``person_id = ANY(…)`` is an index condition (``reaction_person_action``), where ``person_id = p OR
    person_id IN (merged)`` could only filter the reactions of every person."""
    people = connection.ops.quote_name(Person._meta.db_table)
    return f"ARRAY[%s::bigint] || ARRAY(SELECT id FROM {people} WHERE merged_into_id = %s::bigint)"


def _count_rows_orm(
    action_ids: list[int], kinds: list[str], person_id: int | None, now: datetime, windows: list[int]
) -> list[dict]:
    from actions.models import Reaction

    scope = Q()
    if person_id is not None:
        people = Person.objects.filter(Q(pk=person_id) | Q(merged_into_id=person_id))
        scope = Q(person_id__in=people.values("pk"))
    return list(
        Reaction.objects.filter(scope, action_id__in=action_ids, kind__in=kinds)
        .values("action_id", "kind", "channel")
        .annotate(
            ever=Count("pk"),
            **{f"d{d}": Count("pk", filter=Q(created_at__gte=now - timedelta(days=d))) for d in windows},
        )
    )


def has_global_rules(action: Compiled, kinds: tuple[str, ...] | None = None) -> bool:
    return any(
        r.group == CappingRule.Group.ALL and (kinds is None or r.reaction in kinds) for r in action.rules
    )


# ------------------------------------------------------------------ properties


def coerce(value: Any, value_type: str) -> Any:
    """``value`` as ``value_type``; ``ValueError`` when it cannot be (the fallback is used then)."""
    if value_type == ActionProperty.ValueType.RAW:
        return templating.show(value) if isinstance(value, date | datetime) else value
    if isinstance(value, list | dict):
        raise ValueError("not a scalar")
    if value_type == ActionProperty.ValueType.STRING:
        return templating.show(value)
    if value_type == ActionProperty.ValueType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ValueError("not a boolean")
    if isinstance(value, bool):
        value = int(value)
    number = float(str(value).strip()) if not isinstance(value, int | float) else value
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError("not finite")
    if value_type == ActionProperty.ValueType.INTEGER:
        if float(number) != int(number):
            raise ValueError("not whole")
        return int(number)
    return float(number)


def property_keys(props: list[CompiledProperty]) -> set[str]:
    keys: set[str] = set()
    for prop in props:
        if prop.kind == ActionProperty.Kind.TRAIT:
            keys.add(prop.attribute)
        elif prop.kind == ActionProperty.Kind.TEMPLATE:
            keys |= templating.references(prop.nodes)
    return keys


def render_properties(props: list[CompiledProperty], values: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    lookup = values.get
    for prop in props:
        if prop.kind == ActionProperty.Kind.TEXT:
            out[prop.name] = prop.value
        elif prop.kind == ActionProperty.Kind.TEMPLATE:
            out[prop.name] = templating.render(prop.nodes, lookup)
        else:
            raw = values.get(prop.attribute)
            try:
                if raw is None or raw == "" or raw == []:
                    raise ValueError("empty")
                out[prop.name] = coerce(raw, prop.value_type)
            except (ValueError, TypeError, OverflowError):
                try:
                    out[prop.name] = coerce(prop.fallback, prop.value_type) if prop.fallback != "" else None
                except (ValueError, TypeError, OverflowError):
                    out[prop.name] = prop.fallback
    return out
