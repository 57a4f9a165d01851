"""Every management API endpoint parses JSON with a bound on nesting: 400 with a reason, never a 500."""

import pytest

from people.models import Channel

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('{"key": "web", "name": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
        ('{"key": "web", "name": "Web"', "JSON parse error"),
        ("\x00", "JSON parse error"),
    ],
)
def test_unusable_json_bodies_are_400_and_store_nothing(api, body, reason):
    # when a body Python cannot decode is posted to a management endpoint
    response = api.post("/api/channels/", data=body, content_type="application/json")
    # then the answer says why, and nothing is written
    assert response.status_code == 400
    assert reason in response.content.decode()
    assert not Channel.objects.filter(key="web").exists()
