"""Tracking (``/v1/...``, ``/v2/...``) and Profile API routes. Exact paths: no trailing slash."""

from django.urls import path

from identity.api import profiles, tracking

SHORT = {"i": "identify", "t": "track", "p": "page", "s": "screen", "g": "group", "a": "alias"}

urlpatterns = [
    path("v1/batch", tracking.batch_view, name="tracking-batch"),
    path("v1/import", tracking.batch_view, name="tracking-import"),
    path("v1/b", tracking.batch_view, name="tracking-b"),
    path("beacon/v1/batch", tracking.batch_view, name="tracking-beacon"),
    path("v1/m", tracking.metrics_view, name="tracking-metrics"),
    path(
        "v1/projects/<str:write_key>/settings",
        tracking.project_settings_view,
        name="tracking-project-settings",
    ),
    path("v2/events", tracking.mparticle_view, name="mparticle-events"),
    path("v2/bulkevents", tracking.mparticle_bulk_view, name="mparticle-bulkevents"),
    path("v2/bulkevents/historical", tracking.mparticle_bulk_view, name="mparticle-historical"),
]
for message_type in SHORT.values():
    urlpatterns.append(
        path(
            f"v1/{message_type}",
            tracking.single_view(message_type),
            name=f"tracking-{message_type}",
        )
    )
for short, message_type in SHORT.items():
    urlpatterns.append(path(f"v1/{short}", tracking.single_view(message_type), name=f"tracking-{short}"))

PROFILE = "v1/spaces/<str:space>/collections/users/profiles/<str:identifier>/"
urlpatterns += [
    path(PROFILE + "traits", profiles.traits_view, name="profile-traits"),
    path(PROFILE + "external_ids", profiles.external_ids_view, name="profile-external-ids"),
    path(PROFILE + "events", profiles.events_view, name="profile-events"),
    path(PROFILE + "metadata", profiles.metadata_view, name="profile-metadata"),
]
