from django.apps import AppConfig


class ActionsConfig(AppConfig):
    name = "actions"
    verbose_name = "Actions"

    def ready(self) -> None:
        # django-q2 imports its broker module lazily on the first async_task; two threads of one
        # worker doing that at once can see a half-imported package (ImportError). Import it now.
        import django_q.brokers.orm  # noqa: F401
        import django_q.tasks  # noqa: F401
        from django.conf import settings

        if settings.Q_CLUSTER.get("redis"):
            import django_q.brokers.redis_broker  # noqa: F401

        from actions import panels
        from actions.models import Action, Reaction, TestUser, WebhookDelivery
        from people import extensions
        from people.personal_data import register_personal_data

        register_personal_data(Reaction, person_field="person", description="Reactions to actions")
        register_personal_data(TestUser, person_field="person", description="Test-user entries of actions")
        register_personal_data(
            WebhookDelivery,
            person_field="person",
            identifier_fields=("body",),
            description="Webhook deliveries (their bodies carry user ids)",
        )
        from audiences.services import register_usage_finder

        # An audience that an action targets cannot be deleted.
        register_usage_finder(panels.actions_using_audience)
        # Its Person 360 panel (actions/panels.py, imported above) and timeline entries register where
        # their functions are declared.
        from actions import timeline  # noqa: F401

        extensions.register_active_count("actions_active", label="Active actions", model=Action, order=40)
