-- A document produced again (an invoice once its e-invoice is valid, with
-- the QR code of its validation link): the earlier version's bytes stay in
-- the blob store and are named here; `documents` holds the current one.
CREATE TABLE superseded_documents (
    id            BIGSERIAL PRIMARY KEY,
    number        TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size_bytes    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    superseded_at BIGINT NOT NULL
);
CREATE INDEX superseded_documents_by_number ON superseded_documents (number);
