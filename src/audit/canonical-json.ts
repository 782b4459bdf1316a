/**
 * Canonical JSON after RFC 8785 (JSON Canonicalization Scheme): object members sorted by their names'
 * UTF-16 code units, no whitespace, strings and numbers serialised as ECMAScript's JSON.stringify does
 * (RFC 8785 §3.2.2). The same value always gives the same bytes, so hashes over it are reproducible.
 */
export class CanonicalJsonError extends Error {
  override name = 'CanonicalJsonError';
}

/** Text that is already canonical JSON, embedded verbatim (avoids re-parsing stored documents). */
export class RawJson {
  constructor(readonly text: string) {}
}

const MAX_DEPTH = 64;

/**
 * Serialise a JSON value canonically. Objects with toJSON (Date) are converted first, undefined members
 * are left out (as JSON.stringify does). Anything JSON cannot carry exactly — non-finite numbers, bigint,
 * functions, symbols, cycles, nesting deeper than 64 — is a CanonicalJsonError.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out, 0, new Set());
  return out.join('');
}

function write(value: unknown, out: string[], depth: number, ancestors: Set<object>): void {
  if (value instanceof RawJson) {
    out.push(value.text);
    return;
  }
  if (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { toJSON?: unknown }).toJSON === 'function'
  ) {
    value = (value as { toJSON: () => unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value));
      return;
    case 'boolean':
      out.push(value ? 'true' : 'false');
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`${value} cannot be represented in JSON`);
      out.push(JSON.stringify(value)); // ECMAScript Number-to-String, as RFC 8785 §3.2.2.3 requires; -0 → 0
      return;
    case 'object':
      break;
    default:
      throw new CanonicalJsonError(`a ${typeof value} cannot be represented in JSON`);
  }
  if (value === null) {
    out.push('null');
    return;
  }
  if (depth >= MAX_DEPTH) throw new CanonicalJsonError(`JSON nesting deeper than ${MAX_DEPTH} levels`);
  if (ancestors.has(value)) throw new CanonicalJsonError('circular structure cannot be represented in JSON');
  ancestors.add(value);
  if (Array.isArray(value)) {
    out.push('[');
    value.forEach((item, i) => {
      if (i > 0) out.push(',');
      write(item === undefined ? null : item, out, depth + 1, ancestors);
    });
    out.push(']');
  } else {
    out.push('{');
    const record = value as Record<string, unknown>;
    let first = true;
    // Default sort compares UTF-16 code units, which is the order RFC 8785 §3.2.3 prescribes.
    for (const key of Object.keys(record).sort()) {
      const member = record[key];
      if (member === undefined) continue;
      if (!first) out.push(',');
      first = false;
      out.push(JSON.stringify(key), ':');
      write(member, out, depth + 1, ancestors);
    }
    out.push('}');
  }
  ancestors.delete(value);
}
