"""Tombstone hashes: salted (never the value), derived from SECRET_KEY unless the salt is pinned."""

from __future__ import annotations

import hashlib
import hmac

from privacy import hashing


def test_the_digest_is_an_hmac_of_type_and_value_with_the_salt(settings):
    settings.PRIVACY_TOMBSTONE_SALT = "pinned-salt"
    expected = hmac.new(b"pinned-salt", b"email:ann@example.com", hashlib.sha256).hexdigest()
    assert hashing.digest("email", "ann@example.com") == expected
    assert hashing.digest("user_id", "ann@example.com") != expected  # the type is part of it


def test_without_a_pinned_salt_it_follows_the_secret_key(settings):
    settings.PRIVACY_TOMBSTONE_SALT = ""
    settings.SECRET_KEY = "key-one"
    one = hashing.digest("email", "ann@example.com")
    settings.SECRET_KEY = "key-two"
    assert hashing.digest("email", "ann@example.com") != one
    # pinning the salt derived from the old key keeps old tombstones valid after a rotation
    settings.SECRET_KEY = "key-one"
    settings.PRIVACY_TOMBSTONE_SALT = hashing.salt()
    settings.SECRET_KEY = "key-three"
    assert hashing.digest("email", "ann@example.com") == one
