"""People: the list (search, bulk update) and the Person 360 page."""

from __future__ import annotations

import contextlib
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from import_export.admin import ExportMixin
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
    RangeDateTimeFilter,
)
from unfold.contrib.import_export.forms import ExportForm
from unfold.decorators import display
from unfold.paginator import InfinitePaginator
from unfold.widgets import UnfoldAdminSelectWidget, UnfoldAdminTextInputWidget

from people import extensions, selectors, services
from people.admin.person_filters import CountryFilter, CustomAttributeFilter, LastContactedFilter
from people.admin.person_form import PersonForm
from people.attributes import (
    STANDARD_ATTRIBUTES,
    SYSTEM_ATTRIBUTES,
    AttributeValueError,
    UnknownAttributeError,
)
from people.dashboard import about, estimated_count
from people.models import (
    AttributeDefinition,
    Person,
)
from people.resources import PersonResource


@admin.register(Person)
class PersonAdmin(ExportMixin, ModelAdmin):
    form = PersonForm
    resource_classes = [PersonResource]
    export_form_class = ExportForm
    list_display = ["display_name", "email", "phone", "kind", "country", "last_activity_at", "event_count"]
    list_filter = [
        ("kind", ChoicesDropdownFilter),
        CountryFilter,
        LastContactedFilter,
        CustomAttributeFilter,
        ("last_activity_at", RangeDateTimeFilter),
    ]
    list_filter_submit = True
    search_fields = ["first_name"]  # enables the search box; get_search_results does the work
    search_help_text = "Name, part of an email, phone (any format), unified id or any identifier"
    show_full_result_count = False
    paginator = InfinitePaginator
    list_before_template = "admin/people/person/list_note.html"
    ordering = ["-pk"]
    actions = ["bulk_update"]
    change_form_before_template = "admin/people/person/profile_360.html"
    readonly_fields = ["uid", *SYSTEM_ATTRIBUTES]

    @staticmethod
    def _form_class(request) -> type[PersonForm]:
        """The form with the custom attribute fields, built once per request."""
        if not hasattr(request, "_attune_person_form"):
            request._attune_person_form = PersonForm.with_custom_fields()
        return request._attune_person_form

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = self._form_class(request)
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        form = self._form_class(request)
        fieldsets = [
            (None, {"fields": ["kind"]}),
            ("Standard attributes", {"fields": list(STANDARD_ATTRIBUTES.keys())}),
        ]
        if form.definitions:
            fieldsets.append(
                (
                    "Custom attributes",
                    {
                        "fields": form.custom_field_names(),
                        "description": "Defined under Data model → Attribute definitions. "
                        "Leave a field empty to clear the value.",
                    },
                )
            )
        return fieldsets

    def get_queryset(self, request):
        return super().get_queryset(request).live()

    @display(description="Name", ordering="last_name")
    def display_name(self, obj: Person) -> str:
        return str(obj)

    def get_search_results(self, request, queryset, search_term):
        """Route the term by its shape so each kind of search can use an index (see
        ``people.selectors.person_search_q``)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(selectors.person_search_q(term=term)), False

    def changelist_view(self, request, extra_context=None):
        """Unfiltered, the list says how many people there are: exact on small tables, an estimate
        from PostgreSQL's statistics on large ones ("about 1.2M"); filtered lists page without a count."""
        narrowed = any(value for key, value in request.GET.items() if key not in {"p", "o"})
        total = None
        if not narrowed:
            count = estimated_count(Person, Person.objects.live())
            total = about(count, estimated=count > 100_000)
        context = {
            **(extra_context or {}),
            "people_total": total,
            # The import page (mapped columns, identity resolution, preview, job) and the full export
            # (chosen columns, computed values, this list's filters).
            "import_url": reverse("people_import_upload"),
            "export_url": reverse("people_export") + "?" + urlencode({"filters": request.GET.urlencode()}),
        }
        return super().changelist_view(request, context)

    def get_actions(self, request):
        actions = super().get_actions(request)
        for name, func in extensions.person_actions.items():
            actions[name] = (func, name, getattr(func, "short_description", name))
        return actions

    def save_model(self, request, obj: Person, form, change):
        """Attribute values go through the services (validation, source rules, audit rows): a new
        profile through ``person_create``, an edit through ``person_write_attributes``."""
        writes = form.attribute_writes()
        try:
            if change:
                if "kind" in form.changed_data:
                    Person.objects.filter(pk=obj.pk).update(kind=obj.kind)
                stored = Person.objects.get(pk=obj.pk)
                services.person_write_attributes(person=stored, writes=writes, actor=request.user)
            else:
                obj.pk = services.person_create(kind=obj.kind, writes=writes, actor=request.user).pk
        except (AttributeValueError, UnknownAttributeError) as exc:
            messages.error(request, f"Attributes not saved: {exc.messages[0]}")
            if not change:
                obj.pk = services.person_create(kind=obj.kind, actor=request.user).pk
        obj.refresh_from_db()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        person = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if person is not None:
            context = selectors.profile_360_context(
                person=person, request=request, **_timeline_params(request)
            )
            for panel in context["panels"]:
                # Each panel's template reads its own data at the top level.
                panel["html"] = render_to_string(panel["template"], panel["context"], request)
            extra_context.update(context)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Update attributes of selected people (as a job)", permissions=["change"])
    def bulk_update(self, request, queryset):
        form = BulkUpdateForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            ids = list(queryset.values_list("pk", flat=True))
            job = services.job_start(
                kind="people.bulk_update",
                params={
                    "person_ids": ids,
                    "key": form.cleaned_data["attribute"],
                    "value": form.cleaned_data["value"],
                    "op": form.cleaned_data["operation"],
                },
                created_by=request.user,
                total=len(ids),
            )
            url = reverse("admin:people_job_change", args=[job.pk])
            messages.success(
                request,
                format_html(
                    'Bulk update of {} people started: <a href="{}">follow job #{}</a>.',
                    len(ids),
                    url,
                    job.pk,
                ),
            )
            return HttpResponseRedirect(url)
        return render(
            request,
            "admin/people/person/bulk_update.html",
            {
                **self.admin_site.each_context(request),
                "title": "Bulk update attributes",
                "form": form,
                "queryset": queryset[:20],
                "attribute_types": form.attribute_types,
                "count": queryset.count(),
                "selected_ids": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
                "opts": self.model._meta,
            },
        )


def _timeline_params(request) -> dict:
    """The 360 page's timeline filters, paging cursor and "as of" time from the query string; a value
    that does not parse is ignored (the page still renders)."""
    kind = request.GET.get("tl_kind", "")
    known = {kind for kind, _ in selectors.timeline_kinds()}
    params = {
        "kinds": (kind,) if kind in known else None,
        "event_name": request.GET.get("tl_event", "")[:200],
        "before": request.GET.get("tl_before", "")[:100] or None,
    }
    raw = request.GET.get("as_of", "").strip()
    with contextlib.suppress(ValueError, TypeError):
        parsed = parse_datetime(raw) if raw else None
        if parsed is not None:
            params["as_of"] = (
                timezone.make_aware(parsed, selectors.organization_tz())
                if timezone.is_naive(parsed)
                else parsed
            )
    return params


class BulkUpdateForm(forms.Form):
    attribute = forms.ChoiceField(choices=(), widget=UnfoldAdminSelectWidget)
    operation = forms.ChoiceField(
        choices=[("set", "Set to a value"), ("unset", "Reset to empty")],
        initial="set",
        widget=UnfoldAdminSelectWidget,
    )
    value = forms.CharField(
        required=False,
        widget=UnfoldAdminTextInputWidget,
        help_text="Written as the attribute's type: 2026-11-30 for a date, yes or no for true/false, "
        "12.5 for a number. Leave empty when resetting.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        definitions = list(AttributeDefinition.objects.all())
        choices = [(key, f"{spec.label} (standard)") for key, spec in STANDARD_ATTRIBUTES.items()]
        choices += [(d.key, f"{d.label} ({d.get_type_display()})") for d in definitions]
        self.fields["attribute"].choices = choices
        # The value input follows the chosen attribute's type (a date picker for dates ...).
        types = {key: spec.type for key, spec in STANDARD_ATTRIBUTES.items()}
        types.update({d.key: d.type for d in definitions})
        self.attribute_types = types

    def clean(self):
        data = super().clean()
        if data.get("operation") == "set" and data.get("attribute"):
            try:
                services.validate_attribute_writes(
                    [services.AttributeWrite(data["attribute"], data.get("value"))]
                )
            except ValidationError as exc:
                self.add_error("value", exc.messages[0])
        return data
