CREATE TABLE "feedback_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"model_id" integer NOT NULL,
	"version_id" integer NOT NULL,
	"idempotency_key" text NOT NULL,
	"request_id" text,
	"example_external_id" text,
	"kind" text NOT NULL,
	"value" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"surface" text,
	"position" integer,
	"attributes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ingested_by" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "feedback_events" ADD CONSTRAINT "feedback_events_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feedback_events" ADD CONSTRAINT "feedback_events_version_id_model_versions_id_fk" FOREIGN KEY ("version_id") REFERENCES "public"."model_versions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "feedback_events_model_key_uq" ON "feedback_events" USING btree ("model_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "feedback_events_model_time_idx" ON "feedback_events" USING btree ("model_id","occurred_at");