"""First-start set-up for ``make run``: demo data into an empty database and an admin login."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.core.management.base import BaseCommand

from people.models import Person
from people.roles import ADMIN


class Command(BaseCommand):
    help = "Load demo data if the database is empty and make sure an admin login exists (printed)."

    def add_arguments(self, parser):
        parser.add_argument("--no-demo", action="store_true")

    def handle(self, *args, no_demo: bool, **options):
        if not no_demo and not Person.objects.exists():
            self.stdout.write("Empty database: loading demo data ...")
            call_command("load_demo", stdout=self.stdout)
        password_file = Path(settings.BASE_DIR) / "var" / "admin-password.txt"
        user = User.objects.filter(username="admin").first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = User.objects.create_superuser("admin", "admin@example.com", password)
            user.groups.add(Group.objects.get(name=ADMIN))
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        password = password_file.read_text().strip() if password_file.exists() else "(set before; see var/)"
        self.stdout.write(self.style.SUCCESS(f"Admin login: admin / {password}"))
