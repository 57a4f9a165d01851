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
