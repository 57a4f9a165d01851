"""The two roles. Admin has every permission; Marketeer every one but user management and
organization settings. ``sync_roles`` runs after every ``migrate`` so new models are covered."""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

ADMIN = "Admin"
MARKETEER = "Marketeer"

MARKETEER_EXCLUDED = (
    Q(content_type__app_label="auth")
    | Q(content_type__app_label="people", content_type__model="organizationsettings")
    | Q(content_type__app_label="authtoken")
)


def sync_roles(**kwargs) -> None:
    admin, _ = Group.objects.get_or_create(name=ADMIN)
    marketeer, _ = Group.objects.get_or_create(name=MARKETEER)
    admin.permissions.set(Permission.objects.all())
    marketeer.permissions.set(Permission.objects.exclude(MARKETEER_EXCLUDED))
