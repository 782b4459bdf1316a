/**
 * The signature field and its widget (ISO 32000-2 §12.7.5.5, §12.5.6.19): sign an existing empty field
 * (/FT /Sig without /V) or create a new one, merged with its widget, on a page's /Annots and in the
 * AcroForm's /Fields; /SigFlags 3 (SignaturesExist | AppendOnly, Table 225). NeedAppearances is never
 * set: every signature widget gets its own appearance stream.
 */
import type { PdfField, PdfPage } from '../document.js';
import { PdfArray, PdfName, PdfNumber } from '../objects.js';
import type { PdfRef } from '../objects.js';
import type { PdfDict } from '../objects.js';
import { appendToArrayEntry, catalogRef, editDict } from '../writer/edit.js';
import type { IncrementalUpdate } from '../writer/incremental.js';
import { WritableArray, WritableDict, type WritableObject } from '../writer/serialize.js';
import { PdfSignError } from './errors.js';
import { textString } from './text.js';

/** /Lock of a signature field (Table 236): which fields become read-only once it is signed. */
export interface FieldLock {
  action: 'All' | 'Include' | 'Exclude';
  /** Fully qualified field names, for Include and Exclude. */
  fields?: string[];
}

/** A visible signature: 1-based page number and the rectangle in default user space (points). */
export interface Placement {
  page: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FieldRequest {
  /** Existing empty signature field to sign, or the name of a new one (default: a fresh "SignatureN"). */
  name?: string;
  placement?: Placement;
  lock?: FieldLock;
}

/** The widget to draw on, once the field is in place. */
export interface PlacedField {
  fieldRef: PdfRef;
  name: string;
  /** Widget rectangle [x1 y1 x2 y2]; zero-sized for invisible signatures. */
  rect: number[];
  /** The lock that applies (given or the field's own /Lock): a FieldMDP reference must match it. */
  lock?: FieldLock;
  /** Set the widget's appearance; call once the XObject is written. */
  setAppearance(xobject: PdfRef): Promise<void>;
}

const ANNOT_FLAGS_PRINT_LOCKED = 4 | 128; // Table 167: Print, Locked

/** Place the signature value `sigRef` in a field; the caller writes the signature dictionary itself. */
export async function placeSignatureField(
  update: IncrementalUpdate,
  sigRef: PdfRef,
  req: FieldRequest,
): Promise<PlacedField> {
  const doc = update.doc;
  const fields = await doc.fields();
  const existing = req.name ? fields.find((f) => f.name === req.name) : undefined;
  if (existing) return signExistingField(update, sigRef, existing, req);
  const pages = await doc.pages();
  if (!pages.length) throw new PdfSignError('the document has no pages to put a signature field on');
  const pageIndex = (req.placement?.page ?? 1) - 1;
  const page = pages[pageIndex];
  if (!page)
    throw new PdfSignError(
      `page ${req.placement?.page} does not exist: the document has ${pages.length} pages`,
    );
  const name = req.name ?? uniqueName(fields);
  if (name.includes('.')) throw new PdfSignError(`field name "${name}" must not contain a period`);
  const rect = req.placement ? placementRect(req.placement, page) : [0, 0, 0, 0];
  const field = new WritableDict()
    .set('Type', new PdfName('Annot'))
    .set('Subtype', new PdfName('Widget'))
    .set('FT', new PdfName('Sig'))
    .set('T', textString(name))
    .set('V', sigRef)
    .set('F', PdfNumber.int(ANNOT_FLAGS_PRINT_LOCKED))
    .set('Rect', numbers(rect))
    .set('P', page.ref);
  if (req.lock) field.set('Lock', lockDict(req.lock));
  const fieldRef = update.add(field);
  await editDict(update, page.ref, (p) => appendToArrayEntry(update, p, 'Annots', fieldRef));
  await addToAcroForm(update, fieldRef);
  return {
    fieldRef,
    name,
    rect,
    ...(req.lock ? { lock: req.lock } : {}),
    setAppearance: (xobject) =>
      editDict(update, fieldRef, (d) => void d.set('AP', new WritableDict().set('N', xobject))),
  };
}

async function signExistingField(
  update: IncrementalUpdate,
  sigRef: PdfRef,
  field: PdfField,
  req: FieldRequest,
): Promise<PlacedField> {
  if (field.type !== 'Sig')
    throw new PdfSignError(`field "${field.name}" is not a signature field (/FT /${field.type})`);
  if (field.value !== undefined && field.value.kind !== 'null')
    throw new PdfSignError(`field "${field.name}" is already signed: choose another --field name`);
  if (!field.ref)
    throw new PdfSignError(`field "${field.name}" is not an indirect object and cannot be updated`);
  const fieldRef = field.ref;
  await editDict(update, fieldRef, (d) => void d.set('V', sigRef));
  const widget = field.widgets[0];
  const widgetRef = widget?.ref ?? fieldRef;
  const rect = widget?.rect ?? [0, 0, 0, 0];
  const ownLock = await readLock(update, field.dict);
  const lock = req.lock ?? ownLock;
  if (req.lock && !ownLock) await editDict(update, fieldRef, (d) => void d.set('Lock', lockDict(req.lock!)));
  await addToAcroForm(update, undefined);
  return {
    fieldRef,
    name: field.name,
    rect,
    ...(lock ? { lock } : {}),
    setAppearance: (xobject) =>
      editDict(update, widgetRef, (d) => void d.set('AP', new WritableDict().set('N', xobject))),
  };
}

/** Ensure the AcroForm exists, lists `fieldRef` (when new) and has /SigFlags 3. */
async function addToAcroForm(update: IncrementalUpdate, fieldRef: PdfRef | undefined): Promise<void> {
  const root = catalogRef(update);
  const catalog = await update.doc.catalog();
  const formEntry = catalog.get('AcroForm');
  const fill = async (form: WritableDict): Promise<void> => {
    form.set('SigFlags', PdfNumber.int(3));
    if (fieldRef) await appendToArrayEntry(update, form, 'Fields', fieldRef);
    else if (!form.entries.has('Fields')) form.set('Fields', new WritableArray([]));
  };
  if (formEntry?.kind === 'ref' && (await update.doc.resolve(formEntry))?.kind === 'dict') {
    await editDict(update, formEntry, fill);
    return;
  }
  await editDict(update, root, async (cat) => {
    const current = cat.entries.get('AcroForm');
    const form =
      current?.kind === 'dict' || current?.kind === 'wdict'
        ? new WritableDict(new Map<string, WritableObject | undefined>(current.entries))
        : new WritableDict();
    await fill(form);
    cat.set('AcroForm', update.add(form));
  });
}

function uniqueName(fields: PdfField[]): string {
  const taken = new Set(fields.map((f) => f.name));
  for (let i = 1; ; i++) if (!taken.has(`Signature${i}`)) return `Signature${i}`;
}

function placementRect(p: Placement, page: PdfPage): number[] {
  if (!(p.width > 0 && p.height > 0))
    throw new PdfSignError('a visible signature needs a positive width and height');
  const [bx = 0, by = 0] = page.cropBox;
  return [bx + p.x, by + p.y, bx + p.x + p.width, by + p.y + p.height];
}

function numbers(values: number[]): PdfArray {
  return new PdfArray(values.map((v) => new PdfNumber(v, Number.isInteger(v))));
}

export function lockDict(lock: FieldLock): WritableDict {
  const d = new WritableDict()
    .set('Type', new PdfName('SigFieldLock'))
    .set('Action', new PdfName(lock.action));
  if (lock.action !== 'All') {
    if (!lock.fields?.length)
      throw new PdfSignError(`a /Lock with /Action /${lock.action} needs a list of fields`);
    d.set('Fields', new PdfArray(lock.fields.map((f) => textString(f))));
  }
  return d;
}

async function readLock(update: IncrementalUpdate, field: PdfDict): Promise<FieldLock | undefined> {
  const lock = await update.doc.resolveDict(field.get('Lock'));
  const action = lock?.getName('Action');
  if (action !== 'All' && action !== 'Include' && action !== 'Exclude') return undefined;
  const arr = await update.doc.latest.resolveArray(lock?.get('Fields'));
  const fields = (arr?.items ?? []).flatMap((x) => (x.kind === 'string' ? [x.toText()] : []));
  return { action, ...(action === 'All' ? {} : { fields }) };
}
