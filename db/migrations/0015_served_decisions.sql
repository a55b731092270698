ALTER TABLE "annotation_batches" ADD COLUMN "kind" text DEFAULT 'sample' NOT NULL;--> statement-breakpoint
ALTER TABLE "annotation_tasks" ADD COLUMN "request_id" text;--> statement-breakpoint
ALTER TABLE "annotation_tasks" ADD COLUMN "due_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "annotation_tasks" ADD COLUMN "created_at" timestamp with time zone DEFAULT now();--> statement-breakpoint
ALTER TABLE "dataset_snapshots" ADD COLUMN "label_mix" jsonb;--> statement-breakpoint
ALTER TABLE "examples" ADD COLUMN "label_selection" jsonb;--> statement-breakpoint
ALTER TABLE "model_versions" ADD COLUMN "decision_rule" jsonb;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "feedback_labels" jsonb;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "review_sla_seconds" integer DEFAULT 14400 NOT NULL;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "abstained" smallint DEFAULT 0 NOT NULL;