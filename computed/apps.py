from django.apps import AppConfig


class ComputedConfig(AppConfig):
    name = "computed"
    verbose_name = "Computed"  # the admin's header reads "Computed › Computed attributes › <attribute>"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from computed.lang.runtime import on_connection_created

        # SQLite (development) gets the formula runtime as SQL functions; PostgreSQL has natives.
        connection_created.connect(on_connection_created, dispatch_uid="computed.sqlite_functions")
        from computed import panels
        from computed.models import ComputedAttribute, ComputedValue
        from computed.provider import ComputedProvider
        from computed.selectors import traits_from_rows, traits_rows
        from identity.extensions import register_trait_source
        from people import extensions
        from people.conditions import register_attribute_provider

        # Conditions and formulas may name active computed attributes.
        register_attribute_provider(ComputedProvider())
        # The Profile API serves active computed attributes as traits (class=computed_trait).
        register_trait_source(
            "computed_trait", rows=traits_rows, traits=traits_from_rows, label="Computed attributes"
        )
        # Custom attribute keys may not reuse a computed attribute's key (drafts included).
        extensions.register_key_owner("computed attribute", panels.key_in_use)
        # Its Person 360 panels register where their context functions are declared (computed/panels.py).
        extensions.register_active_count(
            "computed_active", label="Active computed attributes", model=ComputedAttribute, order=30
        )

        from people.personal_data import register_personal_data

        # What privacy exports and erases (people/personal_data.py).
        register_personal_data(ComputedValue, person_field="person", description="Computed attribute values")
