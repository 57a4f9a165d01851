"""Client actions API routes (exact paths, no trailing slash, like the tracking endpoints)."""

from django.urls import path

from actions.api import client

urlpatterns = [
    path("v1/actions", client.actions_view, name="client-actions"),
    path("v1/actions/act", client.act_view, name="client-actions-act"),
]
