ALTER TABLE "aggregated_labels" ADD COLUMN "dawid_skene_label" smallint;--> statement-breakpoint
ALTER TABLE "annotation_assignments" ADD COLUMN "lapses" smallint DEFAULT 0 NOT NULL;