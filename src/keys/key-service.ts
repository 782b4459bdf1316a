import { randomUUID } from 'node:crypto';
import type { KeyAlgorithm, KeyHandle } from '../crypto/key-handle.js';
import { SoftwareKey } from '../crypto/software-key.js';
import type { MasterKey } from '../crypto/master-key.js';
import { sealPrivateKey, loadSealedSoftwareKey } from '../crypto/key-seal.js';
import type { Pkcs11Token } from '../crypto/pkcs11.js';
import type { Store } from '../store/database.js';
import { nowIso } from '../store/time.js';
import type { AuditLog } from '../audit/audit-log.js';

export type KeyBackend = 'software' | 'pkcs11';
export type KeyPurpose = 'root-ca' | 'issuing-ca' | 'ocsp' | 'tsa' | 'seal' | 'signing' | 'encryption';

export interface ManagedKey {
  id: string;
  label: string;
  algorithm: KeyAlgorithm;
  backend: KeyBackend;
  purpose: KeyPurpose;
  handle: KeyHandle;
}

export class KeyServiceError extends Error {}

/**
 * Owns the `keys` table. Software keys are stored only sealed under the master key (AES-256-GCM, the
 * key id as associated data, so a sealed blob cannot be moved onto another row); PKCS#11 keys are
 * stored as a reference (token label + object label) and never leave the token.
 */
export class KeyService {
  private readonly cache = new Map<string, ManagedKey>();

  constructor(
    private readonly store: Store,
    private readonly audit: AuditLog,
    private readonly master: MasterKey | undefined,
    private readonly token: Pkcs11Token | undefined,
  ) {}

  /** Generate a key on the chosen backend and record it. */
  async create(p: {
    label: string;
    algorithm: KeyAlgorithm;
    purpose: KeyPurpose;
    backend: KeyBackend;
    actor: string;
  }): Promise<ManagedKey> {
    const id = randomUUID();
    let handle: KeyHandle;
    let sealed: Buffer | null = null;
    let pkcs11Label: string | null = null;
    if (p.backend === 'pkcs11') {
      const token = this.requireToken();
      pkcs11Label = `${p.label}-${id.slice(0, 8)}`;
      handle = await token.generateKey(pkcs11Label, p.algorithm);
    } else {
      const key = await SoftwareKey.generate(p.algorithm);
      sealed = sealPrivateKey(key.exportPkcs8(), this.requireMaster(), sealAad(id));
      handle = key;
    }
    await this.insert({
      id,
      label: p.label,
      algorithm: p.algorithm,
      purpose: p.purpose,
      handle,
      sealed,
      pkcs11Label,
    });
    await this.audit.append({
      actor: p.actor,
      action: 'key.generate',
      target: id,
      details: { label: p.label, algorithm: p.algorithm, backend: p.backend, purpose: p.purpose },
    });
    const managed: ManagedKey = {
      id,
      label: p.label,
      algorithm: p.algorithm,
      backend: p.backend,
      purpose: p.purpose,
      handle,
    };
    this.cache.set(id, managed);
    return managed;
  }

  /** Record a software key that came from outside (an imported CA, a CSR-less issuance) — sealed at once. */
  async importSoftwareKey(p: {
    key: SoftwareKey;
    label: string;
    purpose: KeyPurpose;
    actor: string;
  }): Promise<ManagedKey> {
    const id = randomUUID();
    const sealed = sealPrivateKey(p.key.exportPkcs8(), this.requireMaster(), sealAad(id));
    await this.insert({
      id,
      label: p.label,
      algorithm: p.key.algorithm,
      purpose: p.purpose,
      handle: p.key,
      sealed,
      pkcs11Label: null,
    });
    await this.audit.append({
      actor: p.actor,
      action: 'key.import',
      target: id,
      details: { label: p.label, algorithm: p.key.algorithm, purpose: p.purpose },
    });
    const managed: ManagedKey = {
      id,
      label: p.label,
      algorithm: p.key.algorithm,
      backend: 'software',
      purpose: p.purpose,
      handle: p.key,
    };
    this.cache.set(id, managed);
    return managed;
  }

  async load(id: string): Promise<ManagedKey> {
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = await this.store.db.selectFrom('keys').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new KeyServiceError(`key ${id} not found in the key store`);
    let handle: KeyHandle;
    if (row.backend === 'pkcs11') {
      if (!row.pkcs11_label) throw new KeyServiceError(`key ${id} has no PKCS#11 label`);
      handle = this.requireToken().findKey(row.pkcs11_label);
    } else {
      if (!row.sealed) throw new KeyServiceError(`key ${id} has no sealed private key`);
      handle = loadSealedSoftwareKey(Buffer.from(row.sealed), this.requireMaster(), sealAad(id));
    }
    const managed: ManagedKey = {
      id,
      label: row.label,
      algorithm: row.algorithm as KeyAlgorithm,
      backend: row.backend as KeyBackend,
      purpose: row.purpose as KeyPurpose,
      handle,
    };
    this.cache.set(id, managed);
    return managed;
  }

  /** The PKCS#8 of an escrowed software key, for PKCS#12 export to its owner. Audited by the caller. */
  async exportPkcs8(id: string): Promise<Buffer> {
    const key = await this.load(id);
    if (!(key.handle instanceof SoftwareKey))
      throw new KeyServiceError(`key ${id} lives in a token and cannot be exported`);
    return key.handle.exportPkcs8();
  }

  private async insert(p: {
    id: string;
    label: string;
    algorithm: KeyAlgorithm;
    purpose: KeyPurpose;
    handle: KeyHandle;
    sealed: Buffer | null;
    pkcs11Label: string | null;
  }): Promise<void> {
    await this.store.db
      .insertInto('keys')
      .values({
        id: p.id,
        label: p.label,
        algorithm: p.algorithm,
        backend: p.handle.backend,
        spki: p.handle.spki,
        sealed: p.sealed,
        pkcs11_label: p.pkcs11Label,
        purpose: p.purpose,
        created_at: nowIso(),
      })
      .execute();
  }

  private requireMaster(): MasterKey {
    if (!this.master) {
      throw new KeyServiceError(
        'no master key configured: set SEALPOST_MASTER_PASSPHRASE or SEALPOST_MASTER_KEY_FILE (sealpost init creates one)',
      );
    }
    return this.master;
  }

  private requireToken(): Pkcs11Token {
    if (!this.token) {
      throw new KeyServiceError(
        'no PKCS#11 token configured: set SEALPOST_PKCS11_MODULE, SEALPOST_PKCS11_TOKEN and SEALPOST_PKCS11_PIN',
      );
    }
    return this.token;
  }
}

/** Associated data that binds a sealed blob to its row (see key-seal.ts). */
function sealAad(keyId: string): string {
  return `sealpost:key:${keyId}`;
}
