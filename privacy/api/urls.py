from django.urls import path

from privacy.api import views

urlpatterns = [
    path("privacy/v3/discovery", views.DiscoveryView.as_view(), name="privacy-discovery"),
    path("privacy/v3/requests", views.RequestListView.as_view(), name="privacy-requests"),
    path(
        "privacy/v3/requests/<uuid:subject_request_id>",
        views.RequestDetailView.as_view(),
        name="privacy-request",
    ),
    path(
        "privacy/v3/requests/<uuid:subject_request_id>/results",
        views.RequestResultsView.as_view(),
        name="privacy-request-results",
    ),
]
