// Prepared queries for the lookups every API request makes (its token, its model, the model's routes, the
// audit row of a mutation). Two savings, same SQL and same rows:
// - drizzle builds a query's SQL text anew on every call; a prepared query is built once per database
//   handle (kept here, beside the handle, for as long as the handle lives);
// - on PostgreSQL, drizzle sends an unprepared query with parameters to postgres.js unnamed, which then
//   takes two round trips (Parse/Describe, wait for the parameter types, then Bind/Execute); a prepared
//   one is a named statement, described once per connection and then one round trip. Only fixed SQL
//   texts are prepared here (a statement stays on its connection for the connection's life).
const perHandle = new WeakMap<object, Map<string, unknown>>();

/** The query `build` prepares on `db` (a database or a transaction), built on first use and kept per handle under `name`. */
export function prepared<T>(db: object, name: string, build: () => T): T {
  let queries = perHandle.get(db);
  if (!queries) perHandle.set(db, (queries = new Map()));
  let query = queries.get(name) as T | undefined;
  if (query === undefined) queries.set(name, (query = build()));
  return query;
}
