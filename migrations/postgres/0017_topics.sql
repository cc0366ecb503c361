-- Topics: named groups of stored recipients a send can address as one
-- (`"to": [{"topic": "key"}]`). A send to a topic is fanned out in the
-- background by a row in `deliveries` of channel `fanout`, which keeps its
-- place (the last recipient id reached) in `content`.
CREATE TABLE topics (
    key         TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Who is subscribed. The primary key is the order a fan-out walks a
-- topic in (keyset pages by recipient id); `created_at` is when the
-- recipient subscribed: a send reaches those subscribed when it was
-- accepted. Deleting a recipient or a topic deletes its subscriptions.
CREATE TABLE topic_subscriptions (
    topic      TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (topic, recipient)
);
CREATE INDEX topic_subscriptions_recipient ON topic_subscriptions (recipient, topic);
