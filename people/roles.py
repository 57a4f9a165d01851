"""The two roles. Admin has every permission. Marketeer has every one except managing users,
groups and API tokens (management and Profile API), admin login attempts (django-axes), the
organization settings, and editing the task queue's schedules (which would let a user run any
function on the worker); it may view them.
``sync_roles`` runs after every ``migrate`` so new models are covered."""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

ADMIN = "Admin"
MARKETEER = "Marketeer"

MARKETEER_EXCLUDED = (
    Q(content_type__app_label__in=["auth", "authtoken", "axes"])
    | Q(content_type__app_label="people", content_type__model="organizationsettings")
    | Q(content_type__app_label="identity", content_type__model="accesstoken")
    | (Q(content_type__app_label="django_q") & ~Q(codename__startswith="view_"))
    # Erasure is irreversible: an Admin grants it to a Marketeer user explicitly.
    | Q(content_type__app_label="privacy", codename="run_erasure")
)


def sync_roles(**kwargs) -> None:
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    marketeer, _ = Group.objects.get_or_create(name=MARKETEER)
    admin.permissions.set(Permission.objects.all())
    marketeer.permissions.set(Permission.objects.exclude(MARKETEER_EXCLUDED))
