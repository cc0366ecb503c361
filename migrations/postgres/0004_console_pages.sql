-- The overview's queue depth counts waiting deliveries by status and finds
-- the oldest due one; this index holds only waiting rows and answers it
-- without reading the table.
CREATE INDEX deliveries_waiting ON deliveries (status, due_at)
    WHERE status IN ('queued', 'scheduled', 'retrying', 'sending');

-- The delivery log filtered by channel, newest first. Without it a channel
-- with few (or no) deliveries reads the whole log from the newest end.
CREATE INDEX deliveries_channel ON deliveries (channel, id);

-- Status and channel together: the overview links every cell of its
-- status × channel table to the log filtered so. Neither index alone serves
-- a rare status on a busy channel (three `sending` among 400,000 email
-- deliveries read through the channel index, or the other way round).
CREATE INDEX deliveries_status_channel ON deliveries (status, channel, id);
