import { defineConfig } from 'drizzle-kit';

// Migrations are generated from db/schema.ts and applied at start by db/index.ts (PGlite and PostgreSQL alike).
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema.ts',
  out: './db/migrations',
});
