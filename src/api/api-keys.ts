import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/database.js';
import { nowIso } from '../store/time.js';
import type { AuditLog } from '../audit/audit-log.js';

export const SCOPES = [
  'admin',
  'ca:read',
  'ca:issue',
  'ca:revoke',
  'audit:read',
  'pdf:sign',
  'pdf:verify',
] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyInfo {
  id: string;
  name: string;
  scopes: Scope[];
  createdAt: string;
  revokedAt: string | null;
}

export class ApiKeyError extends Error {}

const TOKEN_PATTERN = /^sp_([0-9a-f]{16})\.([A-Za-z0-9_-]{43})$/;
/** How long a verified key is trusted from memory before the database is asked again (revocation delay). */
const CACHE_MS = 5_000;

/**
 * API keys: `sp_<id>.<secret>`. Only SHA-256 of the 256-bit secret is stored — a fast hash is
 * enough for a random secret of this size (no dictionary to attack), and it keeps auth cheap.
 */
export class ApiKeyService {
  private readonly cache = new Map<string, { info: ApiKeyInfo; hash: Buffer; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
  ) {}

  async create(p: {
    name: string;
    scopes: string[];
    actor: string;
  }): Promise<{ token: string; info: ApiKeyInfo }> {
    const scopes = validateScopes(p.scopes);
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const info: ApiKeyInfo = { id, name: p.name, scopes, createdAt: nowIso(), revokedAt: null };
    await this.store.db
      .insertInto('api_keys')
      .values({
        id,
        name: p.name,
        secret_hash: sha256Hex(secret),
        scopes: scopes.join(' '),
        created_at: info.createdAt,
        revoked_at: null,
      })
      .execute();
    await this.audit.append({
      actor: p.actor,
      action: 'apikey.create',
      target: id,
      details: { name: p.name, scopes },
    });
    return { token: `sp_${id}.${secret}`, info };
  }

  async revoke(p: { id: string; actor: string }): Promise<void> {
    const result = await this.store.db
      .updateTable('api_keys')
      .set({ revoked_at: nowIso() })
      .where('id', '=', p.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new ApiKeyError(`no active API key with id ${p.id}`);
    this.cache.delete(p.id);
    await this.audit.append({ actor: p.actor, action: 'apikey.revoke', target: p.id });
  }

  async list(): Promise<ApiKeyInfo[]> {
    const rows = await this.store.db.selectFrom('api_keys').selectAll().orderBy('created_at').execute();
    return rows.map(toInfo);
  }

  /** The key's info when the token is genuine and not revoked; undefined otherwise (never says why). */
  async authenticate(token: string): Promise<ApiKeyInfo | undefined> {
    const match = TOKEN_PATTERN.exec(token);
    if (!match) return undefined;
    const [, id = '', secret = ''] = match;
    const now = Date.now();
    let entry = this.cache.get(id);
    if (!entry || entry.until < now) {
      const row = await this.store.db
        .selectFrom('api_keys')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (!row) return undefined;
      entry = { info: toInfo(row), hash: Buffer.from(row.secret_hash, 'hex'), until: now + CACHE_MS };
      this.cache.set(id, entry);
    }
    const presented = createHash('sha256').update(secret).digest();
    if (!timingSafeEqual(presented, entry.hash)) return undefined;
    return entry.info.revokedAt ? undefined : entry.info;
  }
}

export function hasScope(info: ApiKeyInfo, scope: Scope): boolean {
  return info.scopes.includes('admin') || info.scopes.includes(scope);
}

function validateScopes(scopes: string[]): Scope[] {
  if (scopes.length === 0) throw new ApiKeyError(`an API key needs at least one scope: ${SCOPES.join(', ')}`);
  for (const s of scopes) {
    if (!(SCOPES as readonly string[]).includes(s))
      throw new ApiKeyError(`unknown scope "${s}"; use ${SCOPES.join(', ')}`);
  }
  return [...new Set(scopes)] as Scope[];
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

function toInfo(row: {
  id: string;
  name: string;
  scopes: string;
  created_at: string;
  revoked_at: string | null;
}): ApiKeyInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.split(' ').filter(Boolean) as Scope[],
    createdAt: row.created_at,
    revokedAt: row.revoked_at,
  };
}
