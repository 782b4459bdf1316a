/**
 * Signature discovery: every signature dictionary reachable from a signature field (/FT /Sig, /V) in any
 * revision, with what kind of signature it is (ISO 32000-2 §12.8: approval, certification with DocMDP,
 * document timestamp) and the field's /Lock (FieldMDP, §12.8.2.4). Signatures are looked up in every revision,
 * not only the latest, so that a signature removed by a later update is still found and reported.
 */
import type { PdfDocument, PdfField, PdfRevisionView } from '../document.js';
import type { PdfDict, PdfObject, PdfRef } from '../objects.js';
import type { SignatureKind } from './types.js';

/** A FieldMDP lock (§12.8.2.4, Table 236): which fields a signature locks once it is applied. */
export interface FieldLock {
  action: 'All' | 'Include' | 'Exclude';
  fields: string[];
}

export interface FoundSignature {
  field: string;
  fieldRef?: PdfRef;
  /** The signature dictionary's reference (a direct /V has none). */
  sigRef?: PdfRef;
  dict: PdfDict;
  widgetRefs: PdfRef[];
  kind: SignatureKind;
  subFilter: string;
  /** The DocMDP permission (1–3) of a certification signature. */
  docMdpP?: number;
  lock?: FieldLock;
  /** The latest revision whose field tree still shows this signature. */
  seenInRevision: number;
}

export async function findSignatures(doc: PdfDocument): Promise<FoundSignature[]> {
  const found = new Map<string, FoundSignature>();
  const certRef = await certificationSignatureRef(doc.latest);
  for (let r = doc.revisions.length - 1; r >= 0; r--) {
    const view = doc.atRevision(r);
    for (const f of [...(await view.fields()), ...(await orphanSignatureWidgets(view))]) {
      if (f.type !== 'Sig' || f.value?.kind !== 'dict') continue;
      const dict = f.value;
      if (!dict.has('Contents') && !dict.has('ByteRange')) continue;
      const key = f.valueRef ? `ref:${f.valueRef.num}` : `field:${f.name}`;
      if (found.has(key)) continue;
      found.set(key, await describe(view, f, dict, r, certRef));
    }
  }
  return [...found.values()].sort((a, b) => firstByte(a) - firstByte(b));
}

/**
 * Signature widgets on pages that the AcroForm's /Fields does not list (poppler's `pdfsig -add-signature`
 * writes such files). Viewers still show them, so they are validated too.
 */
async function orphanSignatureWidgets(view: PdfRevisionView): Promise<PdfField[]> {
  const out: PdfField[] = [];
  for (const page of await view.pages()) {
    for (const a of (await view.resolveArray(page.dict.get('Annots')))?.items ?? []) {
      const dict = await view.resolveDict(a);
      if (!dict || dict.getName('FT') !== 'Sig' || dict.getName('Subtype') !== 'Widget') continue;
      const t = await view.resolve(dict.get('T'));
      const v = dict.get('V');
      const value = await view.resolve(v);
      out.push({
        name: t?.kind === 'string' ? t.toText() : '',
        ...(a.kind === 'ref' ? { ref: a } : {}),
        dict,
        type: 'Sig',
        ...(value ? { value } : {}),
        ...(v?.kind === 'ref' ? { valueRef: v } : {}),
        flags: 0,
        widgets: [{ ...(a.kind === 'ref' ? { ref: a } : {}), dict }],
      });
    }
  }
  return out;
}

function firstByte(s: FoundSignature): number {
  return s.dict.get('Contents')?.range?.start ?? s.dict.range?.start ?? 0;
}

async function describe(
  view: PdfRevisionView,
  f: PdfField,
  dict: PdfDict,
  revision: number,
  certRef: PdfRef | undefined,
): Promise<FoundSignature> {
  const subFilter = (await nameOf(view, dict.get('SubFilter'))) ?? '';
  const type = await nameOf(view, dict.get('Type'));
  const docMdp = await docMdpPermission(view, dict);
  const isCertification =
    (certRef !== undefined && f.valueRef !== undefined && certRef.equals(f.valueRef)) || docMdp !== undefined;
  const kind: SignatureKind =
    type === 'DocTimeStamp' || subFilter === 'ETSI.RFC3161'
      ? 'document-timestamp'
      : isCertification
        ? 'certification'
        : 'approval';
  const lock = await readLock(view, f.dict.get('Lock'));
  return {
    field: f.name,
    ...(f.ref ? { fieldRef: f.ref } : {}),
    ...(f.valueRef ? { sigRef: f.valueRef } : {}),
    dict,
    widgetRefs: f.widgets.flatMap((w) => (w.ref ? [w.ref] : [])),
    kind,
    subFilter,
    ...(kind === 'certification' ? { docMdpP: docMdp ?? 2 } : {}),
    ...(lock ? { lock } : {}),
    seenInRevision: revision,
  };
}

async function nameOf(view: PdfRevisionView, o: PdfObject | undefined): Promise<string | undefined> {
  const v = await view.resolve(o);
  return v?.kind === 'name' ? v.value : undefined;
}

/** The catalog's /Perms /DocMDP: the certification signature (§12.8.4). */
async function certificationSignatureRef(view: PdfRevisionView): Promise<PdfRef | undefined> {
  const perms = await view.resolveDict((await view.catalog()).get('Perms'));
  const ref = perms?.get('DocMDP');
  return ref?.kind === 'ref' ? ref : undefined;
}

/** /Reference [<< /TransformMethod /DocMDP /TransformParams << /P n >> >>] (§12.8.2.2, Table 257); P defaults to 2. */
async function docMdpPermission(view: PdfRevisionView, sig: PdfDict): Promise<number | undefined> {
  const refs = await view.resolveArray(sig.get('Reference'));
  for (const item of refs?.items ?? []) {
    const ref = await view.resolveDict(item);
    if (!ref || (await nameOf(view, ref.get('TransformMethod'))) !== 'DocMDP') continue;
    const params = await view.resolveDict(ref.get('TransformParams'));
    const p = await view.resolve(params?.get('P'));
    return p?.kind === 'number' && [1, 2, 3].includes(p.value) ? p.value : 2;
  }
  return undefined;
}

async function readLock(view: PdfRevisionView, o: PdfObject | undefined): Promise<FieldLock | undefined> {
  const lock = await view.resolveDict(o);
  if (!lock) return undefined;
  const action = await nameOf(view, lock.get('Action'));
  if (action !== 'All' && action !== 'Include' && action !== 'Exclude') return undefined;
  const fields: string[] = [];
  for (const item of (await view.resolveArray(lock.get('Fields')))?.items ?? []) {
    const s = await view.resolve(item);
    if (s?.kind === 'string') fields.push(s.toText());
  }
  return { action, fields };
}

/** Does `lock` cover the field named `name`? */
export function lockCovers(lock: FieldLock, name: string): boolean {
  if (lock.action === 'All') return true;
  const listed = lock.fields.includes(name);
  return lock.action === 'Include' ? listed : !listed;
}
