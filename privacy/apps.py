from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "privacy"
    verbose_name = "Privacy"

    def ready(self) -> None:
        from django.contrib.admin.models import LogEntry

        from identity.extensions import register_message_filter
        from people.personal_data import register_personal_data
        from privacy import erasers, filters
        from privacy.models import PrivacyRequest, Suppression

        # Ingestion drops messages of erased (tombstoned) identifiers and of suppressed profiles.
        register_message_filter("privacy", filters.privacy_filter)
        # People's CSV import skips the same people (it cannot import identity's registry).

        register_personal_data(Suppression, person_field="person", description="Suppression of the profile")
        register_personal_data(
            PrivacyRequest,
            person_field="person",
            identifier_fields=("subject_identities",),
            erase=erasers.scrub_requests,
            export=False,  # listed in the export's own "requests" section
            description="Earlier privacy requests (kept, without identifiers or results)",
        )
        # Identity registers its examples table for identifier matches; privacy widens that to the
        # examples taken from the people's events (same model, the fuller rule).
        from identity.models import SeenUndefined

        register_personal_data(
            SeenUndefined,
            identifier_fields=("example",),
            erase=erasers.seen_undefined_examples,
            order=10,
            export=False,
            description="Examples of undefined events and traits",
        )
        # The admin's history names the objects it changed ("Ann Example"): Django's, so registered here.
        register_personal_data(
            LogEntry,
            identifier_fields=("object_repr", "change_message"),
            erase=erasers.admin_log_entries,
            export=False,
            description="Admin history of the person's profile",
        )
