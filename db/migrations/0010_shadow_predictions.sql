CREATE TABLE "shadow_predictions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model_id" integer NOT NULL,
	"version_id" integer NOT NULL,
	"request_id" text NOT NULL,
	"score" real NOT NULL,
	"decision" smallint NOT NULL,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "shadow_predictions" ADD CONSTRAINT "shadow_predictions_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shadow_predictions" ADD CONSTRAINT "shadow_predictions_version_id_model_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "shadow_predictions_model_version_request_uq" ON "shadow_predictions" USING btree ("model_id","version_id","request_id");--> statement-breakpoint
CREATE INDEX "shadow_predictions_version_time_idx" ON "shadow_predictions" USING btree ("version_id","occurred_at");