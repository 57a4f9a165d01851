from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "people"
    verbose_name = "People"

    def ready(self) -> None:
        from django.utils.module_loading import autodiscover_modules

        # Each app declares its long-running job kinds in a ``jobs`` module (see people/jobs.py).
        autodiscover_modules("jobs")

        from django.db.models.signals import post_migrate

        from people.roles import sync_roles

        # Keep the Admin and Marketeer groups' permissions complete after every migrate.
        post_migrate.connect(sync_roles, dispatch_uid="people.sync_roles")

        from django.db.models.signals import post_delete, post_save

        from people import schema
        from people.models import (
            AttributeDefinition,
            ContextDefinition,
            ContextPropertyDefinition,
            EventDefinition,
            EventPropertyDefinition,
        )

        # Any write to a definition, from a service, the admin or the shell, renews the snapshot
        # ingestion checks against (people/schema.py).
        for model in (
            AttributeDefinition,
            EventDefinition,
            EventPropertyDefinition,
            ContextDefinition,
            ContextPropertyDefinition,
        ):
            for signal in (post_save, post_delete):
                uid = f"people.schema.{model.__name__}"
                signal.connect(schema.definitions_changed, sender=model, dispatch_uid=uid)

        from people.models import (
            AttributeChange,
            Event,
            PendingChange,
            Person,
            PersonChannelContact,
            RejectedMessage,
        )
        from people.personal_data import register_personal_data

        # What privacy exports and erases (people/personal_data.py).
        register_personal_data(Person, person_field="id", description="The profile and its attributes")
        register_personal_data(Event, person_field="person", description="Events")
        register_personal_data(AttributeChange, person_field="person", description="Attribute change log")
        register_personal_data(
            PersonChannelContact, person_field="person", description="Contacts per channel"
        )
        register_personal_data(
            PendingChange, person_field="person_id", description="Refreshes waiting to run", export=False
        )
        register_personal_data(
            RejectedMessage, identifier_fields=("payload",), description="Quarantined messages", export=False
        )
