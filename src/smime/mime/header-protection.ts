/**
 * Header protection (RFC 9788). The Cryptographic Payload carries the message's real header fields
 * and an `hp` Content-Type parameter ("cipher" when encrypted, "clear" when only signed, §2.1.1);
 * for an encrypted message the outer header section follows hcp_baseline (§3.2.1: Subject obscured
 * to "[...]", Comments and Keywords removed) and the inner section records every outer
 * non-structural field as an HP-Outer field (§2.2), so a reader knows what was exposed in transit.
 * No Legacy Display Element (§5.2.2) is added: the body is left as it is.
 */
import { formatHeaderField } from './builder.js';
import type { HeaderField } from './headers.js';
import { parseHeaderSection } from './headers.js';
import type { MessageField } from './message-headers.js';
import { MessageHeaders, isStructuralField } from './message-headers.js';
import type { MimeLimits, MimePart } from './parser.js';
import { DEFAULT_MIME_LIMITS } from './parser.js';

export type HpMode = 'cipher' | 'clear';

/** The obscured Subject of hcp_baseline (RFC 9788 §3.2.1). */
export const OBSCURED_SUBJECT = '[...]';

/** Trace fields are added in transit (RFC 9788 §7), not by the composer: never copied inside. */
const TRACE_FIELDS = new Set(['received', 'return-path']);

/** Informational fields (RFC 5322 §3.6.5) that hcp_baseline removes from the outside (§3.2.1). */
const BASELINE_REMOVED = new Set(['comments', 'keywords']);

/**
 * hcp_baseline (RFC 9788 §3.2.1), for non-structural fields only (§3.1): Subject is obscured,
 * Comments and Keywords are removed (null), every other field is exposed unchanged.
 */
function hcpBaseline(name: string, value: string): string | null {
  const lower = name.toLowerCase();
  if (lower === 'subject') return OBSCURED_SUBJECT;
  if (BASELINE_REMOVED.has(lower)) return null;
  return value;
}

/**
 * Fields of the input that are not part of the message to protect: Bcc (RFC 9788 §5.1, RFC 5322
 * §3.6.3) and any HP-Outer left over from an earlier payload, which only ever belongs in the
 * Cryptographic Payload we generate (§2.2).
 */
function isComposedField(name: string): boolean {
  const lower = name.toLowerCase();
  return lower !== 'bcc' && lower !== 'hp-outer';
}

/**
 * The outer message-level header fields to send with the protected payload. 'clear' (signed-only)
 * exposes the fields unchanged (§5.2.1 step 4); 'cipher' applies hcp_baseline to the non-structural
 * ones (§5.2.1 step 5, §3.1). Bcc and stale HP-Outer fields never go on the outside.
 */
export function outerHeaders(message: Buffer, mode: HpMode, limits?: Partial<MimeLimits>): MessageHeaders {
  const { outer } = MessageHeaders.split(message, limits);
  const entries: [string, string][] = [];
  for (const { name, value } of outer.list()) {
    if (!isComposedField(name)) continue;
    const exposed = mode === 'cipher' && !isStructuralField(name) ? hcpBaseline(name, value) : value;
    if (exposed !== null) entries.push([name, exposed]);
  }
  return MessageHeaders.from(entries);
}

function withHpParameter(contentType: string | undefined, mode: HpMode): string {
  const base = contentType ?? 'text/plain; charset=us-ascii';
  // Drop an existing hp parameter (only one may be set, RFC 9788 §2.1.1), then add ours.
  const cleaned = base
    .split(';')
    .filter((piece, index) => index === 0 || !/^\s*hp\s*=/i.test(piece))
    .join(';');
  return `${cleaned}; hp="${mode}"`;
}

/**
 * Builds the Cryptographic Payload for `message` (a full RFC 5322 message): its MIME entity with
 * `hp` added to Content-Type, the message's non-structural header fields (the protected headers),
 * and, for 'cipher', one HP-Outer field per field that `outerHeaders(message, 'cipher')` exposes.
 * The result is what gets signed and/or encrypted.
 */
export function wrapWithProtectedHeaders(
  message: Buffer,
  mode: HpMode,
  limits?: Partial<MimeLimits>,
): Buffer {
  const effective = { ...DEFAULT_MIME_LIMITS, ...limits };
  const section = parseHeaderSection(message, 0, message.length, effective);
  const contentFields = section.fields.filter(
    (f) => isStructuralField(f.name) && f.name.toLowerCase() !== 'mime-version',
  );
  const protectedFields = section.fields.filter(
    (f) => !isStructuralField(f.name) && !TRACE_FIELDS.has(f.name.toLowerCase()) && isComposedField(f.name),
  );
  const contentType = contentFields.find((f) => f.name.toLowerCase() === 'content-type');
  const lines: string[] = [formatHeaderField('Content-Type', withHpParameter(contentType?.value, mode))];
  for (const field of contentFields) {
    if (field !== contentType) lines.push(formatHeaderField(field.name, field.value));
  }
  for (const field of protectedFields) lines.push(formatHeaderField(field.name, field.value));
  if (mode === 'cipher') {
    for (const [name, value] of outerHeaders(message, 'cipher', limits).entries()) {
      if (isStructuralField(name)) continue; // §2.2: only non-structural fields are recorded
      lines.push(formatHeaderField('HP-Outer', `${name}: ${value}`));
    }
  }
  return Buffer.concat([
    Buffer.from(lines.join(''), 'utf8'),
    Buffer.from('\r\n'),
    message.subarray(section.bodyStart),
  ]);
}

export interface ProtectedHeaderView {
  /** The hp parameter of the payload, or undefined for a message without header protection. */
  hp: HpMode | undefined;
  /** 'protected' when the fields come from inside the payload, 'outer' for a legacy message. */
  source: 'protected' | 'outer';
  /** Message-level fields to show and act on (values as written; decode with decodeHeaderWords). */
  headers: MessageField[];
  /** HP-Outer records: what the outer header section carried in transit (hp="cipher" only). */
  hpOuter: MessageField[];
  /**
   * Names of protected fields that were hidden or altered on the outside (hp="cipher" only; §4.3.1).
   * hp="cipher" states the composer's intent, not that this copy was encrypted (§2.1.1, §10.2): only
   * a caller that actually decrypted the message may treat these fields as confidential.
   */
  confidential: string[];
}

/**
 * Reads the header fields a user should see for a decrypted/verified payload (RFC 9788 §4): when
 * the payload has an `hp` parameter its own fields win and the unprotected outer ones are ignored;
 * otherwise the outer fields are all there is.
 */
export function readProtectedHeaders(
  innerPart: MimePart,
  outer: readonly HeaderField[] = [],
): ProtectedHeaderView {
  const hpParam = innerPart.contentType.params['hp']?.trim().toLowerCase();
  const hp: HpMode | undefined = hpParam === 'cipher' || hpParam === 'clear' ? hpParam : undefined;
  if (!hp) {
    const headers = outer
      .filter((f) => !isStructuralField(f.name))
      .map(({ name, value }) => ({ name, value }));
    return { hp, source: 'outer', headers, hpOuter: [], confidential: [] };
  }
  const headers: MessageField[] = [];
  const hpOuter: MessageField[] = [];
  for (const field of innerPart.headers) {
    if (isStructuralField(field.name)) continue;
    if (field.name.toLowerCase() !== 'hp-outer') {
      headers.push({ name: field.name, value: field.value });
      continue;
    }
    if (hp !== 'cipher') continue; // HP-Outer only means something in an encrypted payload (§2.2)
    const colon = field.value.indexOf(':');
    if (colon > 0)
      hpOuter.push({ name: field.value.slice(0, colon).trim(), value: field.value.slice(colon + 1).trim() });
  }
  const confidential =
    hp === 'cipher'
      ? headers
          .filter(
            (f) => !hpOuter.some((o) => o.name.toLowerCase() === f.name.toLowerCase() && o.value === f.value),
          )
          .map((f) => f.name)
      : [];
  return { hp, source: 'protected', headers, hpOuter, confidential };
}
