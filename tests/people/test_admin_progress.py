"""The progress the admin lists show (people.admin.base): a job's bar with its counts, a privacy
request's bar, and a definition's job percentage linked to the job's page."""

from __future__ import annotations

import re

import pytest

from audiences.models import Audience
from computed.models import ComputedAttribute
from people.models import Job
from privacy.models import PrivacyRequest

pytestmark = pytest.mark.django_db


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&middot;", "·")


@pytest.fixture
def running_job(db):
    return Job.objects.create(
        kind="computed.activate", status=Job.Status.RUNNING, progress_done=4, progress_total=10
    )


def test_the_job_list_shows_the_bar_with_percent_and_counts(client, admin_user, running_job):
    # given
    client.force_login(admin_user)
    # when
    response = client.get("/admin/people/job/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert 'title="4 of 10"' in html and "width:40%" in html
    assert "40% · 4 / 10" in _text(html)


def test_the_privacy_request_list_shows_the_bar_with_percent_only(client, admin_user):
    # given
    PrivacyRequest.objects.create(kind="access", status="in_progress", progress_done=1, progress_total=4)
    client.force_login(admin_user)
    # when
    response = client.get("/admin/privacy/privacyrequest/")
    # then
    html = response.content.decode()
    assert 'title="1 of 4"' in html and "width:25%" in html
    assert "25% · 1 / 4" not in _text(html)
    assert re.search(r"<small>25%</small>", html)


@pytest.mark.parametrize(
    ("path", "model", "fields"),
    [
        (
            "/admin/computed/computedattribute/",
            ComputedAttribute,
            {"kind": "formula", "output_type": "integer"},
        ),
        ("/admin/audiences/audience/", Audience, {}),
    ],
)
def test_a_processing_definition_links_its_job_percentage(
    client, admin_user, running_job, path, model, fields
):
    # given
    model.objects.create(key="busy", name="Busy", state="processing", job=running_job, **fields)
    model.objects.create(key="done", name="Done", state="active", **fields)
    model.objects.create(key="draft", name="Draft", **fields)
    client.force_login(admin_user)
    # when
    html = client.get(path).content.decode()
    # then
    assert f'<a href="/admin/people/job/{running_job.pk}/change/">40% (job #{running_job.pk})</a>' in html
    rows = [_text(row) for row in html.split("<tr")[1:]]
    assert [row for row in rows if " Done " in row and "100%" in row]
    assert [row for row in rows if " Draft " in row and " — " in row]
