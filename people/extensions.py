"""Extension points through which higher apps add to people's admin without people importing them.

A higher app registers in its ``AppConfig.ready()``, or in a module that ``ready()`` imports where a
decorator names what the function it decorates serves:

- ``register_person_panel``: a section of the Person 360 page (identifiers, computed values ...):
  a template and a function ``context(person, request) -> dict`` (the decorator ``person_panel``).
- ``register_person_action``: an admin action on the person list (manual merge ...).
- ``register_dashboard_stat``: a number on the admin dashboard (identities, active computed ...);
  ``register_active_count`` is the common case, how many definitions of a model are active.
- ``register_dashboard_section``: a whole section of the admin dashboard (identity-graph health ...):
  a template and a function ``context() -> dict`` (picklable: it is cached with the dashboard figures).
- ``register_person_search``: a function ``(term) -> iterable of person ids`` for the person
  list search (look a person up by any identifier).
- ``register_key_owner``: ``(key) -> bool``, whether a higher app already uses an attribute key
  (computed attributes), so custom attribute keys stay unique across apps.
- ``register_source_link``: a link shown on each source in the admin, ``(source) -> (label, url)``
  (the event debugger, today's activity ...).
- ``register_timeline_source``: a kind of entry on the Person 360 timeline (audience entries and
  exits, action reactions): ``fetch(person_ids, before, limit) -> [TimelineEntry]`` (the decorator
  ``timeline_source``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q


@dataclass(frozen=True)
class PersonPanel:
    key: str
    title: str
    template: str
    context: Callable  # (person, request) -> dict
    order: int = 100


@dataclass(frozen=True)
class DashboardStat:
    key: str
    label: str
    value: Callable[[], int | str]
    link: str = ""
    order: int = 100


person_panels: dict[str, PersonPanel] = {}
person_actions: dict[str, Callable] = {}
dashboard_stats: dict[str, DashboardStat] = {}
person_searches: dict[str, Callable[[str], Iterable[int]]] = {}
source_links: dict[str, Callable] = {}
key_owners: dict[str, Callable[[str], bool]] = {}


def register_person_panel(
    key: str, *, title: str, template: str, context: Callable, order: int = 100
) -> None:
    person_panels[key] = PersonPanel(key, title, template, context, order)


def person_panel(key: str, *, title: str, template: str, order: int = 100) -> Callable[[Callable], Callable]:
    """``register_person_panel`` as the decorator of the panel's context function."""

    def register(context: Callable) -> Callable:
        register_person_panel(key, title=title, template=template, context=context, order=order)
        return context

    return register


def register_person_action(action: Callable) -> None:
    """``action`` is a Django admin action (decorate it with ``admin.action``)."""
    person_actions[action.__name__] = action


def register_dashboard_stat(
    key: str, *, label: str, value: Callable[[], int | str], link: str = "", order: int = 100
) -> None:
    dashboard_stats[key] = DashboardStat(key, label, value, link, order)


def register_active_count(key: str, *, label: str, model: type, order: int = 100) -> None:
    """A dashboard number: the rows of ``model`` in state "active" (computed attributes, audiences,
    actions), linked to the model's admin list filtered on them."""
    opts = model._meta
    register_dashboard_stat(
        key,
        label=label,
        value=lambda: model.objects.filter(state="active").count(),
        link=f"/admin/{opts.app_label}/{opts.model_name}/?state__exact=active",
        order=order,
    )


def register_person_search(key: str, search: Callable[[str], Iterable[int]]) -> None:
    person_searches[key] = search


def register_source_link(key: str, link: Callable) -> None:
    """``link(source) -> (label, url)``."""
    source_links[key] = link


def register_key_owner(label: str, owns: Callable[[str], bool]) -> None:
    """``owns(key)`` is true when ``label`` (e.g. "computed attribute") already uses ``key``."""
    key_owners[label] = owns


@dataclass(frozen=True)
class DashboardSection:
    key: str
    title: str
    template: str
    context: Callable[[], dict]
    order: int = 100


dashboard_sections: dict[str, DashboardSection] = {}


def register_dashboard_section(
    key: str, *, title: str, template: str, context: Callable[[], dict], order: int = 100
) -> None:
    """A section of the admin dashboard: ``template`` is rendered with ``section`` (its title) and
    ``data`` (what ``context()`` returns; computed at most once a minute with the other figures)."""
    dashboard_sections[key] = DashboardSection(key, title, template, context, order)


# ---------------------------------------------------------------- the Person 360 timeline


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the Person 360 timeline.

    ``id`` orders entries of one kind that share a time (newest first by ``(at, id)``) and makes the
    paging cursor exact; ``code`` is an optional monospaced line (an event's properties as JSON)."""

    at: datetime
    id: int
    title: str
    detail: str = ""
    link: str = ""
    code: str = ""


# ``(at, id)``: entries strictly older in the order ``(at, id)`` descending; ``id`` None: ``at`` older.
TimelineBefore = tuple[datetime, int | None]
# fetch(person_ids, before, limit) -> at most ``limit`` entries, newest first.
TimelineFetch = Callable[[list[int], "TimelineBefore | None", int], list[TimelineEntry]]


@dataclass(frozen=True)
class TimelineSource:
    kind: str
    label: str
    fetch: TimelineFetch
    badge: str = ""
    order: int = 100


timeline_sources: dict[str, TimelineSource] = {}


def register_timeline_source(
    kind: str, *, label: str, fetch: TimelineFetch, badge: str = "", order: int = 100
) -> None:
    """A kind of entry on the Person 360 timeline (audience entries and exits, action reactions ...).

    ``kind`` is the filter's value (``?tl_kind=``), ``label`` what the filter offers ("Audience entries
    and exits"), ``badge`` the word before each entry ("audience"). ``fetch(person_ids, before, limit)``
    returns at most ``limit`` entries of the given people (the person and the profiles merged into it),
    newest first by ``(at, id)`` and strictly before ``before`` when given (``timeline_page`` reads
    such a page of a queryset): one indexed query, the page merges every kind by time."""
    timeline_sources[kind] = TimelineSource(kind, label, fetch, badge or kind, order)


def timeline_source(
    kind: str, *, label: str, badge: str = "", order: int = 100
) -> Callable[[TimelineFetch], TimelineFetch]:
    """``register_timeline_source`` as the decorator of the source's ``fetch``."""

    def register(fetch: TimelineFetch) -> TimelineFetch:
        register_timeline_source(kind, label=label, fetch=fetch, badge=badge, order=order)
        return fetch

    return register


def timeline_before_q(before: TimelineBefore | None, *, time_field: str, id_field: str = "pk") -> Q:
    """The keyset filter of a timeline page: rows older than ``before`` in ``(time, id)`` order."""
    if before is None:
        return Q()
    at, last_id = before
    older = Q(**{f"{time_field}__lt": at})
    if last_id is None:
        return older
    return older | Q(**{time_field: at, f"{id_field}__lt": last_id})


def timeline_page(
    queryset, before: TimelineBefore | None, limit: int, *, time_field: str, id_field: str = "pk"
):
    """The rows of ``queryset`` on one timeline page: older than ``before``, newest first by
    ``(time, id)``, at most ``limit`` (an index on the person and the time serves it)."""
    older = queryset.filter(timeline_before_q(before, time_field=time_field, id_field=id_field))
    return older.order_by(f"-{time_field}", f"-{id_field}")[:limit]
