// `retrain tokens recover-admin`: a new admin token when every admin token is lost, written straight into
// the database by someone who can reach it (local-only: no API call, no existing token needed). It
// prints the new token and nothing else secret: existing tokens are stored as hashes and never shown.
import os from 'node:os';
import type { Command } from 'commander';
import { DataDirLockedError, describeHolder, openDb } from '../../db/index';
import { recoverAdminToken } from '../../db/tokens';
import { databaseLocation } from '../../temporal-config/env';

/** Adds `recover-admin` under the `tokens` command. */
export function registerRecoverAdmin(tokens: Command): void {
  tokens
    .command('recover-admin')
    .description(
      "issue a NEW admin token for subject 'admin' straight into the database (DATABASE_URL, or the embedded PGlite folder while no server holds it) and record it in the audit log; prints only the new token",
    )
    .option('--revoke-others', 'revoke every other active admin token (when one may have leaked)', false)
    .action(async (o: { revokeOthers: boolean }) => {
      let opened;
      try {
        opened = await openDb(databaseLocation());
      } catch (err) {
        if (!(err instanceof DataDirLockedError)) throw err;
        // PGlite is one process's: a token written beside a running server would never reach it.
        const h = err.holder;
        throw new Error(
          `tokens recover-admin refused: the embedded database ${err.dir} is in use by ${describeHolder(h)}; a token written here would not reach it.\n` +
            `  Stop that server (kill ${h.pid}) and run this again, or set RETRAIN_ADMIN_TOKEN to a new secret ('rt_' + 32 or more base64url characters) and restart it: that secret is then an admin token.`,
        );
      }
      try {
        const actor = `cli:${os.userInfo().username}@${os.hostname()}`;
        const recovered = await recoverAdminToken(opened.db, { revokeOthers: o.revokeOthers, actor });
        process.stderr.write(
          `new admin token ${recovered.id} for subject 'admin' (shown once; recorded in the audit log)` +
            (o.revokeOthers ? `; revoked ${recovered.revoked.length} other admin token(s)${recovered.revoked.length ? `: ${recovered.revoked.join(', ')}` : ''}` : '') +
            '\n',
        );
        process.stdout.write(`${JSON.stringify({ id: recovered.id, subject: recovered.subject, role: 'admin', token: recovered.token, revokedTokenIds: recovered.revoked }, null, 2)}\n`);
      } finally {
        await opened.close();
      }
    });
}
