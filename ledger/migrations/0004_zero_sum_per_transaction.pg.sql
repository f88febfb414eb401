-- The per-currency zero sum, checked once per transaction at COMMIT (was: once per entry).
--
-- A deferred constraint trigger on the transaction row fires once however many legs the
-- transaction has; it also refuses a transaction left with fewer than two entries (the
-- per-entry trigger could not see a transaction with none). Entries are only ever written
-- in the same database transaction as their transaction row; `ledger_verify` proves that
-- no entry was added to a transaction afterwards.
DROP TRIGGER IF EXISTS ledger_entry_zero_sum ON ledger_entry;
DROP FUNCTION IF EXISTS ledger_check_zero_sum();

CREATE OR REPLACE FUNCTION ledger_check_transaction_balanced() RETURNS trigger AS $$
DECLARE
    bad RECORD;
    legs integer;
BEGIN
    SELECT COUNT(*) INTO legs FROM ledger_entry WHERE transaction_id = NEW.id;
    IF legs < 2 THEN
        RAISE EXCEPTION 'ledger: transaction % has fewer than two entries', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT currency, SUM(debit) AS d, SUM(credit) AS c
      INTO bad
      FROM ledger_entry
     WHERE transaction_id = NEW.id
     GROUP BY currency
    HAVING SUM(debit) <> SUM(credit)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: transaction % does not balance in % (debits %, credits %)',
            NEW.id, bad.currency, bad.d, bad.c
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_transaction;
CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT ON ledger_transaction
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_transaction_balanced();
