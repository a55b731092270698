/**
 * Prints the custom search attribute names (workflows/names.ts), one a line, for scripts that register
 * them on a Temporal server of their own. Used by CI:  mapfile -t names < <(npx tsx temporal-config/searchAttributes.ts)
 */
import { SEARCH_ATTRIBUTES } from '../workflows/names';

process.stdout.write(Object.values(SEARCH_ATTRIBUTES).map((name) => `${name}\n`).join(''));
