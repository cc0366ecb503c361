-- A recipient's devices for the push channel: a browser's Web Push
-- subscription (endpoint and its p256dh / auth keys), or an app's FCM or
-- APNs token. The id is derived from the recipient and the endpoint or
-- token, so subscribing the same browser again replaces its keys rather
-- than adding a second device. Deleting a recipient deletes its devices
-- (in the same transaction as its profile).
CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    recipient  TEXT NOT NULL,
    kind       TEXT NOT NULL,          -- webpush, fcm, apns
    endpoint   TEXT,                   -- webpush
    p256dh     TEXT,                   -- webpush: base64url, 65 bytes
    auth       TEXT,                   -- webpush: base64url, 16 bytes
    token      TEXT,                   -- fcm, apns
    platform   TEXT,
    app        TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX devices_recipient ON devices (recipient, created_at);
