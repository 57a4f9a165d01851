"""Lifecycle: draft → processing (job with progress) → active, disabled; duplicate; delete guards."""

import pytest
from django.core.exceptions import ValidationError

from computed import extensions, selectors, services
from computed.models import ComputedAttribute, ComputedValue
from people.models import AttributeDefinition, Job

State = ComputedAttribute.State
COUNT = {"function": "count", "event": "Order Completed"}


def test_create_makes_a_draft(db, admin_user):
    # when created
    attribute = services.computed_attribute_create(
        key="orders", name="Orders", kind="aggregate", definition=COUNT, created_by=admin_user
    )
    # then it is a draft with its output type
    assert attribute.state == State.DRAFT
    assert attribute.output_type == "integer"
    assert attribute.created_by == admin_user


@pytest.mark.parametrize("key", ["email", "event_count", "plan"])
def test_key_is_unique_among_all_attributes(db, key):
    # given a custom attribute "plan" (and the standard/system ones)
    AttributeDefinition.objects.create(key="plan", label="Plan", type="text")
    # when a computed attribute takes an existing key / then it is refused
    with pytest.raises(ValidationError) as caught:
        services.computed_attribute_create(key=key, name="x", kind="aggregate", definition=COUNT)
    assert "key" in caught.value.message_dict


def test_key_is_unique_among_computed_attributes(db):
    services.computed_attribute_create(key="orders", name="Orders", kind="aggregate", definition=COUNT)
    with pytest.raises(ValidationError):
        services.computed_attribute_create(key="orders", name="Orders", kind="aggregate", definition=COUNT)


def test_drafts_are_editable_active_ones_are_not(make_person, make_event):
    # given a draft
    attribute = services.computed_attribute_create(
        key="orders", name="Orders", kind="aggregate", definition=COUNT
    )
    # when edited / then the change is saved
    services.computed_attribute_update(
        attribute=attribute, name="All orders", definition={**COUNT, "event": "Buy"}
    )
    assert ComputedAttribute.objects.get(pk=attribute.pk).definition["event"] == "Buy"
    # when activated / then editing is refused
    services.activate(attribute)
    with pytest.raises(ValidationError, match="duplicate"):
        services.computed_attribute_update(attribute=attribute, name="x")


def test_activation_runs_as_a_job_with_progress(
    make_person, make_event, admin_user, django_capture_on_commit_callbacks
):
    # given a person with orders and a draft
    person = make_person()
    make_event(person, "Order Completed")
    attribute = services.computed_attribute_create(
        key="orders", name="Orders", kind="aggregate", definition=COUNT
    )
    # when activation starts / then it is processing with a job
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = services.computed_attribute_activate(attribute=attribute, user=admin_user)
    attribute.refresh_from_db()
    assert attribute.state == State.PROCESSING
    assert attribute.job == job
    # when the job runs (django-q2 synchronous in tests) / then it is active with 100 % progress
    for callback in callbacks:
        callback()
    attribute.refresh_from_db()
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.progress_percent == 100
    assert job.progress_done == job.progress_total == 1
    assert attribute.state == State.ACTIVE
    assert attribute.activated_by == admin_user
    assert attribute.activated_at is not None
    assert ComputedValue.objects.get(attribute=attribute, person=person).number == 1
    # and running the job again does nothing harmful
    from people.jobs import run

    assert run(job.pk) == "already claimed"


def test_activation_job_is_safe_to_run_twice(make_person, make_event):
    # given an attribute being activated
    person = make_person()
    make_event(person, "Order Completed")
    attribute = services.computed_attribute_create(
        key="orders", name="Orders", kind="aggregate", definition=COUNT
    )
    ComputedAttribute.objects.filter(pk=attribute.pk).update(state=State.PROCESSING)
    # when the job runs, then the value is computed and the attribute is active
    services.run_activation([attribute.pk])
    first = ComputedValue.objects.get(attribute=attribute)
    attribute.refresh_from_db()
    assert (attribute.state, first.number) == (State.ACTIVE, 1)
    activated_at = attribute.activated_at
    # when the job runs again (a retry) after another order was stored
    make_event(person, "Order Completed")
    services.run_activation([attribute.pk])
    # then the second run did nothing: the active attribute is not recomputed or re-activated
    again = ComputedValue.objects.get(attribute=attribute)
    attribute.refresh_from_db()
    assert (again.number, again.computed_at) == (1, first.computed_at)
    assert attribute.activated_at == activated_at


def test_formula_needs_its_computed_inputs_active(db):
    # given a draft aggregate and a formula over... it cannot even reference a draft
    services.computed_attribute_create(key="orders", name="Orders", kind="aggregate", definition=COUNT)
    with pytest.raises(ValidationError, match="unknown attribute 'orders'"):
        services.computed_attribute_create(
            key="f", name="F", kind="formula", definition={"formula": "orders + 1"}
        )


def test_disable_keeps_values_and_stops_updates(make_person, make_event):
    # given an active aggregate with a value
    person = make_person()
    make_event(person, "Order Completed")
    attribute = services.activate(
        services.computed_attribute_create(key="orders", name="Orders", kind="aggregate", definition=COUNT)
    )
    # when disabled and a new event arrives
    services.computed_attribute_disable(attribute=attribute)
    make_event(person, "Order Completed")
    services.refresh_person(person.pk)
    # then the old value stays
    assert ComputedValue.objects.get(attribute=attribute, person=person).number == 1
    assert ComputedAttribute.objects.get(pk=attribute.pk).state == State.DISABLED
    # and it can be activated again (recomputed)
    services.activate(attribute)
    assert ComputedValue.objects.get(attribute=attribute, person=person).number == 2


def test_disable_refuses_a_draft(db):
    attribute = services.computed_attribute_create(
        key="orders", name="Orders", kind="aggregate", definition=COUNT
    )
    with pytest.raises(ValidationError):
        services.computed_attribute_disable(attribute=attribute)


def test_duplicate_creates_an_editable_draft(make_person):
    # given an active attribute
    attribute = services.activate(
        services.computed_attribute_create(key="orders", name="Orders", kind="aggregate", definition=COUNT)
    )
    # when duplicated
    copy = services.computed_attribute_duplicate(attribute=attribute)
    # then the copy is an editable draft with the same definition
    assert (copy.key, copy.state, copy.definition) == ("orders_copy", State.DRAFT, COUNT)
    assert services.computed_attribute_duplicate(attribute=attribute).key == "orders_copy2"
    services.computed_attribute_update(attribute=copy, definition={**COUNT, "exclude": "first"})


def test_delete_is_refused_while_used_and_lists_users(make_person, make_event):
    # given an aggregate used by a formula
    orders = services.activate(
        services.computed_attribute_create(key="orders", name="Orders", kind="aggregate", definition=COUNT)
    )
    formula = services.computed_attribute_create(
        key="double_orders", name="Double", kind="formula", definition={"formula": "orders * 2"}
    )
    # when the aggregate is deleted / then it is refused, naming the user
    assert selectors.where_used(orders) == ["computed attribute 'double_orders' (draft)"]
    with pytest.raises(ValidationError, match="double_orders"):
        services.computed_attribute_delete(attribute=orders)
    # when the user goes first / then deletion works and removes the values
    services.computed_attribute_delete(attribute=formula)
    person = make_person()
    make_event(person, "Order Completed")
    services.refresh_person(person.pk)
    assert ComputedValue.objects.filter(attribute=orders).exists()
    services.computed_attribute_delete(attribute=orders)
    assert not ComputedValue.objects.exists()
    assert not ComputedAttribute.objects.exists()


def test_usage_finders_of_higher_apps_block_deletion(db, monkeypatch):
    # given an audience app that reports a use
    attribute = services.computed_attribute_create(
        key="orders", name="Orders", kind="aggregate", definition=COUNT
    )
    monkeypatch.setattr(extensions, "usage_finders", [])
    extensions.register_usage_finder(lambda a: [f"audience 'buyers' uses {a.key}"])
    # then deletion is refused
    with pytest.raises(ValidationError, match="buyers"):
        services.computed_attribute_delete(attribute=attribute)


def test_delete_refused_while_processing(db):
    attribute = services.computed_attribute_create(
        key="orders", name="Orders", kind="aggregate", definition=COUNT
    )
    ComputedAttribute.objects.filter(pk=attribute.pk).update(state=State.PROCESSING)
    with pytest.raises(ValidationError, match="processing"):
        services.computed_attribute_delete(attribute=attribute)


def test_failed_activation_returns_to_draft_with_the_error(db, monkeypatch):
    attribute = services.computed_attribute_create(
        key="orders", name="Orders", kind="aggregate", definition=COUNT
    )

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(services.sql, "simple_pass", boom)
    with pytest.raises(RuntimeError):
        services.activate(attribute)
    attribute.refresh_from_db()
    assert attribute.state == State.DRAFT
    assert attribute.error_count == 1
    assert "disk full" in attribute.last_error


def test_recomputing_stamps_the_value_not_the_profile(make_person, make_event):
    # given an active aggregate
    person = make_person()
    modified = person.modified_at
    make_event(person, "Order Completed")
    attribute = services.activate(
        services.computed_attribute_create(key="orders", name="Orders", kind="aggregate", definition=COUNT)
    )
    first = ComputedValue.objects.get(attribute=attribute).computed_at
    # when recomputed after a change
    make_event(person, "Order Completed")
    services.refresh_person(person.pk)
    # then the value's own time moved, the profile's modified time did not
    value = ComputedValue.objects.get(attribute=attribute)
    assert value.number == 2 and value.computed_at > first
    person.refresh_from_db()
    assert person.modified_at == modified
    # and an unchanged value is not rewritten
    services.refresh_person(person.pk)
    assert ComputedValue.objects.get(attribute=attribute).computed_at == value.computed_at


def test_deleting_a_person_deletes_their_values(make_person, make_event):
    # given a person with a stored value
    person = make_person()
    make_event(person, "Order Completed")
    services.activate(
        services.computed_attribute_create(key="orders", name="Orders", kind="aggregate", definition=COUNT)
    )
    assert ComputedValue.objects.filter(person=person).count() == 1
    # when the person is deleted / then the value goes too
    person.delete()
    assert not ComputedValue.objects.exists()
