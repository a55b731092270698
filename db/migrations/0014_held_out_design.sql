ALTER TABLE "dataset_snapshots" ADD COLUMN "held_out_design" jsonb;--> statement-breakpoint
ALTER TABLE "dataset_snapshots" ADD COLUMN "as_of" timestamp with time zone;