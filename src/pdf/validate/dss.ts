/**
 * The Document Security Store (ISO 32000-2 §12.8.4.3, ETSI EN 319 142-1 §5.4): certificates, OCSP responses
 * and CRLs kept in the document for long-term validation, and the per-signature /VRI dictionaries keyed by
 * the upper-case hex SHA-1 of the signature's /Contents.
 */
import { createHash } from 'node:crypto';
import type { PdfDocument, PdfRevisionView } from '../document.js';
import type { PdfDict, PdfObject } from '../objects.js';

export interface DssData {
  /** The revision that last changed the catalog's /DSS entry (first revision holding the current DSS data). */
  revision: number;
  certificates: Buffer[];
  ocspResponses: Buffer[];
  crls: Buffer[];
  /** VRI keys (upper-case hex SHA-1), as found. */
  vriKeys: Set<string>;
}

const MAX_DSS_ITEMS = 1000;

/** The DSS as of `view`, or undefined when the catalog has none. */
export async function readDss(doc: PdfDocument, view: PdfRevisionView): Promise<DssData | undefined> {
  const dss = await view.resolveDict((await view.catalog()).get('DSS'));
  if (!dss) return undefined;
  const vri = await view.resolveDict(dss.get('VRI'));
  return {
    revision: await firstRevisionWithDss(doc, view.index),
    certificates: await streams(doc, view, dss, 'Certs'),
    ocspResponses: await streams(doc, view, dss, 'OCSPs'),
    crls: await streams(doc, view, dss, 'CRLs'),
    vriKeys: new Set((vri?.keys() ?? []).map((k) => k.toUpperCase())),
  };
}

async function streams(
  doc: PdfDocument,
  view: PdfRevisionView,
  dss: PdfDict,
  key: string,
): Promise<Buffer[]> {
  const arr = await view.resolveArray(dss.get(key));
  const out: Buffer[] = [];
  for (const item of (arr?.items ?? []).slice(0, MAX_DSS_ITEMS)) {
    const s: PdfObject | undefined = await view.resolve(item);
    if (s?.kind === 'stream') out.push(await doc.streamData(s));
  }
  return out;
}

async function firstRevisionWithDss(doc: PdfDocument, upTo: number): Promise<number> {
  let first = upTo;
  for (let r = upTo - 1; r >= 0; r--) {
    if (!(await doc.atRevision(r).catalog()).has('DSS')) break;
    first = r;
  }
  return first;
}

/** The VRI key of a signature: SHA-1 over its /Contents bytes (ETSI EN 319 142-1 §5.4.2.2). */
export function vriKeysFor(contents: Buffer, cms: Buffer | undefined): string[] {
  const key = (b: Buffer): string => createHash('sha1').update(b).digest('hex').toUpperCase();
  // Producers differ on whether the zero padding is included: accept both.
  return cms && cms.length !== contents.length ? [key(contents), key(cms)] : [key(contents)];
}
