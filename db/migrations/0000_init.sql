CREATE TABLE "api_tokens" (
	"id" serial PRIMARY KEY NOT NULL,
	"subject" text NOT NULL,
	"role" text NOT NULL,
	"token_hash" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "approvals" (
	"id" serial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"decision" text NOT NULL,
	"approver" text NOT NULL,
	"reason" text NOT NULL,
	"report_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "approvals_run_id_unique" UNIQUE("run_id")
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"target" text NOT NULL,
	"details" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "dataset_snapshot_members" (
	"snapshot_id" integer NOT NULL,
	"example_id" integer NOT NULL,
	"split" text NOT NULL,
	"label" smallint NOT NULL,
	"weight" real DEFAULT 1 NOT NULL,
	CONSTRAINT "dataset_snapshot_members_snapshot_id_example_id_pk" PRIMARY KEY("snapshot_id","example_id")
);
--> statement-breakpoint
CREATE TABLE "dataset_snapshots" (
	"id" serial PRIMARY KEY NOT NULL,
	"model_id" integer NOT NULL,
	"run_id" text NOT NULL,
	"content_hash" text NOT NULL,
	"train_count" integer NOT NULL,
	"heldout_count" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "dataset_snapshots_run_id_unique" UNIQUE("run_id")
);
--> statement-breakpoint
CREATE TABLE "deployment_events" (
	"id" serial PRIMARY KEY NOT NULL,
	"model_id" integer NOT NULL,
	"action" text NOT NULL,
	"from_version_id" integer,
	"to_version_id" integer NOT NULL,
	"run_id" text,
	"actor" text NOT NULL,
	"reason" text DEFAULT '' NOT NULL,
	"idempotency_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deployment_events_idempotency_key_unique" UNIQUE("idempotency_key")
);
--> statement-breakpoint
CREATE TABLE "eval_reports" (
	"id" serial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"version_id" integer NOT NULL,
	"snapshot_id" integer NOT NULL,
	"role" text NOT NULL,
	"summary" jsonb NOT NULL,
	"content_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "examples" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model_id" integer NOT NULL,
	"external_id" text NOT NULL,
	"input" jsonb NOT NULL,
	"label" smallint,
	"slices" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"split" text NOT NULL,
	"observed_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gate_results" (
	"id" serial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"policy" jsonb NOT NULL,
	"decision" text NOT NULL,
	"rules" jsonb NOT NULL,
	"reasons" jsonb NOT NULL,
	"candidate_report_id" integer,
	"champion_report_id" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "gate_results_run_id_unique" UNIQUE("run_id")
);
--> statement-breakpoint
CREATE TABLE "model_versions" (
	"id" serial PRIMARY KEY NOT NULL,
	"model_id" integer NOT NULL,
	"version" integer NOT NULL,
	"status" text DEFAULT 'candidate' NOT NULL,
	"trainer" text NOT NULL,
	"params" jsonb NOT NULL,
	"artifact" "bytea" NOT NULL,
	"artifact_hash" text NOT NULL,
	"snapshot_id" integer,
	"parent_version_id" integer,
	"run_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"status_changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "model_versions_run_id_unique" UNIQUE("run_id")
);
--> statement-breakpoint
CREATE TABLE "models" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"gate_policy" jsonb,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "models_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "routes" (
	"model_id" integer NOT NULL,
	"kind" text NOT NULL,
	"version_id" integer NOT NULL,
	"weight" real DEFAULT 1 NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "routes_model_id_kind_pk" PRIMARY KEY("model_id","kind")
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" text PRIMARY KEY NOT NULL,
	"model_id" integer NOT NULL,
	"trigger" text NOT NULL,
	"requested_by" text NOT NULL,
	"status" text DEFAULT 'running' NOT NULL,
	"step" text DEFAULT 'started' NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"candidate_version_id" integer,
	"gate_decision" text,
	"result" jsonb,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "dataset_snapshot_members" ADD CONSTRAINT "dataset_snapshot_members_snapshot_id_dataset_snapshots_id_fk" FOREIGN KEY ("snapshot_id") REFERENCES "public"."dataset_snapshots"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "dataset_snapshots" ADD CONSTRAINT "dataset_snapshots_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_events" ADD CONSTRAINT "deployment_events_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "eval_reports" ADD CONSTRAINT "eval_reports_version_id_model_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "eval_reports" ADD CONSTRAINT "eval_reports_snapshot_id_dataset_snapshots_id_fk" FOREIGN KEY ("snapshot_id") REFERENCES "public"."dataset_snapshots"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "examples" ADD CONSTRAINT "examples_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gate_results" ADD CONSTRAINT "gate_results_candidate_report_id_eval_reports_id_fk" FOREIGN KEY ("candidate_report_id") REFERENCES "public"."eval_reports"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gate_results" ADD CONSTRAINT "gate_results_champion_report_id_eval_reports_id_fk" FOREIGN KEY ("champion_report_id") REFERENCES "public"."eval_reports"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "model_versions" ADD CONSTRAINT "model_versions_snapshot_id_dataset_snapshots_id_fk" FOREIGN KEY ("snapshot_id") REFERENCES "public"."dataset_snapshots"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "routes" ADD CONSTRAINT "routes_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "routes" ADD CONSTRAINT "routes_version_id_model_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "runs_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_target_idx" ON "audit_log" USING btree ("target");--> statement-breakpoint
CREATE UNIQUE INDEX "eval_reports_run_version_uq" ON "eval_reports" USING btree ("run_id","version_id");--> statement-breakpoint
CREATE UNIQUE INDEX "examples_model_external_uq" ON "examples" USING btree ("model_id","external_id");--> statement-breakpoint
CREATE UNIQUE INDEX "model_versions_model_version_uq" ON "model_versions" USING btree ("model_id","version");--> statement-breakpoint
CREATE INDEX "runs_model_idx" ON "runs" USING btree ("model_id","started_at");