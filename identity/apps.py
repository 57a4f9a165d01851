from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from identity import admin_extensions  # noqa: F401  (panels, actions, stats, search)
        from identity.api import schema  # noqa: F401  (OpenAPI security schemes)
        from identity.health import health_context
        from identity.models import (
            GroupMembership,
            IdentifierType,
            Identity,
            InboundBatch,
            Merge,
            SeenMessage,
            SeenUndefined,
            SuppressedIdentifier,
        )
        from identity.policy import identifier_types_changed
        from people.extensions import register_dashboard_section
        from people.personal_data import register_personal_data

        # Any write to an identifier type (service, admin, shell, a batch's custom type) renews the
        # policy every process keeps (identity/policy.py).
        for signal in (post_save, post_delete):
            signal.connect(identifier_types_changed, sender=IdentifierType, dispatch_uid="identity.policy")

        from identity.api.auth import sources_changed
        from people.models import Channel, Source

        # Likewise the write keys' sources every tracking request reads (identity/api/auth.py).
        for model in (Source, Channel):
            for signal in (post_save, post_delete):
                uid = f"identity.sources.{model.__name__}"
                signal.connect(sources_changed, sender=model, dispatch_uid=uid)

        register_dashboard_section(
            "identity-health",
            title="Identity-graph health",
            template="admin/identity/dashboard/health.html",
            context=health_context,
            order=20,
        )

        # What privacy exports and erases (people/personal_data.py).
        register_personal_data(Identity, person_field="person", description="Identifiers")
        register_personal_data(Merge, person_field=("parent", "child"), description="Merges")
        register_personal_data(
            GroupMembership, person_field=("person", "company"), description="Company memberships"
        )
        register_personal_data(
            SeenMessage,
            linked=("message_id", "people.Event", "message_id"),
            order=10,
            export=False,
            description="Dedupe keys of the person's events",
        )
        register_personal_data(
            InboundBatch,
            identifier_fields=("messages",),
            on_match="remove_items",
            export=False,
            description="Queued inbound messages",
        )
        register_personal_data(
            SeenUndefined,
            identifier_fields=("example",),
            on_match="null",
            export=False,
            description="Examples of undefined events and traits",
        )
        register_personal_data(
            SuppressedIdentifier,
            identifier_fields=("value",),
            identifier_pair=("type__key", "value"),
            description="Suppressed identifiers",
        )
