-- Receipts from providers and the suppression list.
--
-- A receipt (a Twilio status callback, a SendGrid or Postmark event) is
-- kept beside the delivery's attempts: which source said what, the
-- status it meant and whether it moved the delivery (a late or repeated
-- receipt is recorded but moves nothing). Receipts name missive's own
-- delivery id, so no index on the deliveries table is needed to find it.
CREATE TABLE delivery_receipts (
    id          TEXT PRIMARY KEY,        -- UUIDv7: in the order received
    delivery_id TEXT NOT NULL,
    source      TEXT NOT NULL,           -- twilio | sendgrid | postmark
    event       TEXT NOT NULL,           -- the provider's word: delivered, bounce, HardBounce ...
    status      TEXT,                    -- the status it means, if any
    moved       INTEGER NOT NULL,        -- 1 if it changed the delivery's status
    detail      TEXT NOT NULL,           -- the provider's words, first 4 KiB
    received_at INTEGER NOT NULL
);
CREATE INDEX delivery_receipts_delivery ON delivery_receipts (delivery_id, id);

-- Addresses not to send to again: per channel (email lower-cased, phone
-- as given), with why (bounced | complained), the provider's words and the
-- delivery whose receipt put it here (none when added by hand).
CREATE TABLE suppressions (
    channel     TEXT NOT NULL,
    address     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    source      TEXT NOT NULL,           -- twilio | sendgrid | postmark | api | console
    detail      TEXT NOT NULL,
    delivery_id TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (channel, address)
) WITHOUT ROWID;

-- Retention purges finished deliveries by updated_at: the statuses
-- receipts move a delivery to are finished too.
DROP INDEX deliveries_updated;
CREATE INDEX deliveries_updated ON deliveries (updated_at)
    WHERE status IN ('sent', 'failed', 'suppressed', 'cancelled', 'delivered',
                     'undelivered', 'bounced', 'complained');
