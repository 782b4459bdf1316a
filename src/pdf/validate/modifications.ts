/**
 * Modification analysis: what every incremental update after a signature changed, object by object, and
 * whether ISO 32000-2 §12.8.2.2 (DocMDP P=1/2/3), §12.8.2.4 (FieldMDP locks) and the approval-signature
 * rules allow it. Allowed: the DSS, document timestamps, further signatures, form filling and annotations as
 * the permissions say. Anything reachable from the page tree (contents, resources, fonts, XObjects), the page
 * tree itself, catalog entries other than /AcroForm /DSS /Extensions, and the signature's own objects must
 * not change. This is what detects the attack classes of
 *   - Mladenov et al., "1 Trillion Dollar Refund — How To Spoof PDF Signatures" (CCS 2019): incremental saving
 *     attacks (ISA) — a later revision redefines page content, resources or the catalog;
 *   - Mainka et al., "Shadow Attacks: Hiding and Replacing Content in Signed PDFs" (NDSS 2021): hide (content
 *     prepared before signing and uncovered later by a changed object), replace (a font, XObject or content
 *     stream referenced by a signed page redefined later) and hide-and-replace (a later xref pointing an object
 *     at another definition, possibly one already inside the signed bytes).
 */
import type { PdfDocument, PdfRevisionView } from '../document.js';
import type { PdfArray, PdfDict, PdfObject } from '../objects.js';
import type { XrefEntry } from '../xref.js';
import { objectRoles, type ObjectRole, type RoleMap } from './object-roles.js';

/** One object a revision touched (revision indexes are 0-based here). */
export interface ObjectChange {
  num: number;
  revision: number;
  kind: 'added' | 'changed' | 'deleted' | 'same-offset' | 'unchanged';
  oldEntry?: XrefEntry;
  newEntry?: XrefEntry;
  oldValue?: PdfObject;
  newValue?: PdfObject;
  oldRole?: ObjectRole;
  newRole?: ObjectRole;
}

export interface Permissions {
  /** DocMDP P of a certification signature applied before the revision. */
  docMdp?: number;
  /** Which signature (field name) locks `field`, when one applied before the revision does. */
  lockedBy: (field: string, revision: number) => string | undefined;
  /** Object numbers of the signature being judged (field, widget, signature dictionary). */
  ownObjects: ReadonlySet<number>;
  /** End of the bytes the signature covers. */
  signedEnd: number;
  /** Roles as of the signed revision. */
  signedRoles: RoleMap;
}

export interface Judgement {
  allowed: boolean;
  text: string;
}

const STRICT_ROLES = new Set(['page-content', 'catalog-entry', 'page-tree']);
const CATALOG_MAY_CHANGE = new Set(['AcroForm', 'DSS', 'Extensions']);
const FIELD_MAY_CHANGE = new Set(['V', 'AS', 'AP', 'MK']);
const ACROFORM_FILL_KEYS = new Set(['DR', 'DA', 'NeedAppearances']);

/** Reads and caches the per-revision changes and role maps that every signature's analysis shares. */
export class ModificationAnalyzer {
  private readonly roles = new Map<number, Promise<RoleMap>>();
  private readonly changes = new Map<number, Promise<ObjectChange[]>>();

  constructor(private readonly doc: PdfDocument) {}

  rolesAt(revision: number): Promise<RoleMap> {
    let r = this.roles.get(revision);
    if (!r) {
      r = objectRoles(this.doc.atRevision(revision));
      this.roles.set(revision, r);
    }
    return r;
  }

  changesIn(revision: number): Promise<ObjectChange[]> {
    let c = this.changes.get(revision);
    if (!c) {
      c = this.readChanges(revision);
      this.changes.set(revision, c);
    }
    return c;
  }

  private async readChanges(revision: number): Promise<ObjectChange[]> {
    const before = this.doc.atRevision(revision - 1);
    const after = this.doc.atRevision(revision);
    const [oldRoles, newRoles] = await Promise.all([this.rolesAt(revision - 1), this.rolesAt(revision)]);
    const nums = new Set<number>();
    for (const s of this.doc.revisions[revision]!.sections)
      for (const sec of s.hybrid ? [s, s.hybrid] : [s]) for (const n of sec.entries.keys()) nums.add(n);
    const out: ObjectChange[] = [];
    for (const num of [...nums].sort((a, b) => a - b)) {
      if (num === 0) continue;
      const oldEntry = before.entry(num);
      const newEntry = after.entry(num);
      const change: ObjectChange = {
        num,
        revision,
        kind: 'changed',
        ...(oldEntry ? { oldEntry } : {}),
        ...(newEntry ? { newEntry } : {}),
        ...(oldRoles.get(num) ? { oldRole: oldRoles.get(num) } : {}),
        ...(newRoles.get(num) ? { newRole: newRoles.get(num) } : {}),
      };
      const oldObj = await before.getIndirect(num);
      const newObj = await after.getIndirect(num);
      if (oldObj) change.oldValue = oldObj.value;
      if (newObj) change.newValue = newObj.value;
      if (!oldObj && !newObj) continue;
      if (!oldObj) change.kind = 'added';
      else if (!newObj) change.kind = 'deleted';
      else if (sameLocation(oldEntry, newEntry)) change.kind = 'same-offset';
      else if (await objectsEqual(this.doc, oldObj.value, newObj.value)) change.kind = 'unchanged';
      out.push(change);
    }
    return out;
  }
}

function sameLocation(a: XrefEntry | undefined, b: XrefEntry | undefined): boolean {
  if (a?.type === 'offset' && b?.type === 'offset') return a.offset === b.offset && a.gen === b.gen;
  if (a?.type === 'compressed' && b?.type === 'compressed')
    return a.streamNum === b.streamNum && a.index === b.index;
  return false;
}

/** Judge one change for one signature; undefined for bookkeeping objects (xref and object streams). */
export async function judgeChange(
  doc: PdfDocument,
  c: ObjectChange,
  p: Permissions,
): Promise<Judgement | undefined> {
  const rev = c.revision + 1;
  const obj = `object ${c.num}`;
  if (c.newRole?.role === 'structure' || c.oldRole?.role === 'structure') return undefined;
  if (c.kind === 'same-offset')
    return { allowed: true, text: `${obj} is listed again at the same offset (no change)` };
  if (c.kind === 'unchanged') return { allowed: true, text: `${obj} was written again without change` };
  if (
    c.kind === 'changed' &&
    c.newEntry?.type === 'offset' &&
    c.newEntry.offset < p.signedEnd &&
    c.oldEntry?.type === 'offset'
  ) {
    return {
      allowed: false,
      text: `the xref of revision ${rev} points ${obj} back at another definition inside the signed bytes (shadow attack: hide-and-replace)`,
    };
  }
  if (p.ownObjects.has(c.num))
    return { allowed: false, text: `the signature's own ${obj} (${labelOf(c)}) was changed after signing` };

  const signedRole = p.signedRoles.get(c.num);
  const role =
    signedRole && STRICT_ROLES.has(signedRole.role) ? signedRole : (c.newRole ?? c.oldRole ?? signedRole);
  const what = `${c.kind === 'added' ? 'added' : c.kind === 'deleted' ? 'deleted' : 'changed'}`;
  const mayFill = p.docMdp === undefined || p.docMdp >= 2;
  const mayAnnotate = p.docMdp === undefined || p.docMdp === 3;
  const deny = (text: string): Judgement => ({ allowed: false, text });
  const allow = (text: string): Judgement => ({ allowed: true, text });
  const byP = `not allowed by the certification signature (DocMDP P=${p.docMdp ?? ''})`;

  if (!role)
    return allow(
      c.kind === 'added' ? `unreferenced ${obj} added (not displayed)` : `unreferenced ${obj} ${what}`,
    );
  switch (role.role) {
    case 'page-content':
      return deny(`page content changed after signing (revision ${rev}, ${obj}: ${role.label})`);
    case 'page-tree':
      return deny(`the page tree changed after signing (revision ${rev}, ${obj})`);
    case 'catalog-entry':
      return deny(`a document-level entry changed after signing (revision ${rev}, ${obj}: ${role.label})`);
    case 'structure':
      return undefined;
    case 'dss':
      return allow(`validation data (DSS) ${what} (${obj})`);
    case 'doc-timestamp':
      return allow(`${role.label} ${what} (${obj})`);
    case 'info':
    case 'metadata':
      return allow(`${role.label} ${what} (${obj})`);
    case 'catalog': {
      const keys = changedKeys(c.oldValue, c.newValue).filter((k) => !CATALOG_MAY_CHANGE.has(k));
      return keys.length
        ? deny(
            `catalog entries changed after signing: ${keys.map((k) => `/${k}`).join(' ')} (revision ${rev})`,
          )
        : allow(`catalog updated (/AcroForm, /DSS) (${obj})`);
    }
    case 'page': {
      const keys = changedKeys(c.oldValue, c.newValue);
      const other = keys.filter((k) => k !== 'Annots');
      if (other.length)
        return deny(
          `page content changed after signing (revision ${rev}, ${obj}: ${role.label} ${other.map((k) => `/${k}`).join(' ')})`,
        );
      return annotsJudgement(
        doc,
        c,
        role,
        dictEntry(c.oldValue, 'Annots'),
        dictEntry(c.newValue, 'Annots'),
        mayAnnotate,
      );
    }
    case 'annots':
      return annotsJudgement(doc, c, role, c.oldValue, c.newValue, mayAnnotate);
    case 'acroform':
      return acroFormJudgement(doc, c, mayFill);
    case 'signature':
    case 'form-field': {
      const field = role.field ?? '';
      const locker = p.lockedBy(field, c.revision);
      if (locker)
        return deny(`field ${field} is locked by signature ${locker} but was ${what} (revision ${rev})`);
      if (!mayFill) return deny(`${role.label} ${what}: ${byP}`);
      if (role.isFieldDict && c.oldValue && c.newValue) {
        const keys = changedKeys(c.oldValue, c.newValue);
        if (role.role === 'signature' && keys.includes('V') && dictEntry(c.oldValue, 'V'))
          return deny(`the value of the already signed field ${field} was replaced (revision ${rev})`);
        const bad = keys.filter((k) => !FIELD_MAY_CHANGE.has(k));
        if (bad.length)
          return deny(
            `${role.label} changed beyond its value: ${bad.map((k) => `/${k}`).join(' ')} (revision ${rev})`,
          );
      }
      return allow(`${role.label} ${role.role === 'signature' ? 'signed or added' : 'filled in'} (${obj})`);
    }
    case 'annotation':
      return mayAnnotate
        ? allow(`${role.label} ${what} (${obj})`)
        : deny(`${role.label} ${what} (revision ${rev}): ${byP}`);
    default:
      return deny(`${obj} changed`);
  }
}

async function annotsJudgement(
  doc: PdfDocument,
  c: ObjectChange,
  role: ObjectRole,
  oldAnnots: PdfObject | undefined,
  newAnnots: PdfObject | undefined,
  mayAnnotate: boolean,
): Promise<Judgement> {
  const before = await refNums(doc.atRevision(c.revision - 1), oldAnnots);
  const after = await refNums(doc.atRevision(c.revision), newAnnots);
  const removed = [...before].filter((n) => !after.has(n));
  if (removed.length && !mayAnnotate)
    return {
      allowed: false,
      text: `annotations removed from page ${role.page ?? '?'} (objects ${removed.join(', ')}, revision ${c.revision + 1})`,
    };
  return { allowed: true, text: `page ${role.page ?? '?'} annotation list updated (object ${c.num})` };
}

async function acroFormJudgement(doc: PdfDocument, c: ObjectChange, mayFill: boolean): Promise<Judgement> {
  const rev = c.revision + 1;
  const keys =
    c.oldValue?.kind === 'array' || c.newValue?.kind === 'array'
      ? ['Fields']
      : changedKeys(c.oldValue, c.newValue);
  const fieldsOf = (v: PdfObject | undefined): PdfObject | undefined =>
    v?.kind === 'array' ? v : dictEntry(v, 'Fields');
  if (keys.includes('Fields')) {
    const before = await refNums(doc.atRevision(c.revision - 1), fieldsOf(c.oldValue));
    const after = await refNums(doc.atRevision(c.revision), fieldsOf(c.newValue));
    const removed = [...before].filter((n) => !after.has(n));
    if (removed.length)
      return {
        allowed: false,
        text: `form fields removed from the AcroForm (objects ${removed.join(', ')}, revision ${rev})`,
      };
  }
  const other = keys.filter(
    (k) => k !== 'Fields' && k !== 'SigFlags' && !(mayFill && ACROFORM_FILL_KEYS.has(k)),
  );
  if (other.length)
    return {
      allowed: false,
      text: `AcroForm entries changed after signing: ${other.map((k) => `/${k}`).join(' ')} (revision ${rev})`,
    };
  return { allowed: true, text: `AcroForm updated (object ${c.num})` };
}

async function refNums(view: PdfRevisionView, o: PdfObject | undefined): Promise<Set<number>> {
  const arr: PdfArray | undefined = await view.resolveArray(o).catch(() => undefined);
  return new Set((arr?.items ?? []).flatMap((x) => (x.kind === 'ref' ? [x.num] : [])));
}

function labelOf(c: ObjectChange): string {
  return (c.oldRole ?? c.newRole)?.label ?? 'object';
}

function dictOf(o: PdfObject | undefined): PdfDict | undefined {
  return o?.kind === 'dict' ? o : o?.kind === 'stream' ? o.dict : undefined;
}

function dictEntry(o: PdfObject | undefined, key: string): PdfObject | undefined {
  return dictOf(o)?.get(key);
}

/** Keys whose values differ (references compared as references, not followed). */
export function changedKeys(a: PdfObject | undefined, b: PdfObject | undefined): string[] {
  const da = dictOf(a);
  const db = dictOf(b);
  if (!da || !db) return ['(whole object)'];
  const keys = new Set([...da.keys(), ...db.keys()]);
  return [...keys].filter((k) => !directEqual(da.get(k), db.get(k)));
}

/** Structural equality of direct objects; streams compare their dictionaries only. */
export function directEqual(a: PdfObject | undefined, b: PdfObject | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'null':
      return true;
    case 'boolean':
    case 'number':
    case 'name':
      return a.value === (b as typeof a).value;
    case 'string':
      return a.bytes.equals((b as typeof a).bytes);
    case 'ref':
      return a.equals(b as typeof a);
    case 'array': {
      const bb = b as typeof a;
      return a.items.length === bb.items.length && a.items.every((x, i) => directEqual(x, bb.items[i]));
    }
    case 'dict': {
      const bb = b as typeof a;
      const ka = a.keys();
      return ka.length === bb.keys().length && ka.every((k) => directEqual(a.get(k), bb.get(k)));
    }
    case 'stream':
      return directEqual(a.dict, (b as typeof a).dict);
  }
}

/** Equal objects, streams including their (raw, still encoded) data. */
async function objectsEqual(doc: PdfDocument, a: PdfObject, b: PdfObject): Promise<boolean> {
  if (!directEqual(a, b)) return false;
  if (a.kind !== 'stream' || b.kind !== 'stream') return true;
  const [ra, rb] = await Promise.all([doc.streamRaw(a), doc.streamRaw(b)]);
  return ra.equals(rb);
}
