"""The source pages in the people admin link to identity's event debugger and activity."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_source_page_links_to_its_event_debugger(client, admin_user, make_source):
    # given
    source = make_source("Website").source
    client.force_login(admin_user)
    # when
    body = client.get(reverse("admin:people_source_change", args=[source.pk])).content.decode()
    # then
    debugger = reverse("admin:identity_debugger", args=[source.pk])
    assert debugger in body
    assert client.get(debugger).status_code == 200
