"""The OpenDSR v3 API: create, status, cancel, results (7 days, then 410), discovery, signed
callbacks, permissions (erasure needs its own), and a table of bad inputs."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone
from rest_framework.test import APIClient

from identity.staff_tokens import management_token_create
from people import signing
from privacy.models import PrivacyRequest, RequestStatus

pytestmark = pytest.mark.django_db

URL = "/api/privacy/v3/requests"
EMAIL = "ann.example@example.org"


def body(**overrides) -> dict:
    data = {
        "regulation": "gdpr",
        "subject_request_id": str(uuid.uuid4()),
        "subject_request_type": "access",
        "submitted_time": "2026-11-20T10:00:00Z",
        "subject_identities": {"email": {"value": EMAIL, "encoding": "raw"}},
        "status_callback_urls": [],
    }
    data.update(overrides)
    return data


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {management_token_create(user=user).raw}")
    return client


@pytest.fixture
def ann(ingest):
    ingest(
        {
            "type": "identify",
            "userId": "ann-1",
            "traits": {"email": EMAIL, "firstName": "Ann"},
            "messageId": "a1",
        }
    )


def test_access_request_lifecycle_through_the_api(api, ann, django_capture_on_commit_callbacks):
    # when
    data = body()
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(URL, data, format="json")
    # then
    assert created.status_code == 201, created.content
    assert created.json()["subject_request_id"] == data["subject_request_id"]
    assert set(created.json()) == {
        "expected_completion_time",
        "received_time",
        "subject_request_id",
        "controller_id",
    }
    status = api.get(f"{URL}/{data['subject_request_id']}").json()
    assert status["request_status"] == "completed"
    assert status["progress_percent"] == 100
    assert status["results_url"].endswith(f"{URL}/{data['subject_request_id']}/results")
    export = api.get(status["results_url"])
    assert export.status_code == 200
    assert export.json()["profile"]["attributes"][0]["key"] == "first_name"
    assert _attr(export.json(), "email")["value"] == EMAIL
    bundle = zipfile.ZipFile(io.BytesIO(api.get(status["results_url"] + "?as=csv").content))
    assert "identity_identity.csv" in bundle.namelist()
    assert "ann-1" in bundle.read("identity_identity.csv").decode()


def _attr(document: dict, key: str) -> dict:
    return next(a for a in document["profile"]["attributes"] if a["key"] == key)


def test_results_expire_after_seven_days(api, admin_user, ann, run_request):
    # given
    request = run_request("access", ("email", EMAIL), user=admin_user)
    url = f"{URL}/{request.subject_request_id}/results"
    assert api.get(url).status_code == 200
    assert request.results_expire_at - request.completed_at >= timedelta(days=6, hours=23)
    # when: seven days later
    PrivacyRequest.objects.filter(pk=request.pk).update(
        results_expire_at=timezone.now() - timedelta(seconds=1)
    )
    # then
    gone = api.get(url)
    assert gone.status_code == 410
    assert gone.json()["detail"] == "The results were kept 7 days and have been deleted."
    from privacy.services import results_purge_expired

    assert results_purge_expired() == 1
    assert PrivacyRequest.objects.get(pk=request.pk).result is None


def test_results_of_a_request_that_is_not_an_export_or_not_done(api, admin_user, ann, run_request):
    erasure = run_request("erasure", ("email", EMAIL), user=admin_user)
    response = api.get(f"{URL}/{erasure.subject_request_id}/results")
    assert (response.status_code, response.json()["code"]) == (404, "not_an_export")
    pending = PrivacyRequest.objects.create(
        kind="access", subject_identities=[{"type": "email", "value": EMAIL}]
    )
    response = api.get(f"{URL}/{pending.subject_request_id}/results")
    assert (response.status_code, response.json()["detail"]) == (409, "The request is pending.")


def test_status_transitions_and_cancel_only_while_pending(api, ann):
    # given: a pending request (its job has not run: the commit hooks are not executed)
    data = body(subject_request_type="erasure")
    assert api.post(URL, data, format="json").status_code == 201
    detail = f"{URL}/{data['subject_request_id']}"
    assert api.get(detail).json()["request_status"] == "pending"
    # when
    cancelled = api.delete(detail)
    # then
    assert cancelled.status_code == 200
    assert cancelled.json()["request_status"] == "cancelled"
    again = api.delete(detail)
    assert again.status_code == 409
    assert again.json()["detail"] == "Only pending requests can be cancelled; this one is cancelled."
    # an in-progress request cannot be cancelled either
    other = body()
    api.post(URL, other, format="json")
    PrivacyRequest.objects.filter(subject_request_id=other["subject_request_id"]).update(
        status=RequestStatus.IN_PROGRESS
    )
    refused = api.delete(f"{URL}/{other['subject_request_id']}")
    assert refused.json()["detail"] == "Only pending requests can be cancelled; this one is in progress."


def test_a_failed_request_records_its_error(api, admin_user, ann, run_request, monkeypatch):
    from privacy import services

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "build_export", boom)
    request = run_request("access", ("email", EMAIL), user=admin_user)
    status = api.get(f"{URL}/{request.subject_request_id}").json()
    assert status["request_status"] == "failed"
    assert status["error"] == "RuntimeError: disk full"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"regulation": "hipaa"}, "regulation", '"hipaa" is not a valid choice.'),
        ({"subject_request_id": "abc"}, "subject_request_id", "Must be a valid UUID."),
        (
            {"subject_request_id": "a8098c1a-f86e-11da-bd1a-00112444be1e"},
            "subject_request_id",
            "Must be a UUID version 4.",
        ),
        (
            {"subject_request_type": "delete_everything"},
            "subject_request_type",
            '"delete_everything" is not a valid choice.',
        ),
        ({"submitted_time": "yesterday"}, "submitted_time", "Datetime has wrong format."),
        ({"subject_identities": {}}, "subject_identities", "This dictionary may not be empty."),
        (
            {"subject_identities": {"email": {"value": EMAIL, "encoding": "md5"}}},
            "subject_identities",
            "Unsupported encoding 'md5'",
        ),
        (
            {"subject_identities": {"shoe_size": {"value": "42"}}},
            "subject_identities",
            "unknown identifier type 'shoe_size'",
        ),
        (
            {"subject_identities": {"email": {"value": "not-an-email"}}},
            "subject_identities",
            "is not an email address",
        ),
        ({"subject_identities": {"email": {"value": ""}}}, "subject_identities", "may not be blank"),
        (
            {"subject_identities": ["email", EMAIL]},
            "subject_identities",
            'Expected a dictionary of items but got type "list".',
        ),
        ({"status_callback_urls": ["ftp://x"]}, "status_callback_urls", "Enter a valid URL."),
        (
            {"status_callback_urls": "https://x.example"},
            "status_callback_urls",
            'Expected a list of items but got type "str".',
        ),
    ],
)
def test_bad_requests_are_refused_with_the_reason_and_nothing_written(api, overrides, field, message):
    response = api.post(URL, body(**overrides), format="json")
    assert response.status_code == 400
    assert message in " ".join(_strings(response.json()[field]))
    assert not PrivacyRequest.objects.exists()


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def test_a_request_id_cannot_be_reused(api):
    data = body()
    assert api.post(URL, data, format="json").status_code == 201
    again = api.post(URL, data, format="json")
    assert again.status_code == 400
    assert again.json()["subject_request_id"] == ["A request with this id exists already."]
    assert PrivacyRequest.objects.count() == 1


def test_malformed_json_is_a_400(api):
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400


def test_unknown_request_is_404(api):
    assert api.get(f"{URL}/{uuid.uuid4()}").status_code == 404
    assert api.get(f"{URL}/not-a-uuid").status_code == 404


def test_authentication_and_permissions(marketeer_user, admin_user):
    # no token
    assert APIClient().post(URL, body(), format="json").status_code == 401
    # a Marketeer may ask for exports but not run erasure ...
    marketeer = client_for(marketeer_user)
    assert marketeer.post(URL, body(), format="json").status_code == 201
    refused = marketeer.post(URL, body(subject_request_type="erasure"), format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "You may not create erasure requests."
    # ... unless an Admin grants it to them
    marketeer_user.user_permissions.add(Permission.objects.get(codename="run_erasure"))
    marketeer_user = type(marketeer_user).objects.get(pk=marketeer_user.pk)
    assert (
        client_for(marketeer_user).post(URL, body(subject_request_type="erasure"), format="json").status_code
        == 201
    )
    # a staff user without privacy permissions sees nothing
    from django.contrib.auth.models import User

    nobody = User.objects.create_user("nobody", is_staff=True)
    assert client_for(nobody).get("/api/privacy/v3/discovery").status_code == 403


def test_discovery(api):
    data = api.get("/api/privacy/v3/discovery").json()
    assert data["api_version"] == "3.0"
    assert {"identity_type": "email", "identity_format": "raw"} in data["supported_identities"]
    assert data["supported_subject_request_types"] == [
        "access",
        "portability",
        "erasure",
        "suppression",
        "unsuppression",
    ]
    assert data["processor_signature_header"] == "X-Attune-Signature"


def test_status_callbacks_are_signed_with_the_organization_key(
    api, ann, signing_key, monkeypatch, django_capture_on_commit_callbacks
):
    import urllib.request

    sent = []

    class Reply:
        status = 204

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(http, timeout):
        sent.append((http.full_url, http.data, dict(http.header_items())))
        return Reply()

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    data = body(status_callback_urls=["https://dsr.example.com/callback"])
    with django_capture_on_commit_callbacks(execute=True):
        api.post(URL, data, format="json")
    statuses = [json.loads(payload)["request_status"] for _, payload, _ in sent]
    assert statuses == ["pending", "in_progress", "completed"]
    url, payload, headers = sent[-1]
    assert url == "https://dsr.example.com/callback"
    assert signing.verify(headers["X-attune-signature"], payload, key=signing_key)
    assert json.loads(payload)["subject_request_id"] == data["subject_request_id"]


def test_a_failed_callback_is_retried_later_with_backoff(
    api, ann, monkeypatch, django_capture_on_commit_callbacks
):
    import urllib.error
    import urllib.request

    from django_q.models import Schedule

    from privacy import tasks
    from privacy.models import AuditEntry

    def refuse(http, timeout):
        raise urllib.error.HTTPError(http.full_url, 503, "busy", {}, None)

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    data = body(status_callback_urls=["https://dsr.example.com/callback"])
    # when: every delivery fails
    with django_capture_on_commit_callbacks(execute=True):
        api.post(URL, data, format="json")
    # then: each status is scheduled again a minute later, and the audit log says so
    retries = Schedule.objects.filter(func="privacy.tasks.send_status_callbacks").order_by("pk")
    assert [s.args for s in retries][-1].endswith("'completed', ['https://dsr.example.com/callback'], 2)")
    assert retries.count() == 3
    callbacks = AuditEntry.objects.filter(action="callback").order_by("pk")
    assert [c.detail["responses"] for c in callbacks] == [[503], [503], [503]]
    assert callbacks.last().detail["retry_in_minutes"] == 1
    # the last attempt gives up
    request = PrivacyRequest.objects.get(subject_request_id=data["subject_request_id"])
    assert tasks.send_status_callbacks(request.pk, "completed", ["https://dsr.example.com/callback"], 5) == {
        "https://dsr.example.com/callback": 503
    }
    assert retries.count() == 3
