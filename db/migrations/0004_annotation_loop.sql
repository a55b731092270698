CREATE TABLE "aggregated_labels" (
	"task_id" bigint PRIMARY KEY NOT NULL,
	"batch_id" text NOT NULL,
	"example_id" integer NOT NULL,
	"label" smallint NOT NULL,
	"posterior" real NOT NULL,
	"majority_label" smallint,
	"method" text NOT NULL,
	"label_count" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "annotation_assignments" (
	"task_id" bigint NOT NULL,
	"annotator" text NOT NULL,
	"assigned_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"status" text DEFAULT 'assigned' NOT NULL,
	"adjudication" smallint DEFAULT 0 NOT NULL,
	CONSTRAINT "annotation_assignments_task_id_annotator_pk" PRIMARY KEY("task_id","annotator")
);
--> statement-breakpoint
CREATE TABLE "annotation_batches" (
	"id" text PRIMARY KEY NOT NULL,
	"run_id" text,
	"model_id" integer NOT NULL,
	"spec_version" integer NOT NULL,
	"overlap" integer NOT NULL,
	"gold_share" real NOT NULL,
	"design" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"deadline" timestamp with time zone NOT NULL,
	"sla" jsonb,
	"estimate" jsonb,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "annotation_specs" (
	"id" serial PRIMARY KEY NOT NULL,
	"model_id" integer NOT NULL,
	"version" integer NOT NULL,
	"guidelines" text NOT NULL,
	"labels" jsonb NOT NULL,
	"affects" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "annotation_tasks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"batch_id" text NOT NULL,
	"example_id" integer NOT NULL,
	"stratum" text NOT NULL,
	"inclusion_probability" real NOT NULL,
	"is_gold" smallint DEFAULT 0 NOT NULL,
	"gold_label" smallint,
	"requires" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"score" real
);
--> statement-breakpoint
CREATE TABLE "annotators" (
	"subject" text PRIMARY KEY NOT NULL,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"adjudicator" smallint DEFAULT 0 NOT NULL,
	"active" smallint DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "labels" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"task_id" bigint NOT NULL,
	"annotator" text NOT NULL,
	"label" smallint NOT NULL,
	"spec_version" integer NOT NULL,
	"adjudication" smallint DEFAULT 0 NOT NULL,
	"seconds_to_label" real,
	"superseded_by_spec" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "predictions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model_id" integer NOT NULL,
	"version_id" integer NOT NULL,
	"request_id" text NOT NULL,
	"example_external_id" text,
	"score" real NOT NULL,
	"decision" smallint NOT NULL,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"logged_by" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "examples" ADD COLUMN "label_source" text DEFAULT 'import' NOT NULL;--> statement-breakpoint
ALTER TABLE "aggregated_labels" ADD CONSTRAINT "aggregated_labels_task_id_annotation_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."annotation_tasks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "annotation_assignments" ADD CONSTRAINT "annotation_assignments_task_id_annotation_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."annotation_tasks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "annotation_batches" ADD CONSTRAINT "annotation_batches_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "annotation_specs" ADD CONSTRAINT "annotation_specs_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "annotation_tasks" ADD CONSTRAINT "annotation_tasks_batch_id_annotation_batches_id_fk" FOREIGN KEY ("batch_id") REFERENCES "public"."annotation_batches"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "labels" ADD CONSTRAINT "labels_task_id_annotation_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."annotation_tasks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "predictions" ADD CONSTRAINT "predictions_version_id_model_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "aggregated_labels_batch_idx" ON "aggregated_labels" USING btree ("batch_id");--> statement-breakpoint
CREATE UNIQUE INDEX "annotation_specs_model_version_uq" ON "annotation_specs" USING btree ("model_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "annotation_tasks_batch_example_uq" ON "annotation_tasks" USING btree ("batch_id","example_id");--> statement-breakpoint
CREATE INDEX "annotation_tasks_status_idx" ON "annotation_tasks" USING btree ("batch_id","status");--> statement-breakpoint
CREATE UNIQUE INDEX "labels_task_annotator_uq" ON "labels" USING btree ("task_id","annotator");--> statement-breakpoint
CREATE UNIQUE INDEX "predictions_model_request_uq" ON "predictions" USING btree ("model_id","request_id");--> statement-breakpoint
CREATE INDEX "predictions_model_time_idx" ON "predictions" USING btree ("model_id","occurred_at");