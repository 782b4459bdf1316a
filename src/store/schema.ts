/**
 * The database schema as Kysely sees it. Each service owns its tables (named in the comment) and no
 * other service reads them directly: it calls the owning module instead. Timestamps are ISO-8601
 * strings (UTC, millisecond precision) so SQLite and PostgreSQL compare them the same way; binary
 * values are bytea/BLOB (Buffer in code); booleans are 0/1 integers.
 */
import type { ColumnType, Generated } from 'kysely';

/** store: named monotonically increasing counters (CRL numbers, TSA serial blocks, …). */
export interface CountersTable {
  name: string;
  value: string; // decimal bigint as text: portable across dialects
}

/** keys module: every private key Sealpost manages, sealed (software) or referenced (PKCS#11). */
export interface KeysTable {
  id: string; // uuid
  label: string;
  algorithm: string; // KeyAlgorithm
  backend: string; // 'software' | 'pkcs11'
  spki: Buffer;
  sealed: Buffer | null; // AES-256-GCM sealed PKCS#8 for software keys; never clear
  pkcs11_label: string | null;
  purpose: string; // 'ca' | 'ocsp' | 'tsa' | 'seal' | 'encryption' | …
  created_at: string;
}

/** ca: certificate authorities (root and issuing) this installation operates or imported. */
export interface AuthoritiesTable {
  id: string; // short name, e.g. 'root', 'issuing'
  kind: string; // 'root' | 'issuing'
  parent_id: string | null;
  subject: string; // RFC 4514 string, for display
  certificate: Buffer; // DER
  key_id: string | null; // keys.id (null when only the certificate was imported)
  created_at: string;
}

/** ca: every certificate issued by an authority here. */
export interface CertificatesTable {
  serial: string; // lowercase hex, no leading zeros stripped: as encoded in the certificate
  authority_id: string;
  profile: string; // 'smime-signing' | 'smime-encryption' | 'seal' | 'tsa' | 'ocsp' | 'issuing-ca' …
  subject: string;
  email: string | null; // lowercased rfc822Name, when the certificate has one
  not_before: string;
  not_after: string;
  certificate: Buffer; // DER
  key_id: string | null; // keys.id when the server generated (and for encryption certs, escrowed) the key
  status: string; // 'valid' | 'revoked'
  revoked_at: string | null;
  revocation_reason: string | null; // RFC 5280 §5.3.1 reason name
  created_at: string;
}

/** ca: CRLs as issued, newest first by number. */
export interface CrlsTable {
  authority_id: string;
  crl_number: string; // decimal
  this_update: string;
  next_update: string;
  der: Buffer;
}

/** api: API keys. Only a SHA-256 hash of the secret is stored. */
export interface ApiKeysTable {
  id: string; // public key id, the part before the dot in "sp_<id>.<secret>"
  name: string;
  secret_hash: string; // hex SHA-256 of the secret
  scopes: string; // space-separated
  created_at: string;
  revoked_at: string | null;
}

/** audit: append-only hash-chained log (see src/audit). */
export interface AuditLogTable {
  /** 1, 2, 3 … without gaps. A bigint column (so it orders numerically): PG returns a decimal string, SQLite a number. */
  seq: ColumnType<string | number, string, never>;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  details: string; // canonical JSON
  prev_hash: string; // hex
  hash: string; // hex SHA-256 over the canonical record including prev_hash
}

/** ocsp: bumped on every revocation so other nodes drop their cached responses. */
export interface RevocationEventsTable {
  id: Generated<number>;
  authority_id: string;
  serial: string;
  at: string;
}

/** app: installation-wide settings (e.g. the master-key salt), readable by every node. */
export interface SettingsTable {
  name: string;
  value: string;
}

export interface Database {
  settings: SettingsTable;
  counters: CountersTable;
  keys: KeysTable;
  authorities: AuthoritiesTable;
  certificates: CertificatesTable;
  crls: CrlsTable;
  api_keys: ApiKeysTable;
  audit_log: AuditLogTable;
  revocation_events: RevocationEventsTable;
}
