"""The admin of the people app: the main UI of marketing-ops staff.

ModelAdmins are configuration plus thin hooks that call services; long work becomes a Job.
"""

from __future__ import annotations

import contextlib
import re
import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.db.models import Q
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.html import format_html, format_html_join
from django_q import models as q_models
from django_q.admin import FailAdmin, QueueAdmin, ScheduleAdmin, TaskAdmin
from import_export.admin import ImportExportMixin
from rest_framework.authtoken.admin import TokenAdmin as BaseTokenAdmin
from rest_framework.authtoken.models import TokenProxy
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.filters.admin import (
    ChoicesDropdownFilter,
    RangeDateTimeFilter,
    RelatedDropdownFilter,
    TextFilter,
)
from unfold.contrib.import_export.forms import ExportForm, ImportForm
from unfold.decorators import action, display
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.paginator import InfinitePaginator

from people import extensions, selectors, services
from people.attributes import STANDARD_ATTRIBUTES, AttributeValueError, UnknownAttributeError, normalize_phone
from people.lastcontacted import ContactOperator, day_count
from people.models import (
    AttributeDefinition,
    Channel,
    ContextDefinition,
    ContextPropertyDefinition,
    Event,
    EventDefinition,
    EventPropertyDefinition,
    Job,
    OrganizationSettings,
    Person,
    RejectedMessage,
    Source,
)
from people.resources import PersonResource
from people.validation import validate_attribute_definition

PHONE_LIKE = re.compile(r"\+?[\d\s().-]{6,20}")

# --- Auth, tokens and the task queue, restyled under Unfold -------------------------------------

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(BaseGroupAdmin, ModelAdmin):
    pass


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class TokenAdmin(BaseTokenAdmin, ModelAdmin):
    pass


for q_model, q_admin in [
    (q_models.Schedule, ScheduleAdmin),
    (q_models.Success, TaskAdmin),
    (q_models.Failure, FailAdmin),
    (q_models.OrmQ, QueueAdmin),
]:
    admin.site.unregister(q_model)
    admin.site.register(q_model, type(q_admin.__name__, (q_admin, ModelAdmin), {}))


# --- Organization, channels, sources ------------------------------------------------------------


@admin.register(OrganizationSettings)
class OrganizationSettingsAdmin(ModelAdmin):
    list_display = ["name", "timezone", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not OrganizationSettings.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        cache.delete(selectors.ORGANIZATION_CACHE_KEY)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        org = selectors.organization()
        return HttpResponseRedirect(reverse("admin:people_organizationsettings_change", args=[org.pk]))


@admin.register(Channel)
class ChannelAdmin(ModelAdmin):
    list_display = ["name", "key", "schema_enforcement", "created_at"]
    search_fields = ["name", "key"]

    def get_readonly_fields(self, request, obj=None):
        return ["key", "created_at"] if obj else ["created_at"]


class SourceForm(forms.ModelForm):
    class Meta:
        model = Source
        fields = ["name", "channel", "protection", "priority", "enabled"]


@admin.register(Source)
class SourceAdmin(ModelAdmin):
    form = SourceForm
    list_display = [
        "name",
        "channel",
        "protection",
        "priority",
        "enabled",
        "masked_write_key",
        "key",
        "links",
    ]
    list_filter = ["channel", "protection", "enabled"]
    search_fields = ["name", "key"]
    readonly_fields = ["key", "masked_write_key", "created_at", "key_rotated_at", "links"]
    actions_detail = ["rotate_write_key"]

    @display(description="See also")
    def links(self, obj: Source) -> str:
        if obj.pk is None:
            return ""
        pairs = [link(obj) for link in extensions.source_links.values()]
        return format_html_join(
            " · ", '<a class="text-primary-600" href="{}">{}</a>', ((u, t) for t, u in pairs)
        )

    @display(description="Write key")
    def masked_write_key(self, obj: Source) -> str:
        return f"••••{obj.write_key_hint}" if obj.write_key_hint else ""

    def save_model(self, request, obj: Source, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        write_key = services.source_issue_write_key(source=obj)
        super().save_model(request, obj, form, change)
        self._show_key_once(request, obj, write_key)

    @action(description="Rotate write key", url_path="rotate-write-key", permissions=["change"])
    def rotate_write_key(self, request: HttpRequest, object_id: str):
        source = Source.objects.get(pk=object_id)
        if request.method != "POST":
            return TemplateResponse(
                request,
                "admin/people/source/rotate_confirm.html",
                {**self.admin_site.each_context(request), "source": source, "title": "Rotate write key"},
            )
        credentials = services.source_rotate_write_key(source=source)
        self._show_key_once(request, source, credentials.write_key)
        return HttpResponseRedirect(reverse("admin:people_source_change", args=[source.pk]))

    @staticmethod
    def _show_key_once(request, source: Source, write_key: str) -> None:
        messages.warning(
            request,
            format_html(
                "Write key for <b>{}</b> (shown once, copy it now): <code>{}</code> &nbsp; "
                "mParticle-style key:secret: <code>{}:{}</code>",
                source.name,
                write_key,
                source.key,
                write_key,
            ),
        )


# --- Definitions ---------------------------------------------------------------------------------


class AttributeDefinitionForm(forms.ModelForm):
    class Meta:
        model = AttributeDefinition
        fields = ["key", "label", "type", "description", "item_schema"]

    def _post_clean(self):
        super()._post_clean()
        try:
            validate_attribute_definition(self.instance)
        except ValidationError as error:
            self._update_errors(error)


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(ModelAdmin):
    form = AttributeDefinitionForm
    list_display = ["key", "label", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["key", "label"]

    def get_readonly_fields(self, request, obj=None):
        return ["key", "type", "created_at"] if obj else []

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class EventPropertyInline(TabularInline):
    model = EventPropertyDefinition
    extra = 0
    fields = ["key", "type", "regex", "required", "description"]


@admin.register(EventDefinition)
class EventDefinitionAdmin(ModelAdmin):
    list_display = ["name", "is_contact", "property_count", "created_at"]
    list_filter = ["is_contact"]
    search_fields = ["name"]
    inlines = [EventPropertyInline]

    @display(description="Properties")
    def property_count(self, obj: EventDefinition) -> int:
        return obj.properties.count()


class ContextPropertyInline(TabularInline):
    model = ContextPropertyDefinition
    extra = 0
    fields = ["key", "type", "regex", "required", "description"]


@admin.register(ContextDefinition)
class ContextDefinitionAdmin(ModelAdmin):
    list_display = ["channel", "description"]
    inlines = [ContextPropertyInline]
    autocomplete_fields = ["channel"]


# --- Events and the quarantine -------------------------------------------------------------------


class ReadOnlyAdmin(ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class EventNameFilter(admin.SimpleListFilter):
    title = "event name"
    parameter_name = "name"
    template = "unfold/filters/filters_field.html"

    def lookups(self, request, model_admin):
        return [(name, name) for name in EventDefinition.objects.values_list("name", flat=True)]

    def choices(self, changelist):
        from unfold.contrib.filters.forms import DropdownForm

        yield {
            "form": DropdownForm(
                label="By event name",
                name=self.parameter_name,
                choices=[["", "All"], *self.lookup_choices],
                data={self.parameter_name: self.value()},
                multiple=False,
            )
        }

    def queryset(self, request, queryset):
        return queryset.filter(name=self.value()) if self.value() else queryset


class PersonUidFilter(admin.SimpleListFilter):
    """Filter by one person (by unified id), as linked from the 360 page."""

    title = "person"
    parameter_name = "person"

    def lookups(self, request, model_admin):
        value = request.GET.get(self.parameter_name)
        return [(value, value)] if value else []

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        if not value:
            return queryset
        if value.isascii() and value.isdigit():
            return queryset.filter(person_id=int(value))
        try:
            return queryset.filter(person__uid=uuid.UUID(value))
        except ValueError:
            messages.error(request, f"Person filter: {value!r} is neither a unified id nor a number.")
            return queryset.none()


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["name", "type", "person_link", "channel", "source", "timestamp", "received_at"]
    list_filter = [
        EventNameFilter,
        PersonUidFilter,
        ("channel", RelatedDropdownFilter),
        ("timestamp", RangeDateTimeFilter),
    ]
    list_filter_submit = True
    list_select_related = ["person", "channel", "source"]
    show_full_result_count = False
    paginator = InfinitePaginator
    search_fields = ["=message_id"]

    def get_ordering(self, request):
        # Newest first by event time where an index serves it (one person, one event name); else by
        # arrival (primary key): sorting every event by time on each page load would not scale.
        if request.GET.get("person") or request.GET.get("name"):
            return ["-timestamp", "-pk"]
        return ["-pk"]

    @display(description="Person")
    def person_link(self, obj: Event) -> str:
        url = reverse("admin:people_person_change", args=[obj.person_id])
        return format_html('<a href="{}">{}</a>', url, obj.person)


@admin.register(RejectedMessage)
class RejectedMessageAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "reason_code", "short_reason", "source", "message_type", "message_id"]
    list_filter = ["reason_code", ("source", RelatedDropdownFilter), ("received_at", RangeDateTimeFilter)]
    list_filter_submit = True
    list_select_related = ["source"]
    show_full_result_count = False
    paginator = InfinitePaginator
    search_fields = ["=message_id", "reason"]
    ordering = ["-received_at"]

    @display(description="Reason")
    def short_reason(self, obj: RejectedMessage) -> str:
        return obj.reason[:120]


# --- Jobs ----------------------------------------------------------------------------------------


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "kind_label",
        "status_badge",
        "progress_bar",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "kind"]
    readonly_fields = [
        "kind",
        "status",
        "progress_bar",
        "params_summary",
        "result",
        "error",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    fields = readonly_fields
    change_form_before_template = "admin/people/job/refresh.html"

    def get_queryset(self, request):
        # params can hold many person ids (bulk updates): the list does not need them.
        queryset = super().get_queryset(request).select_related("created_by")
        return (
            queryset.defer("params") if request.resolver_match.url_name.endswith("changelist") else queryset
        )

    @display(description="Kind")
    def kind_label(self, obj: Job) -> str:
        from people.jobs import job_label

        return job_label(obj.kind)

    @display(
        description="Status",
        label={"queued": "info", "running": "warning", "succeeded": "success", "failed": "danger"},
    )
    def status_badge(self, obj: Job) -> str:
        return obj.status

    @display(description="Progress")
    def progress_bar(self, obj: Job) -> str:
        return format_html(
            '<div style="min-width:10rem" title="{} of {}">'
            '<div style="background:#e5e7eb;border-radius:4px;height:8px">'
            '<div style="background:#7c3aed;border-radius:4px;height:8px;width:{}%"></div></div>'
            "<small>{}% &middot; {} / {}</small></div>",
            obj.progress_done,
            obj.progress_total,
            obj.progress_percent,
            obj.progress_percent,
            obj.progress_done,
            obj.progress_total,
        )

    @display(description="Parameters")
    def params_summary(self, obj: Job) -> str:
        params = dict(obj.params)
        ids = params.pop("person_ids", None)
        if ids is not None:
            params["people"] = f"{len(ids)} selected"
        return ", ".join(f"{k}={v!r}" for k, v in params.items())


# --- People --------------------------------------------------------------------------------------


class CountryFilter(TextFilter):
    """Country as typed (exact, index-backed): no DISTINCT scan of every profile on each page load."""

    title = "country"
    parameter_name = "country"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(Q(country=value) | Q(country=value.upper())) if value else queryset


class FormFilter(admin.ListFilter):
    """A list filter rendered as a small form of several query parameters (``parameters``)."""

    parameters: tuple[str, ...] = ()

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        self.values = {}
        for name in self.parameters:
            if name in params:
                value = params.pop(name)
                self.values[name] = value[-1] if isinstance(value, list) else value

    def has_output(self) -> bool:
        return True

    def expected_parameters(self):
        return list(self.parameters)


class LastContactedFilter(FormFilter):
    """The seven last-contacted operators, overall or on one channel."""

    title = "last contacted"
    template = "admin/people/person/last_contacted_filter.html"
    parameters = ("lc_op", "lc_value", "lc_channel")

    def choices(self, changelist):
        yield {
            "operators": [(op.value, op.value.replace("_", " ")) for op in ContactOperator],
            "channels": list(Channel.objects.values_list("pk", "name")),
            "values": self.values,
            "reset_url": changelist.get_query_string(remove=list(self.parameters)),
        }

    def queryset(self, request, queryset):
        op = self.values.get("lc_op")
        if not op:
            return queryset
        raw = self.values.get("lc_value", "")
        channel = self.values.get("lc_channel") or None
        try:
            operator = ContactOperator(op)
            value = _parse_contact_value(operator, raw)
            channel_id = int(channel) if channel else None
            return queryset.last_contacted(operator, value, channel_id=channel_id)
        except (ValueError, TypeError, OverflowError) as exc:
            messages.error(request, f"Last contacted filter: {exc}")
            return queryset.none()


def _parse_contact_value(operator: ContactOperator, raw: str):
    if operator is ContactOperator.UNKNOWN:
        return None
    if operator in {ContactOperator.MORE_THAN, ContactOperator.LESS_THAN, ContactOperator.EXACTLY}:
        return day_count(raw.strip())
    if operator is ContactOperator.ON:
        parsed = parse_date(raw.strip())
        if parsed is None:
            raise ValueError("enter a date as YYYY-MM-DD")
        return parsed
    parsed_dt = parse_datetime(raw.strip()) or (
        parse_datetime(raw.strip() + "T00:00:00") if parse_date(raw.strip()) else None
    )
    if parsed_dt is None:
        raise ValueError("enter a date and time as YYYY-MM-DD HH:MM")
    if timezone.is_naive(parsed_dt):
        parsed_dt = timezone.make_aware(parsed_dt, selectors.organization_tz())
    return parsed_dt


class CustomAttributeFilter(FormFilter):
    """Custom attribute equals a value (or is empty / not empty)."""

    title = "custom attribute"
    template = "admin/people/person/custom_attribute_filter.html"
    parameters = ("ca_key", "ca_value")

    def has_output(self) -> bool:
        return AttributeDefinition.objects.exists()

    def choices(self, changelist):
        yield {
            "attributes": list(AttributeDefinition.objects.values_list("key", "label")),
            "values": self.values,
        }

    def queryset(self, request, queryset):
        key = self.values.get("ca_key")
        if not key:
            return queryset
        definition = AttributeDefinition.objects.filter(key=key).first()
        if definition is None:
            return queryset
        raw = self.values.get("ca_value", "").strip()
        if raw in {"", "(empty)"}:
            return queryset.filter(Q(**{f"custom__{key}__isnull": True}))
        if raw == "(any)":
            return queryset.filter(**{f"custom__{key}__isnull": False})
        try:
            from people.attributes import cast_value

            value = cast_value(key, definition.type, raw)
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return queryset.none()
        if connection.vendor == "postgresql":
            return queryset.filter(custom__contains={key: value})  # served by the GIN index on custom
        return queryset.filter(**{f"custom__{key}": value})


class PersonForm(forms.ModelForm):
    """Edits go through the attribute service (validation, audit), not straight to the row."""

    class Meta:
        model = Person
        fields = ["kind", *STANDARD_ATTRIBUTES.keys(), "custom"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The values as the page was loaded travel with the form, so a save only writes what the
        # operator changed, not what changed in the database meanwhile (ingestion, other users).
        for field in self.fields.values():
            field.show_hidden_initial = True

    def _loaded(self, name: str):
        field = self.fields[name]
        raw = self.data.get(self.add_initial_prefix(name))
        if raw is None:
            return self.initial.get(name)
        try:
            return field.to_python(
                field.hidden_widget().value_from_datadict(
                    self.data, self.files, self.add_initial_prefix(name)
                )
            )
        except ValidationError:
            return self.initial.get(name)

    def clean(self):
        data = super().clean()
        custom = data.get("custom") or {}
        if not isinstance(custom, dict):
            self.add_error("custom", 'Custom attributes are an object: {"key": value, ...}.')
            return data
        try:
            services.validate_attribute_writes(self.attribute_writes())
        except ValidationError as exc:
            key = getattr(exc, "key", None)
            self.add_error(key if key in self.fields else "custom", exc.messages[0])
        return data

    def attribute_writes(self) -> list[services.AttributeWrite]:
        """What the operator changed, compared with the form as it was loaded (not with the row now:
        values that changed meanwhile, e.g. by ingestion, are left alone)."""
        data = self.cleaned_data
        writes = [
            services.AttributeWrite(k, data.get(k)) for k in STANDARD_ATTRIBUTES if k in self.changed_data
        ]
        if "custom" in self.changed_data:
            before = self._loaded("custom") or {}
            after = data.get("custom") or {}
            writes += [services.AttributeWrite(k, v) for k, v in after.items() if before.get(k) != v]
            writes += [services.AttributeWrite(k, op="unset") for k in before if k not in after]
        return writes


@admin.register(Person)
class PersonAdmin(ImportExportMixin, ModelAdmin):
    form = PersonForm
    resource_classes = [PersonResource]
    import_form_class = ImportForm
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
    search_help_text = "Name, email, phone, unified id, or any identifier"
    show_full_result_count = False
    paginator = InfinitePaginator
    ordering = ["-pk"]
    actions = ["bulk_update"]
    change_form_before_template = "admin/people/person/profile_360.html"
    readonly_fields = [
        "uid",
        "created_at",
        "modified_at",
        "first_seen_at",
        "last_activity_at",
        "event_count",
        "session_count",
        "last_contacted_at",
    ]
    fieldsets = [
        (None, {"fields": ["kind"]}),
        ("Standard attributes", {"fields": list(STANDARD_ATTRIBUTES.keys())}),
        ("Custom attributes", {"fields": ["custom"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).live()

    @display(description="Name", ordering="last_name")
    def display_name(self, obj: Person) -> str:
        return str(obj)

    def get_search_results(self, request, queryset, search_term):
        """Route the term by its shape so each kind of search can use an index: an email, a phone
        number, a unified id, any identifier (through identity's registered search); otherwise a
        name prefix (every word must start a first or last name)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        found = Q(pk__in=[])
        if "@" in term:
            found |= Q(email=term.lower())
        with contextlib.suppress(ValueError):
            found |= Q(uid=uuid.UUID(term))
        if PHONE_LIKE.fullmatch(term):
            with contextlib.suppress(ValidationError):
                found |= Q(phone=normalize_phone("phone", term))
        ids: set[int] = set()
        for search in extensions.person_searches.values():
            ids.update(search(term))
        if ids:
            found |= Q(pk__in=ids)
        if "@" not in term:
            words = Q()
            for word in term.split()[:4]:
                words &= Q(first_name__istartswith=word) | Q(last_name__istartswith=word)
            found |= words
        return queryset.filter(found), False

    def get_actions(self, request):
        actions = super().get_actions(request)
        for name, func in extensions.person_actions.items():
            actions[name] = (func, name, getattr(func, "short_description", name))
        return actions

    def save_model(self, request, obj: Person, form, change):
        """The row is saved empty (or kept as stored); attribute values go through the service."""
        stored = Person.objects.get(pk=obj.pk) if change else Person(kind=obj.kind)
        if change:
            Person.objects.filter(pk=obj.pk).update(kind=obj.kind)
        else:
            stored.save()
            obj.pk = stored.pk
        writes = form.attribute_writes()
        try:
            services.person_write_attributes(person=stored, writes=writes, actor=request.user)
        except (AttributeValueError, UnknownAttributeError) as exc:
            messages.error(request, f"Attributes not saved: {exc.messages[0]}")
        obj.__dict__.update({k: v for k, v in stored.__dict__.items() if not k.startswith("_")})

    def change_view(self, request, object_id, form_url="", extra_context=None):
        person = self.get_object(request, object_id)
        extra_context = extra_context or {}
        if person is not None:
            extra_context.update(profile_360_context(person, request))
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
                "count": queryset.count(),
                "selected_ids": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
                "opts": self.model._meta,
            },
        )


class BulkUpdateForm(forms.Form):
    attribute = forms.ChoiceField(choices=())
    operation = forms.ChoiceField(
        choices=[("set", "Set to a value"), ("unset", "Reset to empty")], initial="set"
    )
    value = forms.CharField(required=False, help_text="Cast to the attribute's type.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(key, f"{spec.label} (standard)") for key, spec in STANDARD_ATTRIBUTES.items()]
        choices += [(d.key, f"{d.label} ({d.get_type_display()})") for d in AttributeDefinition.objects.all()]
        self.fields["attribute"].choices = choices

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


def profile_360_context(person: Person, request) -> dict:
    """Everything the Person 360 page shows besides the edit form."""
    panels = []
    for panel in sorted(extensions.person_panels.values(), key=lambda p: p.order):
        panels.append({"title": panel.title, "template": panel.template, **panel.context(person, request)})
    return {
        "person": person,
        "device": selectors.person_latest_device(person=person),
        "attribute_rows": selectors.person_attribute_rows(person=person),
        "timeline": selectors.person_recent_events(person=person, limit=25),
        "recent_changes": selectors.person_recent_changes(person=person, limit=10),
        "channel_contacts": person.channel_contacts.select_related("channel").order_by("channel__name"),
        "panels": panels,
        "events_url": reverse("admin:people_event_changelist") + f"?person={person.pk}",
    }
