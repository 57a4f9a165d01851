"""``manage.py create_api_token USERNAME``: a management API token for a staff user, alone on the
last line (shown once; only its hash is stored)."""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from identity.staff_tokens import management_token_create


class Command(BaseCommand):
    help = (
        "Create a management API (/api/) token for an active staff user, replacing any token they had. "
        "Prints it alone on the last line; it is shown once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        try:
            issued = management_token_create(user=user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            f"Created a management API token for {username!r}; send it as 'Authorization: Token <token>'. "
            "It is shown once; store it now."
        )
        self.stdout.write(issued.raw)
