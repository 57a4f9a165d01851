"""Every delivery moves a person's ``last_contacted_at`` (the client API's ``/v1/actions`` at most once
a minute per person and channel, tracked sends through ingestion), and with an index on that column
each of those updates was a new row version in all 13 indexes of ``people_person`` (5 of them GIN),
never HOT (``n_tup_hot_upd`` stayed 0 at size M). Without it the update stays in its page (the table
keeps 20% of each page free, migration 0008).

What the index served, measured at size M (1M people, 286k contacted): the admin's and the API's
"last contacted" filters list people newest first with a limit (the admin's paginator counts
nothing), and PostgreSQL took the primary key backwards and filtered either way (1.0–1.6 ms for a
page of 100 when 3% match); only a count over the whole table used it (3–26 ms with it, 220 ms
without), and nothing counts. Audience activation and refresh are set-based (a scan or the person's
own row), computed attributes read the person's row. The per-channel filters read
``people_personchannelcontact``, whose unique ``(person, channel)`` index stays. Measured in
docs/actions.md (At size M)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("people", "0001_squashed_0010_pending_change_event_names")]

    operations = [migrations.RemoveIndex(model_name="person", name="person_last_contacted_idx")]
