-- The audit log is append-only (esfca/models/audit.py): rows are added, never changed or
-- removed, whoever asks. The app's database role cannot even try (it may only SELECT and
-- INSERT them: manage.py db_app_role); this stops the tables' owner too, short of dropping
-- the trigger, which audit_verify would then show in any row changed.
CREATE OR REPLACE FUNCTION esfca_audit_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit: % on % is not allowed; the audit log is append-only',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS esfca_auditevent_append_only ON esfca_auditevent;
CREATE TRIGGER esfca_auditevent_append_only
    BEFORE UPDATE OR DELETE ON esfca_auditevent
    FOR EACH ROW EXECUTE FUNCTION esfca_audit_refuse_change();

DROP TRIGGER IF EXISTS esfca_auditevent_no_truncate ON esfca_auditevent;
CREATE TRIGGER esfca_auditevent_no_truncate
    BEFORE TRUNCATE ON esfca_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION esfca_audit_refuse_change();
