"""Shared admin building blocks."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.admin import AdminSite
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from people.models import Definition


def admin_pages(site: AdminSite, *pages: tuple[str, Callable, str]) -> list[URLPattern]:
    """URL patterns of admin pages, ``(route, view, name)`` each, behind ``site``'s login and staff
    check (``admin_view``): a ModelAdmin's own pages go before its ``get_urls()``."""
    return [path(route, site.admin_view(view), name=name) for route, view, name in pages]


class OwnPagesMixin:
    """A ModelAdmin with pages of its own: ``own_pages()`` lists them as ``(route, view, name)``; they
    come before the admin's URLs, behind the admin site's login (``admin_pages``)."""

    def own_pages(self) -> list[tuple[str, Callable, str]]:
        return []

    def get_urls(self):
        return [*admin_pages(self.admin_site, *self.own_pages()), *super().get_urls()]


class ReadOnlyAdmin(ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def progress_bar(work, *, min_width: str = "10rem", counts: bool = True) -> str:
    """A bar filled to ``work.progress_percent`` for anything with ``progress_done``, ``progress_total``
    and ``progress_percent`` (jobs, privacy requests): the percentage under it, followed by
    ``done / total`` when ``counts``; ``done of total`` on hover."""
    caption = (
        format_html("{}% &middot; {} / {}", work.progress_percent, work.progress_done, work.progress_total)
        if counts
        else format_html("{}%", work.progress_percent)
    )
    return format_html(
        '<div style="min-width:{}" title="{} of {}">'
        '<div style="background:#e5e7eb;border-radius:4px;height:8px">'
        '<div style="background:#7c3aed;border-radius:4px;height:8px;width:{}%"></div></div>'
        "<small>{}</small></div>",
        min_width,
        work.progress_done,
        work.progress_total,
        work.progress_percent,
        caption,
    )


def job_progress(definition: Definition, *, running: bool) -> str:
    """The progress column of a definition (computed attribute, audience): while its job is
    ``running``, the job's percentage linked to the job's page; otherwise 100% once active, else —."""
    if running:
        url = reverse("admin:people_job_change", args=[definition.job_id])
        return format_html(
            '<a href="{}">{}% (job #{})</a>', url, definition.job.progress_percent, definition.job_id
        )
    return "100%" if definition.state == Definition.State.ACTIVE else "—"
