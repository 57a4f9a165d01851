"""Cached reads follow the services that change their rows, in this process and in the others."""

import pytest
from django.core.exceptions import ValidationError

from people import caching, services
from people.models import OrganizationSettings
from people.selectors import organization

LOCAL_MEMORY = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture
def shared_cache(settings):
    """A real cache (the test settings use a dummy one), as a Redis cache shared by processes."""
    settings.CACHES = LOCAL_MEMORY
    from django.core.cache import cache

    cache.clear()
    yield cache
    cache.clear()


@pytest.mark.django_db
def test_organization_settings_changed_by_the_service_are_read_at_once(
    shared_cache, django_capture_on_commit_callbacks
):
    # given the settings read (and so cached) once
    assert organization().timezone != "Asia/Seoul"
    # when the service changes the timezone (and the transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        services.organization_settings_update(organization=organization(), name="Acme", timezone="Asia/Seoul")
    # then the next read sees the change
    assert (organization().name, organization().timezone) == ("Acme", "Asia/Seoul")


@pytest.mark.django_db
def test_organization_settings_written_around_the_service_stay_cached_for_a_minute(shared_cache):
    # given the settings read once, then changed by a raw UPDATE (no service)
    organization()
    OrganizationSettings.objects.update(name="Changed behind its back")
    # then the cached copy is still served (the honest limit of the cache)
    assert organization().name != "Changed behind its back"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"timezone": "Mars/Olympus"}, "Unknown timezone 'Mars/Olympus'."),
        ({"timezone": ""}, "This field cannot be blank."),
        ({"name": ""}, "This field cannot be blank."),
        ({"name": "x" * 201}, "Ensure this value has at most 200 characters (it has 201)."),
    ],
)
def test_bad_organization_settings_are_refused_with_a_reason(fields, error):
    before = organization()
    with pytest.raises(ValidationError) as caught:
        services.organization_settings_update(organization=organization(), **fields)
    assert error in caught.value.messages
    stored = OrganizationSettings.objects.get(pk=before.pk)
    assert (stored.name, stored.timezone) == (before.name, before.timezone)


@pytest.mark.django_db
def test_a_change_reaches_another_process_through_the_shared_version(
    shared_cache, django_capture_on_commit_callbacks
):
    # given two processes' caches of the same rows (sharing Django's cache, as with Redis)
    rows = {"plan": "v1"}
    here = caching.ProcessCache("test-rows", seconds=60)
    elsewhere = caching.ProcessCache("test-rows", seconds=60)
    assert here.get("k", lambda: rows["plan"]) == "v1"
    assert elsewhere.get("k", lambda: rows["plan"]) == "v1"
    # when the rows change and this process's service says so (and its transaction commits)
    rows["plan"] = "v2"
    with django_capture_on_commit_callbacks(execute=True):
        here.changed()
    # then both processes reload, and keep the new value
    assert here.get("k", lambda: rows["plan"]) == "v2"
    assert elsewhere.get("k", lambda: rows["plan"]) == "v2"
    rows["plan"] = "v3"
    assert elsewhere.get("k", lambda: rows["plan"]) == "v2"


@pytest.mark.django_db
def test_without_a_shared_cache_other_processes_reload_after_the_time_limit(monkeypatch):
    # given two processes' caches with per-process Django caches (the test settings' dummy cache)
    clock = [1000.0]
    monkeypatch.setattr(caching.time, "monotonic", lambda: clock[0])
    rows = {"plan": "v1"}
    here = caching.ProcessCache("test-ttl", seconds=10)
    elsewhere = caching.ProcessCache("test-ttl", seconds=10)
    here.get("k", lambda: rows["plan"])
    elsewhere.get("k", lambda: rows["plan"])
    # when the rows change
    rows["plan"] = "v2"
    here.changed()
    # then this process sees it at once, the other after the time limit
    assert here.get("k", lambda: rows["plan"]) == "v2"
    assert elsewhere.get("k", lambda: rows["plan"]) == "v1"
    clock[0] += 10.5
    assert elsewhere.get("k", lambda: rows["plan"]) == "v2"
