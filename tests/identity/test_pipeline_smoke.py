from people.models import Event, Person
from tests.identity.conftest import person_of


def test_identify_then_track_makes_one_profile(ingest):
    # given
    ingest(
        {
            "type": "identify",
            "userId": "u1",
            "anonymousId": "a1",
            "traits": {"email": "Jane@Example.com", "plan": "pro"},
            "messageId": "m1",
        }
    )
    # when
    result = ingest({"type": "track", "userId": "u1", "event": "Signed Up", "messageId": "m2"})
    # then
    assert result.accepted == 1
    person = person_of("user_id", "u1")
    assert person == person_of("email", "jane@example.com") == person_of("anonymous_id", "a1")
    assert person.email == "jane@example.com"
    assert person.custom["plan"] == "pro"
    assert Person.objects.count() == 1
    assert Event.objects.filter(person=person).count() == 2
