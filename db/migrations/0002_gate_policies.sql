CREATE TABLE "gate_policies" (
	"id" serial PRIMARY KEY NOT NULL,
	"model_id" integer NOT NULL,
	"version" integer NOT NULL,
	"document" jsonb NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "gate_results" ALTER COLUMN "policy" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "gate_results" ADD COLUMN "policy_version" integer;--> statement-breakpoint
ALTER TABLE "gate_results" ADD COLUMN "packet" jsonb;--> statement-breakpoint
ALTER TABLE "gate_results" ADD COLUMN "packet_hash" text;--> statement-breakpoint
ALTER TABLE "gate_policies" ADD CONSTRAINT "gate_policies_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "gate_policies_model_version_uq" ON "gate_policies" USING btree ("model_id","version");--> statement-breakpoint
-- Carry skeleton-era policies over as version 1 of the new document (overall FPR bound, no accuracy
-- regression, human sign-off), so no model silently loses its gate.
INSERT INTO "gate_policies" ("model_id", "version", "document", "created_by")
SELECT "id", 1, jsonb_build_object(
  'schemaVersion', 1,
  'description', 'converted from the skeleton gate policy',
  'minSliceSupport', coalesce(("gate_policy"->>'minSliceSupport')::int, 30),
  'confidence', 0.95,
  'rules', jsonb_build_array(
    jsonb_build_object('kind', 'bound', 'id', 'overall-fpr', 'metric', 'fpr', 'slices', 'overall', 'max', ("gate_policy"->>'maxOverallFpr')::float8, 'onFail', 'block'),
    jsonb_build_object('kind', 'no_regression', 'id', 'accuracy-vs-champion', 'metric', 'accuracy', 'slices', 'overall', 'margin', ("gate_policy"->>'maxAccuracyRegression')::float8, 'onFail', 'block'),
    jsonb_build_object('kind', 'human_approval', 'id', 'sign-off', 'reason', 'policy requires a human sign-off')
  )), "created_by"
FROM "models" WHERE "gate_policy" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "models" DROP COLUMN "gate_policy";