"""The management API: each app contributes its routes under /api/."""

from django.urls import include, path

urlpatterns = [
    path("", include("people.api.urls")),
    path("", include("identity.api.import_urls")),
    path("", include("computed.api.urls")),
    path("", include("privacy.api.urls")),
    path("", include("audiences.api.urls")),
    path("", include("actions.api.urls")),
]
