import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { dialects, type TestStore } from '../helpers/databases.js';
import { runStoreWorker } from '../helpers/store-worker.js';
import { inTransaction, openStore } from '../../src/store/database.js';
import { AuditError, AuditLog, GENESIS_HASH } from '../../src/audit/audit-log.js';

const run = promisify(execFile);

async function appendMany(log: AuditLog, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    await log.append({
      actor: 'user:alice',
      action: i % 2 ? 'certificate.issue' : 'certificate.revoke',
      target: `serial-${i}`,
      details: { i },
    });
  }
}

describe.each(dialects)('$name', (d) => {
  async function withLog(fn: (store: TestStore, log: AuditLog) => Promise<void>): Promise<void> {
    const store = await d.open();
    try {
      await fn(store, new AuditLog(store));
    } finally {
      await store.cleanup();
    }
  }

  it('chains 50 records from the genesis hash and verifies them', () =>
    withLog(async (_store, log) => {
      await appendMany(log, 50);
      const all = await log.list({ limit: 1000 });
      expect(all.map((r) => r.seq)).toEqual(Array.from({ length: 50 }, (_, i) => BigInt(i + 1)));
      expect(all[0]!.prevHash).toBe(GENESIS_HASH);
      for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toBe(all[i - 1]!.hash);
      const progress: number[] = [];
      const result = await log.verify({ onProgress: (n) => progress.push(n), pageSize: 20 });
      expect(result).toEqual({ ok: true, count: 50, head: all[49]!.hash, headSeq: '50', problems: [] });
      expect(progress).toEqual([20, 40, 50]);
      expect(await log.headAnchor()).toEqual({ seq: 50n, hash: all[49]!.hash });
      // Paging and filtering.
      expect((await log.list({ afterSeq: 45n })).map((r) => r.seq)).toEqual([46n, 47n, 48n, 49n, 50n]);
      expect((await log.list({ action: 'certificate.revoke', limit: 3 })).map((r) => r.seq)).toEqual([
        2n,
        4n,
        6n,
      ]);
      expect((await log.list({ newestFirst: true, limit: 2 })).map((r) => r.seq)).toEqual([50n, 49n]);
      expect(all[9]).toMatchObject({
        actor: 'user:alice',
        action: 'certificate.revoke',
        target: 'serial-10',
        details: { i: 10 },
      });
    }));

  it('reports an edited record at its seq', () =>
    withLog(async (store, log) => {
      await appendMany(log, 50);
      await sql`update audit_log set details = ${'{"i":999}'} where seq = 17`.execute(store.db);
      const result = await log.verify();
      expect(result.ok).toBe(false);
      expect(result.problems).toEqual([
        { seq: '17', kind: 'edited', message: expect.stringContaining('does not match its hash') },
      ]);
    }));

  it('reports a record whose hash was recomputed after editing as a broken link', () =>
    withLog(async (store, log) => {
      await appendMany(log, 10);
      await sql`update audit_log set actor = 'user:mallory' where seq = 4`.execute(store.db);
      // Re-hash record 4 the way an informed attacker would; record 5 still names the old hash.
      const [r4] = await log.list({ afterSeq: 3n, limit: 1 });
      const forged = await rehash(r4!);
      await sql`update audit_log set hash = ${forged} where seq = 4`.execute(store.db);
      const result = await log.verify();
      expect(result.problems.map((p) => [p.seq, p.kind])).toEqual([['5', 'broken-link']]);
    }));

  it('reports a deleted record as removed', () =>
    withLog(async (store, log) => {
      await appendMany(log, 50);
      await sql`delete from audit_log where seq = 25`.execute(store.db);
      const result = await log.verify();
      expect(result.problems).toEqual([
        { seq: '26', kind: 'removed', message: 'record(s) 25 missing before seq 26' },
      ]);
      expect(result.count).toBe(49);
    }));

  it('reports two records whose seqs were swapped as reordered', () =>
    withLog(async (store, log) => {
      await appendMany(log, 50);
      await sql`update audit_log set seq = -1 where seq = 30`.execute(store.db);
      await sql`update audit_log set seq = 30 where seq = 31`.execute(store.db);
      await sql`update audit_log set seq = 31 where seq = -1`.execute(store.db);
      const result = await log.verify();
      expect(result.problems).toEqual([
        { seq: '30', kind: 'reordered', message: 'record stored at seq 30 was written as seq 31' },
        { seq: '31', kind: 'reordered', message: 'record stored at seq 31 was written as seq 30' },
      ]);
    }));

  it('detects tail truncation only against a recorded anchor', () =>
    withLog(async (store, log) => {
      await appendMany(log, 50);
      const anchor = (await log.headAnchor())!;
      expect((await log.verify({ expectedHead: anchor })).ok).toBe(true);
      await sql`delete from audit_log where seq > 47`.execute(store.db);
      expect((await log.verify()).ok).toBe(true); // a shorter chain is still a valid chain…
      const result = await log.verify({ expectedHead: { seq: anchor.seq.toString(), hash: anchor.hash } });
      expect(result.ok).toBe(false); // …but not the one the operator anchored
      expect(result.problems).toEqual([
        {
          seq: '50',
          kind: 'removed',
          message: 'the log ends at seq 47 but the anchor records seq 50: records were cut from the tail',
        },
      ]);
    }));

  it('keeps a valid chain under concurrent appends from two stores', () =>
    withLog(async (store, log) => {
      const other = await openStore(store.connectionUrl);
      try {
        const log2 = new AuditLog(other);
        await Promise.all(
          Array.from({ length: 60 }, (_, i) =>
            (i % 2 ? log : log2).append({ actor: 'a', action: 'concurrent', details: { i } }),
          ),
        );
        const result = await log.verify();
        expect(result).toMatchObject({ ok: true, count: 60, headSeq: '60' });
      } finally {
        await other.close();
      }
    }));

  it('keeps a valid chain under appends from two other processes', () =>
    withLog(async (store, log) => {
      await Promise.all([
        runStoreWorker(['audit', store.connectionUrl, '60']),
        runStoreWorker(['audit', store.connectionUrl, '60']),
      ]);
      const result = await log.verify();
      expect(result).toMatchObject({ ok: true, count: 120 });
      const actors = new Set((await log.list({ limit: 1000 })).map((r) => r.actor));
      expect(actors.size).toBe(2);
    }));

  it('commits with the caller’s transaction and disappears with its rollback', () =>
    withLog(async (store, log) => {
      await inTransaction(store, async (trx) => {
        await trx.insertInto('settings').values({ name: 'issued', value: '1' }).execute();
        await log.append({ actor: 'ca', action: 'certificate.issue', target: '01' }, trx);
      });
      await expect(
        inTransaction(store, async (trx) => {
          await log.append({ actor: 'ca', action: 'certificate.issue', target: '02' }, trx);
          throw new Error('signing failed');
        }),
      ).rejects.toThrow('signing failed');
      const records = await log.list();
      expect(records.map((r) => r.target)).toEqual(['01']);
      expect((await log.verify()).ok).toBe(true);
    }));

  it('never stores secrets in details', () =>
    withLog(async (store, log) => {
      const rec = await log.append({
        actor: 'admin',
        action: 'pkcs11.configure',
        details: {
          module: '/usr/lib/softhsm/libsofthsm2.so',
          pin: '1234',
          pinFile: '/etc/pin',
          nested: { password: 'hunter2', privateKey: 'MIIE…', keyId: 'k1' },
        },
      });
      expect(rec.details).toEqual({
        module: '/usr/lib/softhsm/libsofthsm2.so',
        pin: '[REDACTED]',
        pinFile: '/etc/pin',
        nested: { password: '[REDACTED]', privateKey: '[REDACTED]', keyId: 'k1' },
      });
      const raw = await store.db.selectFrom('audit_log').select('details').executeTakeFirstOrThrow();
      expect(raw.details).not.toMatch(/1234|hunter2|MIIE/);
    }));

  it('stores bigint and bytes in readable JSON form and refuses malformed events', () =>
    withLog(async (_store, log) => {
      const rec = await log.append({
        actor: 'tsa',
        action: 'key.use',
        details: { serial: 2n ** 70n, digest: Buffer.from([0xab, 0xcd]), at: new Date(0), skip: undefined },
      });
      expect(rec.details).toEqual({
        serial: '1180591620717411303424',
        digest: 'abcd',
        at: '1970-01-01T00:00:00.000Z',
      });
      await expect(log.append({ actor: '', action: 'x' })).rejects.toThrow(AuditError);
      await expect(log.append({ actor: 'a', action: 'x', details: { n: NaN } })).rejects.toThrow(
        /details: NaN cannot be represented/,
      );
      await expect(
        log.append({ actor: 'a', action: 'x', details: { big: 'x'.repeat(70_000) } }),
      ).rejects.toThrow(/exceed/);
      expect((await log.verify()).count).toBe(1);
    }));
});

/** Recompute a record's hash the way the log does (used to play an attacker who re-hashes). */
async function rehash(r: {
  seq: bigint;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  prevHash: string;
}): Promise<string> {
  const { canonicalJson } = await import('../../src/audit/canonical-json.js');
  const { createHash } = await import('node:crypto');
  const text = canonicalJson({
    seq: r.seq.toString(),
    at: r.at,
    actor: 'user:mallory',
    action: r.action,
    target: r.target,
    details: r.details,
    prevHash: r.prevHash,
  });
  return createHash('sha256').update(text).digest('hex');
}

describe('independent check of the chain', () => {
  it('python3 recomputes every hash and link from the stored rows', async () => {
    const python = await run('python3', ['--version']).catch(() => undefined);
    if (!python) {
      if (process.env.CI === 'true') throw new Error('python3 is required for the audit chain oracle in CI');
      console.warn('python3 not found: skipping the independent audit chain check');
      return;
    }
    const store = await dialects[0]!.open();
    try {
      const log = new AuditLog(store);
      await log.append({
        actor: 'user:ålice',
        action: 'ca.init',
        target: 'issuing',
        details: { org: 'Bank AG', n: 3, nested: { b: [1, 'x', null, true], a: 'é' } },
      });
      await log.append({ actor: 'system', action: 'crl.issue', details: {} });
      await log.append({
        actor: 'system',
        action: 'key.use',
        target: 'k1',
        details: { count: 12, first: '100', last: '111' },
      });
      const rows = await store.db.selectFrom('audit_log').selectAll().orderBy('seq').execute();
      // RFC 8785 and Python's sort_keys/compact separators agree for this content (integers, BMP text).
      const script = `
import hashlib, json, sys
rows = json.load(sys.stdin)
prev = "0" * 64
for r in rows:
    rec = {"seq": str(r["seq"]), "at": r["at"], "actor": r["actor"], "action": r["action"],
           "target": r["target"], "details": json.loads(r["details"]), "prevHash": r["prev_hash"]}
    text = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    h = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert r["prev_hash"] == prev, ("link", r["seq"])
    assert h == r["hash"], ("hash", r["seq"], text)
    prev = h
print("ok", len(rows))
`;
      const child = execFile('python3', ['-c', script]);
      const out = new Promise<string>((resolve, reject) => {
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('exit', (code) => (code === 0 ? resolve(stdout.trim()) : reject(new Error(stderr))));
      });
      child.stdin!.end(JSON.stringify(rows));
      expect(await out).toBe('ok 3');
    } finally {
      await store.cleanup();
    }
  });
});

describe.each(dialects)('append throughput ($name)', (d) => {
  it('measures sequential appends per second (reported, not asserted)', async () => {
    const store = await d.open();
    try {
      const log = new AuditLog(store);
      const n = d.name === 'sqlite' ? 2000 : 500;
      const start = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        await log.append({
          actor: 'ca',
          action: 'certificate.issue',
          target: `${i}`,
          details: { profile: 'smime-signing', email: 'a@example.com' },
        });
      }
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      console.log(`audit log: ${Math.round(n / seconds)} appends/s on ${d.name} (${n} sequential appends)`);
      expect((await log.verify()).count).toBe(n);
    } finally {
      await store.cleanup();
    }
  });
});
