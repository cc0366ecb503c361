import base64
import re

import pytest

from missive_client import (
    Missive,
    MissiveError,
    WebhookVerificationError,
    verify_webhook,
)


@pytest.fixture
def client(live):
    with Missive(live.base_url, live.admin_key) as c:
        yield c


def test_template_send_and_signed_webhook_that_verifies(client, live, receiver):
    saved = client.put_template(
        "order-shipped",
        {"name": "Order shipped", "channels": {"webhook": {"body": '{"order": {{json order_id}} }'}}},
    )
    assert saved.version == 1

    sent = client.send(
        {
            "template": "order-shipped",
            "to": [{"webhook_url": f"{receiver.url}/hooks/order"}],
            "data": {"order_id": 1001},
        }
    )
    assert len(sent.accepted.deliveries) == 1
    delivery_id = sent.accepted.deliveries[0].id
    receiver.wait_for(1)
    hook = next(r for r in receiver.received if r.path == "/hooks/order")
    assert hook.headers["webhook-id"] == delivery_id

    assert verify_webhook(live.signing_secret, hook.body, hook.headers) == {"order": 1001}
    with pytest.raises(WebhookVerificationError):
        verify_webhook(live.signing_secret, b'{"order": 1002 }', hook.headers)
    other = "whsec_" + base64.b64encode(bytes([7] * 32)).decode()
    with pytest.raises(WebhookVerificationError):
        verify_webhook(other, hook.body, hook.headers)

    assert client.get_delivery(delivery_id).id == delivery_id


def test_idempotency_key_given_or_generated_makes_a_retry_a_replay(client, receiver):
    request = {
        "content": {"webhook": {"body": '{"n": 1}'}},
        "to": [{"webhook_url": f"{receiver.url}/hooks/idem"}],
    }
    first = client.send_idempotent(request)
    assert re.fullmatch(r"[0-9a-f-]{36}", first.idempotency_key or "")
    assert not first.replayed
    again = client.send_idempotent(request, first.idempotency_key)
    assert again.replayed
    assert again.accepted.id == first.accepted.id

    explicit = client.send(request, idempotency_key="order-7-shipped")
    assert not explicit.replayed
    assert explicit.accepted.id != first.accepted.id

    # Without a key, nothing is replayed.
    plain = [client.send(request), client.send(request)]
    assert [p.replayed for p in plain] == [False, False]
    assert plain[0].accepted.id != plain[1].accepted.id


def test_delivery_log_paged_through_with_the_iterator(client, receiver):
    to = [{"webhook_url": f"{receiver.url}/hooks/page-{i}"} for i in range(5)]
    sent = client.send({"content": {"webhook": {"body": "{}"}}, "to": to}).accepted
    ids = sorted(d.id for d in sent.deliveries)
    assert len(ids) == 5

    first = client.delivery_page(notification=sent.id, limit=2)
    assert len(first.items) == 2
    assert isinstance(first.next_cursor, str), "more than one page"

    seen = [d.id for d in client.deliveries(notification=sent.id, limit=2)]
    assert sorted(seen) == ids

    everything = list(client.deliveries(limit=3))
    assert len({d.id for d in everything}) == len(everything) >= 5


def test_bad_input_is_a_missive_error_naming_the_field(client, live):
    with pytest.raises(MissiveError) as e:
        client.send({"content": {"webhook": {"body": "{}"}}, "to": [{"webhook_url": "not a url"}]})
    err = e.value
    assert err.status == 422
    assert err.type == "urn:missive:problem:invalid-input"
    assert err.title == "Invalid input"
    assert err.detail
    assert err.field("to[0].webhook_url") is not None, err.errors

    with pytest.raises(MissiveError) as e:
        client.delivery_page(limit=0)
    assert e.value.status == 422
    assert e.value.field("limit") is not None, e.value.errors

    with Missive(live.base_url, "msv_not_a_key") as stranger, pytest.raises(MissiveError) as e:
        stranger.delivery_page()
    assert e.value.status == 401
    assert e.value.errors == []
