-- Credit and refund notes: corrections of an invoice after its e-invoice can
-- no longer be cancelled. A note takes units back from the developer's
-- quota in the transaction that issues it (a ledger adjustment naming the
-- note) and is priced at the invoice's quotation: its unit prices, discount
-- rate and SST rate. Numbers are gapless per kind and year (CN-, RN-).
CREATE TABLE invoice_notes (
    id              BIGSERIAL PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL CHECK (kind IN ('credit_note', 'refund_note')),
    invoice_number  TEXT NOT NULL REFERENCES invoices (number),
    reason          TEXT NOT NULL,
    subtotal_sen    BIGINT NOT NULL,
    discount_rate_bp BIGINT NOT NULL,
    discount_sen    BIGINT NOT NULL,
    tax_rate_bp     BIGINT NOT NULL,
    tax_sen         BIGINT NOT NULL,
    total_sen       BIGINT NOT NULL,
    issued_on       TEXT NOT NULL,
    issued_by       TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX invoice_notes_by_invoice ON invoice_notes (invoice_number);

CREATE TABLE invoice_note_lines (
    note_id         BIGINT NOT NULL REFERENCES invoice_notes (id),
    product_code    TEXT NOT NULL,
    units           BIGINT NOT NULL CHECK (units > 0),
    unit_price_sen  BIGINT NOT NULL,
    amount_sen      BIGINT NOT NULL,
    PRIMARY KEY (note_id, product_code)
);

-- Notes are documents (rendered, stored, served like the invoice).
ALTER TABLE documents DROP CONSTRAINT documents_kind_check;
ALTER TABLE documents ADD CONSTRAINT documents_kind_check
    CHECK (kind IN ('quotation', 'invoice', 'delivery_order', 'credit_note', 'refund_note'));

-- Notes are e-invoices too: the row names an invoice or a note.
ALTER TABLE e_invoices DROP CONSTRAINT e_invoices_invoice_number_fkey;
ALTER TABLE e_invoices RENAME COLUMN invoice_number TO document_number;
