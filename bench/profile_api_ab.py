"""In-process A/B of the Profile API's CPU per request: ``python -m bench.profile_api_ab OLD.py``.

Runs on whatever database ``DATABASE_URL`` names (demo data is enough: ``manage.py load_demo``). ``OLD.py``
is an earlier ``identity/api/profiles.py`` (e.g. ``git show <commit>:identity/api/profiles.py > /tmp/old.py``)
loaded beside the current one; both are called with the same ``RequestFactory`` requests (no server, no
middleware), alternating blocks of requests so a busy shared machine slows both alike. The old side
also reads computed traits and looks the identifier up the way the code did before issue 13 (it
passes the ``Person`` to ``identity.selectors.profile_traits``, which then reads each trait source
apart; the current ``traits`` view reads the profile and its traits in one statement). For a change
beyond ``profiles.py``, compare two checkouts with ``python -m bench profile profile_api`` instead.
Prints CPU ms (process time) and wall ms per request and queries per request for each, and the
median ratio.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _load(path: str):
    spec = importlib.util.spec_from_file_location("old_profiles", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(old_path: str, rounds: int = 8, block: int = 200) -> None:
    import django

    django.setup()
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from identity.api import profiles
    from identity.models import Identity
    from identity.services import access_token_create

    old = _load(old_path)
    token = access_token_create(name="ab").raw
    rows = list(
        Identity.objects.filter(type__key__in=["user_id", "email"]).values_list("type__key", "value")[:200]
    )
    factory = RequestFactory()
    paths = [
        f"/v1/spaces/ab/collections/users/profiles/{t}:{v}/traits?verbose=true"
        if i % 2
        else f"/v1/spaces/ab/collections/users/profiles/{t}:{v}/traits"
        for i, (t, v) in enumerate(rows)
    ]
    requests = [
        (factory.get(p, HTTP_AUTHORIZATION=f"Bearer {token}"), p.split("/profiles/")[1].split("/")[0])
        for p in paths
    ]
    old_view = (getattr(old, "TraitsView", None) or old.TraitsSchema).as_view()

    def run_old(request, identifier):
        response = old_view(request, space="ab", identifier=identifier)
        response.render()
        return response

    def run_new(request, identifier):
        return profiles.traits_view(request, space="ab", identifier=identifier)

    # The "old" side also reads computed traits the way the earlier code did (two queries, a model per
    # active attribute), when the current computed app has the one-query reader.
    from identity.extensions import trait_sources

    new_source = trait_sources.get("computed_trait")
    old_source = new_source
    if new_source is not None:
        from computed import selectors as computed_selectors

        class OldSource:  # what ``identity.selectors.profile_traits`` calls for a Person: ``read``
            cls, label = new_source.cls, new_source.label

            def read(self, person):
                rows = computed_selectors.person_values(
                    person_id=person.pk, states=(computed_selectors.State.ACTIVE,)
                )
                return {k: {"value": r["value"], "updated_at": r["computed_at"]} for k, r in rows.items()}

        old_source = OldSource()

    # ... and looks the identifier up through the ORM (compiled per call), as it did.
    from identity import selectors as identity_selectors
    from identity.policy import InvalidIdentifier, Policy

    new_lookup = identity_selectors.person_by_identifier

    def old_lookup(*, type_key, value):
        policy = Policy.cached().get(type_key)
        if policy is None:
            return None
        try:
            normalised = policy.normalize(value)
        except InvalidIdentifier:
            return None
        found = Identity.objects.select_related("person").filter(type_id=policy.id, value=normalised).first()
        person = found.person if found else None
        while person is not None and person.merged_into_id:
            person = person.merged_into
        return person

    def use(name):
        if new_source is not None:
            trait_sources["computed_trait"] = old_source if name == "old" else new_source
        identity_selectors.person_by_identifier = old_lookup if name == "old" else new_lookup

    results = {"old": [], "new": []}
    walls = {"old": [], "new": []}
    queries = {}
    for name, fn in (("old", run_old), ("new", run_new)):  # warm-up and status check
        use(name)
        for request, identifier in requests[:20]:
            assert fn(request, identifier).status_code == 200, name
        with CaptureQueriesContext(connection) as ctx:
            fn(*requests[0])
        queries[name] = len(ctx.captured_queries)
    for r in range(rounds):
        order = (("old", run_old), ("new", run_new)) if r % 2 == 0 else (("new", run_new), ("old", run_old))
        for name, fn in order:
            use(name)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for i in range(block):
                fn(*requests[i % len(requests)])
            results[name].append((time.process_time() - cpu0) * 1000 / block)
            walls[name].append((time.perf_counter() - wall0) * 1000 / block)
    for name in ("old", "new"):
        print(
            f"{name}: CPU {statistics.median(results[name]):.2f} ms/request "
            f"(rounds {', '.join(f'{x:.2f}' for x in results[name])}), "
            f"wall {statistics.median(walls[name]):.2f} ms, {queries[name]} queries"
        )
    print(f"CPU ratio new/old: {statistics.median(results['new']) / statistics.median(results['old']):.2f}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(a) for a in sys.argv[2:]))
