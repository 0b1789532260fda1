-- +goose Up
-- Billing documents and the double-entry ledger. Money is INTEGER
-- millionths of a unit; timestamps are TEXT in the fixed-width UTC form of
-- store/time.go; the days of a document (issued_on, due_on) are midnight
-- UTC of the vendor's day, like the calendar days of subscriptions.

-- Document numbers are gapless per vendor and type (INV-000001,
-- CM-000001 …): the next number is taken inside the transaction that
-- issues the document (the row stays locked until it commits), so a
-- refused or rolled-back document uses no number.
CREATE TABLE document_counters (
    vendor_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type      TEXT NOT NULL,
    next      INTEGER NOT NULL,
    PRIMARY KEY (vendor_id, type)
);

-- Documents a vendor issues to a buyer (account_id). total is signed as
-- its effect on what the buyer owes: invoices and refunds positive, credit
-- memos and payments negative, adjustments either. body holds the lines
-- (order.Line JSON) and, for payments, the method. Only invoices have a
-- status of their own; every other document is 'n/a'.
CREATE TABLE documents (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    vendor_id      INTEGER NOT NULL REFERENCES accounts(id),
    account_id     INTEGER NOT NULL REFERENCES accounts(id),
    type           TEXT NOT NULL CHECK (type IN ('invoice', 'credit_memo', 'payment', 'refund', 'adjustment')),
    number         TEXT NOT NULL,
    status         TEXT NOT NULL CHECK ((type = 'invoice' AND status IN ('open', 'paid', 'void'))
                                        OR (type <> 'invoice' AND status = 'n/a')),
    currency       TEXT NOT NULL,
    total          INTEGER NOT NULL,
    issued_on      TEXT NOT NULL,
    due_on         TEXT,
    order_id       INTEGER REFERENCES orders(id),
    body           TEXT NOT NULL,
    reverse_charge INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL
);
CREATE UNIQUE INDEX documents_number ON documents (vendor_id, number);
CREATE INDEX documents_account ON documents (account_id, vendor_id, id);
CREATE INDEX documents_vendor ON documents (vendor_id, id);
CREATE INDEX documents_order ON documents (order_id);
-- Open invoices of a buyer, oldest first, for payments (FIFO).
CREATE INDEX documents_open ON documents (account_id, vendor_id, issued_on, id) WHERE type = 'invoice' AND status = 'open';

-- The ledger: each document posts a pair of equal and opposite entries,
-- the buyer's side (account_id = the buyer) and the vendor's receivable
-- side (account_id = the vendor). The balance of a buyer towards its
-- vendor is the sum of its buyer-side entries, never a stored number.
CREATE TABLE ledger_entries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL REFERENCES documents(id),
    account_id  INTEGER NOT NULL REFERENCES accounts(id),
    vendor_id   INTEGER NOT NULL REFERENCES accounts(id),
    side        TEXT NOT NULL CHECK (side IN ('buyer', 'vendor')),
    amount      INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX ledger_entries_account ON ledger_entries (account_id, vendor_id);
CREATE INDEX ledger_entries_document ON ledger_entries (document_id);

-- +goose Down
DROP TABLE ledger_entries;
DROP TABLE documents;
DROP TABLE document_counters;
