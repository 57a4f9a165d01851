from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from audiences.api.profiles import audiences_view
from people.builder import condition_metadata

urlpatterns = [
    # What the visual condition builder offers (people/widgets.py); staff only.
    path("admin/conditions/metadata/", condition_metadata, name="condition-metadata"),
    path("admin/people/import/", include("identity.imports.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("api/", include("config.api.urls")),
    # Tracking (Segment/RudderStack /v1/*, mParticle /v2/*) and the Profile API.
    path("", include("identity.urls")),
    # The Profile API's /audiences (defined by the audiences app, beside identity's Profile API).
    path(
        "v1/spaces/<str:space>/collections/users/profiles/<str:identifier>/audiences",
        audiences_view,
        name="profile-audiences",
    ),
    # The client actions API (/v1/actions, /v1/actions/act).
    path("", include("actions.urls")),
]
