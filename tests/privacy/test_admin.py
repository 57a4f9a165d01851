"""Privacy admin: new request by identifier (with bad inputs), list with status and progress, result
download, receipt, cancel, suppressions and tombstone counts."""

from __future__ import annotations

import json

import pytest

from privacy.models import PrivacyRequest, RequestStatus
from tests.privacy.conftest import person_of

pytestmark = pytest.mark.django_db

ADD = "/admin/privacy/privacyrequest/add/"
LIST = "/admin/privacy/privacyrequest/"


@pytest.fixture
def dana(ingest):
    ingest(
        {"type": "identify", "userId": "dana-5", "traits": {"email": "dana@example.org"}, "messageId": "d1"},
    )


def test_new_request_by_identifier_runs_and_offers_the_download(
    client, admin_user, dana, django_capture_on_commit_callbacks
):
    # given
    client.force_login(admin_user)
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            ADD, {"kind": "access", "regulation": "gdpr", "identifiers": "email:Dana@Example.org"}
        )
    # then
    assert response.status_code == 302
    request = PrivacyRequest.objects.get()
    assert (request.status, request.requested_by, request.requested_via) == (
        RequestStatus.COMPLETED,
        admin_user,
        "admin",
    )
    listing = client.get(LIST).content.decode()
    assert str(request.subject_request_id)[:8] in listing and "completed" in listing and "100%" in listing
    detail = client.get(f"{LIST}{request.pk}/change/").content.decode()
    assert "CSV bundle" in detail
    download = client.get(f"{LIST}{request.pk}/download/")
    assert download.status_code == 200
    assert download.json()["tables"]["identity.Identity"][0]["value"] in {"dana-5", "dana@example.org"}
    assert client.get(f"{LIST}{request.pk}/download/?as=csv")["Content-Type"] == "application/zip"


@pytest.mark.parametrize(
    ("identifiers", "kind", "error"),
    [
        ("", "access", "This field is required."),
        ("dana@example.org", "access", "Write the identifier as type:value, e.g. email:ann@example.com."),
        ("shoe_size:42", "access", "line 1 (shoe_size:42): unknown identifier type &#x27;shoe_size&#x27;."),
        (
            "user_id:dana-5\nemail:not-an-email",
            "access",
            "line 2 (email:not-an-email): &#x27;not-an-email&#x27; is not an email address.",
        ),
        ("email:", "access", "Write the identifier as type:value"),
        (
            "email:dana@example.org",
            "forget_me",
            "Select a valid choice. forget_me is not one of the available choices.",
        ),
    ],
)
def test_bad_new_requests_show_the_reason_and_write_nothing(client, admin_user, identifiers, kind, error):
    client.force_login(admin_user)
    response = client.post(ADD, {"kind": kind, "regulation": "gdpr", "identifiers": identifiers})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not PrivacyRequest.objects.exists()


def test_a_marketeer_may_not_start_an_erasure(client, marketeer_user):
    client.force_login(marketeer_user)
    response = client.post(ADD, {"kind": "erasure", "regulation": "gdpr", "identifiers": "user_id:dana-5"})
    assert "You may not run erasure requests: an Admin can grant you" in response.content.decode()
    assert not PrivacyRequest.objects.exists()
    # other kinds are fine
    client.post(ADD, {"kind": "access", "regulation": "gdpr", "identifiers": "user_id:dana-5"})
    assert PrivacyRequest.objects.get().kind == "access"


def test_receipt_is_shown_and_downloadable(client, admin_user, dana, run_request, signing_key):
    request = run_request("erasure", ("user_id", "dana-5"), user=admin_user)
    client.force_login(admin_user)
    detail = client.get(f"{LIST}{request.pk}/change/").content.decode()
    assert "Deletion receipt" in detail and "people.Person" in detail and "X-Attune-Signature: t=" in detail
    download = client.get(f"{LIST}{request.pk}/receipt/")
    assert json.loads(download.content)["counts"]["identity.Identity"] == 2
    assert download["X-Attune-Signature"] == request.receipt_signature
    assert "dana" not in download.content.decode()


def test_cancel_from_the_admin(client, admin_user):
    from privacy import services

    request = services.request_create(kind="access", identities=[{"type": "user_id", "value": "x"}])
    client.force_login(admin_user)
    assert "Cancel this request" in client.get(f"{LIST}{request.pk}/change/").content.decode()
    client.post(f"{LIST}{request.pk}/cancel/")
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED
    client.post(f"{LIST}{request.pk}/cancel/", follow=True)
    page = client.get(f"{LIST}{request.pk}/change/").content.decode()
    assert "Cancel this request" not in page


def test_suppressions_and_tombstone_counts(client, admin_user, dana, run_request, ingest):
    ingest({"type": "identify", "userId": "eve-1", "messageId": "e1"})
    run_request("suppression", ("user_id", "eve-1"), user=admin_user)
    run_request("erasure", ("email", "dana@example.org"), user=admin_user)
    client.force_login(admin_user)
    suppressions = client.get("/admin/privacy/suppression/").content.decode()
    eve = person_of("user_id", "eve-1")
    assert f">{eve.uid}</a>" in suppressions  # the profile, linked (it has no name or email)
    assert f"/admin/people/person/{eve.pk}/change/" in suppressions
    tombstones = client.get("/admin/privacy/tombstone/").content.decode()
    assert "email: <b>1</b>" in tombstones and "user_id: <b>1</b>" in tombstones
    assert "dana" not in tombstones
    audit = client.get("/admin/privacy/auditentry/").content.decode()
    assert "completed" in audit and "dana" not in audit
