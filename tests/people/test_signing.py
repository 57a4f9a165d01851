"""Webhook signatures: both keys sign during a rotation; tampered bodies and stale timestamps fail."""

import pytest

from people import signing

BODY = b'{"event": "accepted"}'


@pytest.mark.parametrize(
    ("header_key", "verify_key", "body", "age", "ok"),
    [
        ("k1", "k1", BODY, 0, True),
        ("k1", "k2", BODY, 0, False),  # wrong key
        ("k1", "k1", BODY + b" ", 0, False),  # tampered body
        ("k1", "k1", BODY, 301, False),  # replayed after the tolerance
        ("k1", "k1", BODY, 299, True),
    ],
)
def test_verify(header_key, verify_key, body, age, ok):
    header = signing.signature_header(BODY, keys=[header_key], timestamp=1_700_000_000)
    assert signing.verify(header, body, key=verify_key, now=1_700_000_000 + age) is ok


def test_rotation_signs_with_both_keys():
    header = signing.signature_header(BODY, keys=["new", "old"], timestamp=1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and header.count("v1=") == 2
    for key in ("new", "old"):
        assert signing.verify(header, BODY, key=key, now=1_700_000_000)


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=00", "t=1700000000"])
def test_malformed_headers_are_refused(header):
    assert signing.verify(header, BODY, key="k1", now=1_700_000_000) is False


def test_organization_key_is_used(db):
    from people.models import OrganizationSettings
    from people.selectors import organization

    organization()
    OrganizationSettings.objects.filter(pk=1).update(webhook_signing_key="orgkey")
    header = signing.signature_header(BODY, timestamp=1_700_000_000)
    assert signing.verify(header, BODY, key="orgkey", now=1_700_000_000)
