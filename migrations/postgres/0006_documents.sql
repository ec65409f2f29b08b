-- Issued documents: rendered once, stored in the blob store by SHA-256, and
-- served as the same bytes ever after. A revision is a new document.

CREATE TABLE documents (
    number       TEXT PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('quotation', 'invoice', 'delivery_order')),
    request_id   BIGINT NOT NULL REFERENCES quota_requests (id),
    sha256       TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX documents_by_request ON documents (request_id);
