CREATE TABLE "saturation_points" (
	"id" serial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"variant" text NOT NULL,
	"fraction" real NOT NULL,
	"seed" integer NOT NULL,
	"train_size" integer NOT NULL,
	"error" jsonb NOT NULL,
	"slice_errors" jsonb NOT NULL,
	"wrong_rows" jsonb NOT NULL,
	"held_out" integer NOT NULL,
	"seconds" real NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "saturation_reports" (
	"id" serial PRIMARY KEY NOT NULL,
	"run_id" text NOT NULL,
	"model_id" integer NOT NULL,
	"snapshot_id" integer NOT NULL,
	"verdict" text NOT NULL,
	"report" jsonb NOT NULL,
	"content_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "saturation_reports_run_id_unique" UNIQUE("run_id")
);
--> statement-breakpoint
ALTER TABLE "saturation_reports" ADD CONSTRAINT "saturation_reports_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "saturation_points_uq" ON "saturation_points" USING btree ("run_id","variant","fraction","seed");