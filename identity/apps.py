from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "identity"
    verbose_name = "Identity"

    def ready(self) -> None:
        from identity import admin_extensions  # noqa: F401  (panels, actions, stats, search)
        from identity.api import schema  # noqa: F401  (OpenAPI security schemes)
