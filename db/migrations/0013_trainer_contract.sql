CREATE TABLE "artifacts" (
	"sha256" text PRIMARY KEY NOT NULL,
	"bytes" "bytea" NOT NULL,
	"size" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "score_sets" (
	"id" serial PRIMARY KEY NOT NULL,
	"job_key" text NOT NULL,
	"snapshot_id" integer NOT NULL,
	"split" text NOT NULL,
	"artifact_sha256" text NOT NULL,
	"version_id" integer,
	"expected_rows" integer NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"scores" "bytea",
	"content_hash" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	CONSTRAINT "score_sets_job_key_unique" UNIQUE("job_key")
);
--> statement-breakpoint
CREATE TABLE "trainers" (
	"name" text PRIMARY KEY NOT NULL,
	"version" text NOT NULL,
	"code_digest" text NOT NULL,
	"task_queue" text NOT NULL,
	"description" jsonb NOT NULL,
	"registered_by" text NOT NULL,
	"registered_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "model_versions" ALTER COLUMN "artifact" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "model_versions" ADD COLUMN "artifact_uri" text;--> statement-breakpoint
ALTER TABLE "model_versions" ADD COLUMN "artifact_size" integer;--> statement-breakpoint
ALTER TABLE "model_versions" ADD COLUMN "trainer_version" text;--> statement-breakpoint
ALTER TABLE "model_versions" ADD COLUMN "code_digest" text;--> statement-breakpoint
ALTER TABLE "model_versions" ADD COLUMN "trainer_queue" text;--> statement-breakpoint
ALTER TABLE "model_versions" ADD COLUMN "label_sources" jsonb;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "trainer_name" text DEFAULT 'builtin/hashed-logreg' NOT NULL;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "trainer_queue" text;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "trainer_params" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "trainer_time_to_start_seconds" integer DEFAULT 600 NOT NULL;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "feature_schema" jsonb;