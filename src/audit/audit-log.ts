/**
 * The audit log: append-only and hash-chained. Record n stores SHA-256 over the canonical JSON of
 * {seq, at, actor, action, target, details, prevHash}, where prevHash is record n-1's hash (64 zeros for
 * record 1). Editing, deleting or reordering records breaks the chain, and verify() says where.
 *
 * The chain is not keyed: someone with write access to the database could rewrite every record after
 * the one they changed. Anchors close that gap: operators copy headAnchor() elsewhere (a ticket, a
 * timestamped mail) and verify({ expectedHead }) checks the log still contains exactly that record,
 * which also reveals records cut from the tail.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Transaction } from 'kysely';
import type { Database } from '../store/schema.js';
import type { Store } from '../store/database.js';
import { inTransaction } from '../store/database.js';
import { nowIso } from '../store/time.js';
import { redactSecrets } from '../util/redact.js';
import { canonicalJson, CanonicalJsonError, RawJson } from './canonical-json.js';

export interface AuditEvent {
  actor: string;
  action: string;
  target?: string;
  details?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEvent, 'target'>> {
  seq: bigint;
  at: string;
  target: string | null;
  prevHash: string;
  hash: string;
}

export interface AuditAnchor {
  seq: bigint;
  hash: string;
}

export type AuditProblemKind = 'edited' | 'removed' | 'reordered' | 'broken-link';

export interface AuditProblem {
  seq: string;
  kind: AuditProblemKind;
  message: string;
}

export interface AuditVerifyOptions {
  /** Called after each page with the number of records checked so far. */
  onProgress?: (done: number) => void;
  /** An anchor recorded earlier: the log must still hold this exact record. */
  expectedHead?: { seq: bigint | string; hash: string };
  /** Records read per query (memory bound). Default 1000. */
  pageSize?: number;
}

export interface AuditVerifyResult {
  ok: boolean;
  count: number;
  /** Hash of the last record. */
  head?: string;
  headSeq?: string;
  problems: AuditProblem[];
  /** Problems found beyond the first 1000 (not listed). */
  omittedProblems?: number;
}

export class AuditError extends Error {
  override name = 'AuditError';
}

export const GENESIS_HASH = '0'.repeat(64);

/** PostgreSQL transaction-scoped advisory lock that serialises appenders on every node. */
const PG_APPEND_LOCK = 'sealpost:audit_log';
const MAX_ACTOR = 256;
const MAX_ACTION = 128;
const MAX_TARGET = 1024;
const MAX_DETAILS_BYTES = 64 * 1024;
const MAX_PROBLEMS = 1000;
/** How far from its position verify() looks for the seq a moved record was written with. */
const REORDER_WINDOW = 64;
const RECENT_HASHES = 4096;

type AuditRow = {
  seq: string | number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  details: string;
  prev_hash: string;
  hash: string;
};

export class AuditLog {
  constructor(private readonly store: Store) {}

  /**
   * Append one record. Secret-named fields in details (password, pin, passphrase, privateKey…) are
   * replaced by "[REDACTED]". Pass the caller's transaction to commit the record atomically with the
   * change it describes; appends are serialised across processes (PostgreSQL advisory transaction
   * lock; SQLite's write lock, taken at BEGIN IMMEDIATE).
   */
  async append(e: AuditEvent, trx?: Transaction<Database>): Promise<AuditRecord> {
    const event = normalizeEvent(e);
    if (trx) return this.appendIn(trx, event);
    return inTransaction(this.store, (t) => this.appendIn(t, event));
  }

  private async appendIn(trx: Transaction<Database>, e: NormalizedEvent): Promise<AuditRecord> {
    if (this.store.dialect === 'postgres') {
      await sql`select pg_advisory_xact_lock(hashtext(${PG_APPEND_LOCK}))`.execute(trx);
    }
    const head = await trx
      .selectFrom('audit_log')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const seq = head ? BigInt(head.seq) + 1n : 1n;
    const prevHash = head?.hash ?? GENESIS_HASH;
    const at = nowIso();
    const hash = recordHash({
      seq,
      at,
      actor: e.actor,
      action: e.action,
      target: e.target,
      details: e.detailsJson,
      prevHash,
    });
    await trx
      .insertInto('audit_log')
      .values({
        seq: seq.toString(),
        at,
        actor: e.actor,
        action: e.action,
        target: e.target,
        details: e.detailsJson,
        prev_hash: prevHash,
        hash,
      })
      .execute();
    return {
      seq,
      at,
      actor: e.actor,
      action: e.action,
      target: e.target,
      details: e.details,
      prevHash,
      hash,
    };
  }

  /** Records in order of seq (oldest first unless newestFirst). */
  async list(
    opts: {
      afterSeq?: bigint;
      beforeSeq?: bigint;
      limit?: number;
      action?: string;
      newestFirst?: boolean;
    } = {},
  ): Promise<AuditRecord[]> {
    const limit = Math.max(1, Math.min(Math.trunc(opts.limit ?? 100), 1000));
    let q = this.store.db.selectFrom('audit_log').selectAll();
    if (opts.afterSeq !== undefined) q = q.where('seq', '>', opts.afterSeq.toString());
    if (opts.beforeSeq !== undefined) q = q.where('seq', '<', opts.beforeSeq.toString());
    if (opts.action !== undefined) q = q.where('action', '=', opts.action);
    const rows = await q
      .orderBy('seq', opts.newestFirst ? 'desc' : 'asc')
      .limit(limit)
      .execute();
    return rows.map(toRecord);
  }

  /** The newest record's seq and hash, for operators to keep outside the database; null when empty. */
  async headAnchor(): Promise<AuditAnchor | null> {
    const row = await this.store.db
      .selectFrom('audit_log')
      .select(['seq', 'hash'])
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { seq: BigInt(row.seq), hash: row.hash } : null;
  }

  /**
   * Walk the whole chain in pages (memory stays bounded) and report every record that was edited,
   * removed or moved, and every broken link. Tail truncation is only visible against an anchor.
   */
  async verify(arg?: ((done: number) => void) | AuditVerifyOptions): Promise<AuditVerifyResult> {
    const opts: AuditVerifyOptions = typeof arg === 'function' ? { onProgress: arg } : (arg ?? {});
    const pageSize = Math.max(1, Math.min(opts.pageSize ?? 1000, 10_000));
    const checker = new ChainChecker(opts.expectedHead);
    let after: string | undefined;
    for (;;) {
      let q = this.store.db.selectFrom('audit_log').selectAll();
      if (after !== undefined) q = q.where('seq', '>', after);
      const rows = await q.orderBy('seq', 'asc').limit(pageSize).execute();
      for (const row of rows) checker.check(row);
      opts.onProgress?.(checker.count);
      if (rows.length < pageSize) break;
      after = String(rows[rows.length - 1]!.seq);
    }
    return checker.finish();
  }
}

// ---------------------------------------------------------------------------------------------------

interface NormalizedEvent {
  actor: string;
  action: string;
  target: string | null;
  details: Record<string, unknown>;
  detailsJson: string;
}

function normalizeEvent(e: AuditEvent): NormalizedEvent {
  const actor = requireText('actor', e.actor, MAX_ACTOR);
  const action = requireText('action', e.action, MAX_ACTION);
  const target =
    e.target === undefined || e.target === null ? null : requireText('target', e.target, MAX_TARGET);
  if (
    e.details !== undefined &&
    (e.details === null || typeof e.details !== 'object' || Array.isArray(e.details))
  ) {
    throw new AuditError(`audit event '${action}': details must be an object`);
  }
  let detailsJson: string;
  try {
    detailsJson = canonicalJson(toJsonValue(redactSecrets(e.details ?? {})));
  } catch (err) {
    if (err instanceof CanonicalJsonError)
      throw new AuditError(`audit event '${action}': details: ${err.message}`);
    throw err;
  }
  if (Buffer.byteLength(detailsJson) > MAX_DETAILS_BYTES) {
    throw new AuditError(
      `audit event '${action}': details exceed ${MAX_DETAILS_BYTES} bytes; record a reference instead`,
    );
  }
  return { actor, action, target, details: JSON.parse(detailsJson) as Record<string, unknown>, detailsJson };
}

function requireText(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new AuditError(`audit event ${field} must be a non-empty string of at most ${max} characters`);
  }
  return value;
}

/** Values JSON has no type for, in the form a reader of the log expects: bigint as decimal, bytes as hex. */
function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v);
    return out;
  }
  return value;
}

interface HashInput {
  seq: bigint;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  /** canonical JSON text */
  details: string;
  prevHash: string;
}

/** SHA-256 over the canonical record; seq as a decimal string because JSON numbers cannot hold 64 bits. */
function recordHash(r: HashInput): string {
  const text = canonicalJson({
    seq: r.seq.toString(),
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    details: new RawJson(r.details),
    prevHash: r.prevHash,
  });
  return createHash('sha256').update(text).digest('hex');
}

function toRecord(row: AuditRow): AuditRecord {
  return {
    seq: BigInt(row.seq),
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    details: JSON.parse(row.details) as Record<string, unknown>,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** Checks rows fed in seq order; keeps only bounded state. */
class ChainChecker {
  count = 0;
  private readonly problems: AuditProblem[] = [];
  private omitted = 0;
  private expectedSeq = 1n;
  private lastHash = GENESIS_HASH;
  private lastSeq: bigint | undefined;
  /** Recently seen record hashes → seq, to place moved records. */
  private readonly recent = new Map<string, bigint>();
  /** Hashes of records found at the wrong position → the seq they were written with. */
  private readonly moved = new Map<string, bigint>();
  private anchorSeen = false;
  private readonly anchor: { seq: bigint; hash: string } | undefined;

  constructor(expectedHead: { seq: bigint | string; hash: string } | undefined) {
    this.anchor = expectedHead
      ? { seq: BigInt(expectedHead.seq), hash: expectedHead.hash.toLowerCase() }
      : undefined;
  }

  check(row: AuditRow): void {
    this.count++;
    const seq = BigInt(row.seq);
    const at = seq.toString();
    const content = this.contentProblem(row, seq);
    if (content) this.report(at, content.kind, content.message);
    if (seq > this.expectedSeq) {
      const missing =
        seq - 1n === this.expectedSeq ? `${this.expectedSeq}` : `${this.expectedSeq}–${seq - 1n}`;
      this.report(at, 'removed', `record(s) ${missing} missing before seq ${at}`);
    } else if (!content && row.prev_hash !== this.lastHash && this.moved.get(row.prev_hash) !== seq - 1n) {
      this.report(
        at,
        'broken-link',
        `record ${at} does not link to the record before it: ${this.lastSeq ?? 'the start'} was replaced or altered`,
      );
    }
    if (this.anchor && seq === this.anchor.seq) {
      this.anchorSeen = true;
      if (row.hash !== this.anchor.hash) {
        this.report(at, 'edited', `record ${at} differs from the anchor (hash ${row.hash.slice(0, 16)}…)`);
      }
    }
    this.remember(row.hash, seq);
    this.lastHash = row.hash;
    this.lastSeq = seq;
    this.expectedSeq = seq + 1n;
  }

  finish(): AuditVerifyResult {
    if (this.anchor && !this.anchorSeen) {
      const end = this.lastSeq === undefined ? 'the log is empty' : `the log ends at seq ${this.lastSeq}`;
      this.report(
        this.anchor.seq.toString(),
        'removed',
        `${end} but the anchor records seq ${this.anchor.seq}: records were cut from the tail`,
      );
    }
    const result: AuditVerifyResult = {
      ok: this.problems.length === 0,
      count: this.count,
      problems: this.problems,
    };
    if (this.lastSeq !== undefined) {
      result.head = this.lastHash;
      result.headSeq = this.lastSeq.toString();
    }
    if (this.omitted > 0) result.omittedProblems = this.omitted;
    return result;
  }

  /** Does the row's content still hash to its stored hash at this seq? If not, was it written at another seq? */
  private contentProblem(
    row: AuditRow,
    seq: bigint,
  ): { kind: AuditProblemKind; message: string } | undefined {
    const at = seq.toString();
    let canonical: boolean;
    try {
      canonical = canonicalJson(JSON.parse(row.details)) === row.details;
    } catch {
      canonical = false;
    }
    if (!canonical)
      return { kind: 'edited', message: `record ${at}: details are not the JSON that was recorded` };
    const hashAt = (s: bigint): string =>
      recordHash({
        seq: s,
        at: row.at,
        actor: row.actor,
        action: row.action,
        target: row.target,
        details: row.details,
        prevHash: row.prev_hash,
      });
    if (hashAt(seq) === row.hash) return undefined;
    for (const candidate of this.candidateSeqs(row.prev_hash, seq)) {
      if (hashAt(candidate) === row.hash) {
        this.moved.set(row.hash, candidate);
        return { kind: 'reordered', message: `record stored at seq ${at} was written as seq ${candidate}` };
      }
    }
    return {
      kind: 'edited',
      message: `record ${at}: content does not match its hash (edited after it was written)`,
    };
  }

  private *candidateSeqs(prevHash: string, seq: bigint): Generator<bigint> {
    const predecessor = this.recent.get(prevHash);
    if (predecessor !== undefined && predecessor + 1n !== seq) yield predecessor + 1n;
    if (prevHash === GENESIS_HASH && seq !== 1n) yield 1n;
    for (let d = 1n; d <= BigInt(REORDER_WINDOW); d++) {
      yield seq + d;
      if (seq - d >= 1n) yield seq - d;
    }
  }

  private remember(hash: string, seq: bigint): void {
    this.recent.set(hash, seq);
    if (this.recent.size > RECENT_HASHES) this.recent.delete(this.recent.keys().next().value as string);
    if (this.moved.size > RECENT_HASHES) this.moved.delete(this.moved.keys().next().value as string);
  }

  private report(seq: string, kind: AuditProblemKind, message: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push({ seq, kind, message });
    else this.omitted++;
  }
}
