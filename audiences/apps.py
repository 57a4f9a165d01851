from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "audiences"
    verbose_name = "Audiences"

    def ready(self) -> None:
        from audiences import panels
        from audiences.models import Audience, AudienceMembership, MembershipHistory
        from audiences.provider import AudienceProvider
        from audiences.selectors import traits_from_rows, traits_rows
        from computed.extensions import register_usage_finder
        from identity.extensions import register_trait_source
        from people import extensions
        from people.conditions import register_attribute_provider
        from people.personal_data import register_personal_data

        register_personal_data(
            AudienceMembership,
            person_field="person",
            description="Audience memberships (current and past versions)",
        )
        register_personal_data(
            MembershipHistory, person_field="person", description="Entries into and exits from audiences"
        )
        # Conditions may name another audience's membership: {"attribute": "audience:<key>", ...}.
        register_attribute_provider(AudienceProvider())
        # The Profile API serves memberships as boolean traits (class=audience).
        register_trait_source("audience", rows=traits_rows, traits=traits_from_rows, label="Audiences")
        # A computed attribute an audience names cannot be deleted (computed's where-used).
        register_usage_finder(panels.audiences_using_attribute)
        # Custom attribute keys may not reuse an audience key (both are Profile API trait names).
        extensions.register_key_owner("audience", panels.key_in_use)
        # Its Person 360 panel (audiences/panels.py, imported above) and timeline entries register where
        # their functions are declared.
        from audiences import timeline  # noqa: F401

        extensions.register_active_count(
            "audiences_active", label="Active audiences", model=Audience, order=40
        )
