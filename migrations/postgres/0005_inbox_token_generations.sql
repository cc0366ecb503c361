-- Recipient tokens carry the generation they were signed with; one older
-- than the recipient's current generation is refused. Deleting a
-- recipient (or revoking its tokens) raises it. Rows outlive the
-- recipient on purpose: a recipient made again with the same id must not
-- revive the tokens issued before. No row means generation 0.
CREATE TABLE inbox_token_generations (
    recipient  TEXT PRIMARY KEY,
    generation BIGINT NOT NULL
);
