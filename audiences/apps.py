from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "audiences"
    verbose_name = "Audiences"

    def ready(self) -> None:
        from audiences.models import AudienceMembership, MembershipHistory
        from people.personal_data import register_personal_data

        register_personal_data(
            AudienceMembership,
            person_field="person",
            description="Audience memberships (current and past versions)",
        )
        register_personal_data(
            MembershipHistory, person_field="person", description="Entries into and exits from audiences"
        )
