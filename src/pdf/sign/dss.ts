/**
 * The Document Security Store (ETSI EN 319 142-1 §5.4.2, ISO 32000-2 §12.8.4.3): /Certs, /OCSPs and
 * /CRLs arrays of streams, and /VRI entries keyed by the uppercase hex SHA-1 of each signature's
 * /Contents bytes, pointing at the data that validates that signature. An existing DSS is extended: its
 * entries are kept, identical data is not stored twice.
 */
import { createHash } from 'node:crypto';
import type { PdfObject, PdfRef } from '../objects.js';
import { PdfName } from '../objects.js';
import { catalogRef, editDict } from '../writer/edit.js';
import type { IncrementalUpdate } from '../writer/incremental.js';
import { PdfNewStream, WritableArray, WritableDict, type WritableObject } from '../writer/serialize.js';
import type { ValidationData } from '../../validation/types.js';

export interface DssAddition {
  /** The signature's /Contents bytes as stored (padding included). */
  contents: Buffer;
  data: ValidationData;
}

const KINDS = [
  ['certificates', 'Certs', 'Cert'],
  ['ocspResponses', 'OCSPs', 'OCSP'],
  ['crls', 'CRLs', 'CRL'],
] as const;

export function vriKey(contents: Buffer): string {
  return createHash('sha1').update(contents).digest('hex').toUpperCase();
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Add validation data for the given signatures to the catalog's /DSS. */
export async function addToDss(update: IncrementalUpdate, additions: DssAddition[]): Promise<void> {
  const doc = update.doc;
  const catalog = await doc.catalog();
  const existingEntry = catalog.get('DSS');
  const existing = await doc.resolveDict(existingEntry);
  const dss = new WritableDict(
    new Map<string, WritableObject | undefined>(existing ? existing.entries : [['Type', new PdfName('DSS')]]),
  );
  for (const [field, arrayKey, vriArrayKey] of KINDS) {
    const known = new Map<string, PdfRef>();
    const arr = await doc.latest.resolveArray(existing?.get(arrayKey));
    const items: WritableObject[] = [...(arr?.items ?? [])];
    for (const item of items) {
      const stream = item.kind === 'ref' ? await doc.resolve(item) : undefined;
      if (stream?.kind === 'stream' && item.kind === 'ref')
        known.set(sha256(await doc.streamData(stream)), item);
    }
    const refFor = (der: Buffer): PdfRef => {
      const key = sha256(der);
      let ref = known.get(key);
      if (!ref) {
        ref = update.add(new PdfNewStream(new WritableDict(), der));
        known.set(key, ref);
        items.push(ref);
      }
      return ref;
    };
    const perSignature = additions.map((a) => a.data[field].map(refFor));
    if (items.length) dss.set(arrayKey, new WritableArray(items));
    const vri = await vriDict(update, dss);
    additions.forEach((a, i) => {
      const refs = perSignature[i]!;
      if (!refs.length) return;
      const key = vriKey(a.contents);
      const entry = vri.entries.get(key);
      const sigVri =
        entry?.kind === 'wdict' ? entry : new WritableDict(new Map([['Type', new PdfName('VRI')]]));
      sigVri.set(vriArrayKey, new WritableArray(refs));
      vri.set(key, sigVri);
    });
  }
  const root = catalogRef(update);
  if (existingEntry?.kind === 'ref') update.set(existingEntry, dss);
  else await editDict(update, root, (cat) => void cat.set('DSS', update.add(dss)));
}

/** The /VRI dictionary being built (copied from the existing DSS on first use). */
async function vriDict(update: IncrementalUpdate, dss: WritableDict): Promise<WritableDict> {
  const current = dss.entries.get('VRI');
  if (current?.kind === 'wdict') return current;
  const existing = await update.doc.resolveDict(current as PdfObject | undefined);
  const vri = new WritableDict();
  for (const [k, v] of existing?.entries ?? []) {
    const d = await update.doc.resolveDict(v);
    vri.set(k, d ? new WritableDict(new Map<string, WritableObject | undefined>(d.entries)) : v);
  }
  dss.set('VRI', vri);
  return vri;
}
