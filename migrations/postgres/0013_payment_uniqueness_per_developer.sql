-- A PO number, transfer reference or proof document is unique within one
-- developer's payments, not across companies: company A could learn of, and
-- block, company B's PO number.
ALTER TABLE payments ADD COLUMN developer_id BIGINT REFERENCES developers (id);
UPDATE payments p SET developer_id = r.developer_id FROM quota_requests r WHERE r.id = p.request_id;
ALTER TABLE payments ALTER COLUMN developer_id SET NOT NULL;
ALTER TABLE payments DROP CONSTRAINT payments_method_reference_key;
ALTER TABLE payments DROP CONSTRAINT payments_document_sha256_key;
ALTER TABLE payments ADD CONSTRAINT payments_developer_method_reference_key UNIQUE (developer_id, method, reference);
ALTER TABLE payments ADD CONSTRAINT payments_developer_document_key UNIQUE (developer_id, document_sha256);
