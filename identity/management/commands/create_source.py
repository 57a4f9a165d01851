"""``manage.py create_source NAME --channel KEY [--protection ...]``: scripted set-up of a source.

Output contract: the last two lines are ``KEY:SECRET`` (what mParticle-style clients send as Basic
``key:secret``) and then the write key alone (what Segment-style clients send).
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from identity.services import source_create_for_channel
from people.models import Source


class Command(BaseCommand):
    help = (
        "Create a source (and its channel if needed); prints KEY:SECRET, then the write key on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--channel", required=True, help="Channel key; created if it does not exist.")
        parser.add_argument(
            "--protection", choices=Source.Protection.values, default=Source.Protection.CREATE_UPDATE
        )

    def handle(self, *args, name: str, channel: str, protection: str, **options):
        try:
            credentials = source_create_for_channel(name=name, channel_key=channel, protection=protection)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        source = credentials.source
        self.stdout.write(f"Created source {source.name!r} on channel {source.channel.key!r} ({protection}).")
        self.stdout.write("The write key is shown once; store it now.")
        self.stdout.write(credentials.basic_pair)
        self.stdout.write(credentials.write_key)
