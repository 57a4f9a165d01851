"""``manage.py create_access_token NAME``: a read-only Profile API token, alone on the last line."""

from django.core.management.base import BaseCommand

from identity.services import access_token_create


class Command(BaseCommand):
    help = "Create a read-only Profile API access token; prints it alone on the last line (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name: str, **options):
        issued = access_token_create(name=name)
        self.stdout.write(f"Created Profile API token {name!r}. It is shown once; store it now.")
        self.stdout.write(issued.raw)
