ALTER TABLE "api_tokens" ADD COLUMN "issued_by_token_id" integer;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "requested_by_token_id" integer;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_issued_by_token_id_api_tokens_id_fk" FOREIGN KEY ("issued_by_token_id") REFERENCES "public"."api_tokens"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_requested_by_token_id_api_tokens_id_fk" FOREIGN KEY ("requested_by_token_id") REFERENCES "public"."api_tokens"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
-- Subjects are canonical (db/tokens canonicalSubject: NFKC, trimmed, lower case), so 'Operator1' and
-- 'operator1' are one identity. Tokens made through the API were ASCII already; this folds their case.
UPDATE "api_tokens" SET "subject" = lower(normalize(btrim("subject"), NFKC)) WHERE "subject" <> lower(normalize(btrim("subject"), NFKC));
--> statement-breakpoint
-- A stored judgement and its approval packet are immutable, as audit_log is: what an approver read and
-- signed cannot be changed afterwards by any client of the database, the application's role included.
CREATE OR REPLACE FUNCTION gate_results_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND NEW IS NOT DISTINCT FROM OLD THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'gate_results is immutable (the judgement and approval packet an approver signs): % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER gate_results_no_update_delete BEFORE UPDATE OR DELETE ON gate_results
  FOR EACH ROW EXECUTE FUNCTION gate_results_refuse_change();
--> statement-breakpoint
CREATE TRIGGER gate_results_no_truncate BEFORE TRUNCATE ON gate_results
  FOR EACH STATEMENT EXECUTE FUNCTION gate_results_refuse_change();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION approvals_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'approvals is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER approvals_no_update_delete BEFORE UPDATE OR DELETE ON approvals
  FOR EACH ROW EXECUTE FUNCTION approvals_refuse_change();
--> statement-breakpoint
CREATE TRIGGER approvals_no_truncate BEFORE TRUNCATE ON approvals
  FOR EACH STATEMENT EXECUTE FUNCTION approvals_refuse_change();
