-- A document produced again (an invoice once its e-invoice is valid, with
-- the QR code of its validation link): the earlier version's bytes stay in
-- the blob store and are named here; `documents` holds the current one.
CREATE TABLE superseded_documents (
    id            INTEGER PRIMARY KEY,
    number        TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    superseded_at INTEGER NOT NULL
);
CREATE INDEX superseded_documents_by_number ON superseded_documents (number);
