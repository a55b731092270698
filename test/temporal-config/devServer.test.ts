import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { findTemporalBinary, startDevServer, type DevServer } from '../../temporal-config/devServer';
import { connectionOptions, databaseLocation, dataDir, readSettings, readTemporalConfig } from '../../temporal-config/env';
import { SEARCH_ATTRIBUTES } from '../../workflows/names';

function portIsOpen(address: string): Promise<boolean> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const sock = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    const done = (open: boolean) => {
      sock.destroy();
      resolve(open);
    };
    sock.setTimeout(1000, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

describe('readTemporalConfig', () => {
  test('defaults: embedded dev server, namespace "default", no TLS', () => {
    assert.deepEqual({ ...readTemporalConfig({}) }, { address: undefined, namespace: 'default', tls: false });
  });

  test('a bad TEMPORAL_TLS value is rejected, naming the variable', () => {
    assert.throws(
      () => readTemporalConfig({ TEMPORAL_ADDRESS: 'temporal.example.com:7233', TEMPORAL_TLS: 'yes' }),
      (err: Error) => /TEMPORAL_TLS\b/.test(err.message) && /'true' or 'false'/.test(err.message),
    );
  });

  test('a malformed TEMPORAL_ADDRESS is rejected, naming the variable', () => {
    assert.throws(() => readTemporalConfig({ TEMPORAL_ADDRESS: 'http://x' }), /TEMPORAL_ADDRESS/);
  });

  test('an API key implies TLS and sends the namespace header', () => {
    const cfg = readTemporalConfig({
      TEMPORAL_ADDRESS: 'my-ns.a1b2c.tmprl.cloud:7233',
      TEMPORAL_NAMESPACE: 'my-ns.a1b2c',
      TEMPORAL_API_KEY: 'secret',
    });
    assert.equal(cfg.tls, true);
    assert.equal(cfg.apiKey, 'secret');
    const opts = connectionOptions(cfg, cfg.address!);
    assert.deepEqual(opts, {
      address: 'my-ns.a1b2c.tmprl.cloud:7233',
      tls: {},
      apiKey: 'secret',
      metadata: { 'temporal-namespace': 'my-ns.a1b2c' },
    });
  });

  test("an API key with TEMPORAL_TLS='false' is a contradiction", () => {
    assert.throws(
      () => readTemporalConfig({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }),
      /TEMPORAL_TLS/,
    );
  });

  test('remote-only settings without TEMPORAL_ADDRESS are rejected', () => {
    assert.throws(() => readTemporalConfig({ TEMPORAL_API_KEY: 'k' }), /TEMPORAL_API_KEY.*TEMPORAL_ADDRESS/);
  });

  test('mTLS: cert and key must come together; files are read into the TLS options', () => {
    assert.throws(() => readTemporalConfig({ TEMPORAL_ADDRESS: 'h:7233', TEMPORAL_TLS_CERT: '/x.pem' }), /TEMPORAL_TLS_KEY/);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retrain-tls-'));
    try {
      writeFileSync(path.join(dir, 'c.pem'), 'CERT');
      writeFileSync(path.join(dir, 'k.pem'), 'KEY');
      const cfg = readTemporalConfig({
        TEMPORAL_ADDRESS: 'h:7233',
        TEMPORAL_TLS_CERT: path.join(dir, 'c.pem'),
        TEMPORAL_TLS_KEY: path.join(dir, 'k.pem'),
        TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
      });
      assert.equal(cfg.tls, true);
      const opts = connectionOptions(cfg, 'h:7233');
      assert.equal(opts.tls?.serverNameOverride, 'temporal.internal');
      assert.equal(opts.tls?.clientCertPair?.crt.toString(), 'CERT');
      assert.equal(opts.tls?.clientCertPair?.key.toString(), 'KEY');
      assert.equal(opts.apiKey, undefined);
      assert.throws(
        () => connectionOptions({ ...cfg, clientCertPath: path.join(dir, 'missing.pem') }, 'h:7233'),
        /TEMPORAL_TLS_CERT/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('dataDir: RETRAIN_DATA_DIR or <repo>/.data', () => {
    assert.equal(dataDir({ RETRAIN_DATA_DIR: '/srv/retrain' }), '/srv/retrain');
    assert.equal(dataDir({}), path.resolve(import.meta.dirname, '../../.data'));
  });
});

describe('readSettings', () => {
  test('defaults: PGlite under the data folder, the default queues, one training thread per core, WARN', () => {
    const s = readSettings({});
    assert.equal(s.databaseUrl, undefined);
    assert.deepEqual(databaseLocation(s), { pgliteDir: path.join(dataDir({}), 'pg') });
    assert.deepEqual(s.taskQueues, { control: 'control', training: 'training' });
    assert.equal(s.trainingThreads, os.availableParallelism());
    assert.equal(s.temporalLogLevel, 'WARN');
    assert.equal(s.development, false);
    assert.equal(s.demoQuick, false);
  });

  test('set values are used; blank ones count as unset', () => {
    const s = readSettings({
      DATABASE_URL: 'postgres://u@db:5432/retrain',
      RETRAIN_CONTROL_QUEUE: 'control-a',
      RETRAIN_TRAINING_QUEUE: ' ',
      RETRAIN_TRAINING_THREADS: '3',
      TEMPORAL_LOG_LEVEL: 'debug',
      NODE_ENV: 'development',
      DEMO_QUICK: '1',
    });
    assert.deepEqual(databaseLocation(s), { url: 'postgres://u@db:5432/retrain' });
    assert.deepEqual(s.taskQueues, { control: 'control-a', training: 'training' });
    assert.equal(s.trainingThreads, 3);
    assert.equal(s.temporalLogLevel, 'DEBUG');
    assert.equal(s.development, true);
    assert.equal(s.demoQuick, true);
  });

  test('bad values are refused, naming each variable', () => {
    for (const [name, value] of [
      ['DATABASE_URL', 'mysql://db/retrain'],
      ['RETRAIN_TRAINING_THREADS', '0'],
      ['RETRAIN_TRAINING_THREADS', '2.5'],
      ['TEMPORAL_LOG_LEVEL', 'LOUD'],
      ['DEMO_QUICK', 'yes'],
    ] as const) {
      assert.throws(() => readSettings({ [name]: value }), (err: Error) => err.message.includes(`${name}: must be`), `${name}=${value}`);
    }
  });
});

describe('startDevServer', { timeout: 180_000 }, () => {
  let tmp: string;
  let server: DevServer | undefined;
  const logs: string[] = [];

  before(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'retrain-devserver-'));
    // Reuse (or install once into) the repo's .data rather than pip-installing into the temp dir.
    process.env.TEMPORAL_CLI_PATH ||= await findTemporalBinary({ dataDir: dataDir(), log: (m) => logs.push(m) });
  });

  after(async () => {
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('starts headless and in memory, with our search attributes; stop() closes the port', async () => {
    const t0 = Date.now();
    server = await startDevServer({ dataDir: tmp, dbFile: null, uiPort: null, log: (m) => logs.push(m) });
    const readyMs = Date.now() - t0;
    assert.match(server.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(server.uiUrl, null);
    assert.equal(server.namespace, 'default');
    assert.ok(readyMs < 60_000, `ready in ${readyMs} ms`);

    const conn = await Connection.connect({ address: server.address });
    try {
      const { customAttributes } = await conn.operatorService.listSearchAttributes({ namespace: server.namespace });
      const keyword = encodeSearchAttributeIndexedValueType('KEYWORD');
      for (const name of Object.values(SEARCH_ATTRIBUTES)) {
        assert.equal(customAttributes?.[name], keyword, `${name} registered as Keyword`);
      }
    } finally {
      await conn.close();
    }

    const address = server.address;
    assert.equal(await portIsOpen(address), true);
    await server.stop();
    server = undefined;
    assert.equal(await portIsOpen(address), false, 'port closed after stop()');
  });
});
