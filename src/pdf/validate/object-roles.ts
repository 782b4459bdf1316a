/**
 * What every object of one revision is for: page content, page tree, catalog entries, the DSS, signature
 * fields, form fields, annotations… The modification analysis judges a changed object by its role, so
 * the roles are assigned strictest first: an object shared by a page's resources and a widget's appearance is
 * page content. Traversals are bounded (MAX_OBJECTS) and never follow /Parent or /P back up the tree.
 */
import type { PdfRevisionView } from '../document.js';
import { PdfError } from '../errors.js';
import type { PdfDict, PdfObject } from '../objects.js';

export type Role =
  | 'page-content'
  | 'catalog-entry'
  | 'page-tree'
  | 'page'
  | 'catalog'
  | 'dss'
  | 'doc-timestamp'
  | 'signature'
  | 'acroform'
  | 'form-field'
  | 'annots'
  | 'annotation'
  | 'info'
  | 'metadata'
  | 'structure';

export interface ObjectRole {
  role: Role;
  /** For people: "page 1 content", "form field holder", … */
  label: string;
  /** The form or signature field (fully qualified name) this object belongs to. */
  field?: string;
  /** For page dictionaries and their /Annots arrays: the page number (1-based). */
  page?: number;
  /** For field dictionaries (not widgets or appearances): true. */
  isFieldDict?: boolean;
}

export type RoleMap = Map<number, ObjectRole>;

const MAX_OBJECTS = 500_000;
/** Catalog keys whose changes the analysis judges itself rather than as opaque catalog entries. */
const CATALOG_HANDLED = new Set([
  'Type',
  'Pages',
  'AcroForm',
  'DSS',
  'Metadata',
  'Perms',
  'Extensions',
  'Version',
]);
const UPWARD = new Set(['Parent', 'P', 'Data', 'IRT', 'Dest']);

export async function objectRoles(view: PdfRevisionView): Promise<RoleMap> {
  const roles: RoleMap = new Map();
  const mark = (num: number, r: ObjectRole): void => {
    if (!roles.has(num)) roles.set(num, r);
  };
  const walk = (start: PdfObject | undefined, r: ObjectRole, skip: ReadonlySet<string> = UPWARD) =>
    reach(view, start, r, roles, skip);

  for (const section of view.revision.sections) {
    if (section.streamRef)
      mark(section.streamRef.num, { role: 'structure', label: 'cross-reference stream' });
    for (const e of section.entries.values())
      if (e.type === 'compressed') mark(e.streamNum, { role: 'structure', label: 'object stream' });
  }
  const rootRef = view.trailer.get('Root');
  if (rootRef?.kind === 'ref') mark(rootRef.num, { role: 'catalog', label: 'document catalog' });
  const catalog = await view.catalog();

  // Page tree first: its nodes, then everything a page draws with (not its annotations).
  const pages = await view.pages();
  const pageIndex = new Map(pages.map((p) => [p.ref.num, p.index]));
  await markPageTree(view, catalog.get('Pages'), roles, pageIndex, 0);
  for (const page of pages) {
    const label = `page ${page.index + 1} content`;
    for (const [key, value] of page.dict.entries)
      if (key !== 'Annots' && !UPWARD.has(key))
        await walk(value, { role: 'page-content', label, page: page.index + 1 });
    if (page.resources) await walk(page.resources, { role: 'page-content', label, page: page.index + 1 });
  }
  for (const [key, value] of catalog.entries)
    if (!CATALOG_HANDLED.has(key)) await walk(value, { role: 'catalog-entry', label: `catalog /${key}` });

  await walk(catalog.get('DSS'), { role: 'dss', label: 'DSS (validation data)' });

  const fields = await view.fields();
  for (const f of fields) {
    const sigDict = f.value?.kind === 'dict' ? f.value : undefined;
    const isDocTs =
      f.type === 'Sig' &&
      (sigDict?.getName('Type') === 'DocTimeStamp' || sigDict?.getName('SubFilter') === 'ETSI.RFC3161');
    const role: Role = isDocTs ? 'doc-timestamp' : f.type === 'Sig' ? 'signature' : 'form-field';
    const what = isDocTs ? 'document timestamp' : f.type === 'Sig' ? 'signature field' : 'form field';
    const base = { role, label: `${what} ${f.name}`, field: f.name };
    if (f.ref) mark(f.ref.num, { ...base, isFieldDict: true });
    if (f.valueRef) await walk(f.valueRef, base);
    for (const w of f.widgets) await walk(w.ref ?? w.dict, base);
    await walk(f.dict, base);
  }
  const acroRef = catalog.get('AcroForm');
  if (acroRef?.kind === 'ref') mark(acroRef.num, { role: 'acroform', label: 'AcroForm dictionary' });
  await walk(acroRef, { role: 'acroform', label: 'AcroForm dictionary' }, new Set([...UPWARD, 'Fields']));
  const acro = await view.resolveDict(acroRef);
  const fieldsArr = acro?.get('Fields');
  if (fieldsArr?.kind === 'ref') mark(fieldsArr.num, { role: 'acroform', label: 'AcroForm /Fields' });

  for (const page of pages) {
    const annots = page.dict.get('Annots');
    const n = page.index + 1;
    if (annots?.kind === 'ref') mark(annots.num, { role: 'annots', label: `page ${n} /Annots`, page: n });
    for (const a of (await view.resolveArray(annots))?.items ?? []) {
      // A signature widget that /Fields does not list (poppler writes these) is still a signature.
      const d = await view.resolveDict(a);
      const t = await view.resolve(d?.get('T'));
      const name = t?.kind === 'string' ? t.toText() : '';
      if (d?.getName('FT') === 'Sig')
        await walk(a, {
          role: 'signature',
          label: `signature field ${name}`,
          field: name,
          isFieldDict: true,
        });
      else await walk(a, { role: 'annotation', label: `annotation on page ${n}`, page: n });
    }
  }
  await walk(view.trailer.get('Info'), { role: 'info', label: 'document information dictionary' });
  await walk(catalog.get('Metadata'), { role: 'metadata', label: 'XMP metadata' });
  return roles;
}

async function markPageTree(
  view: PdfRevisionView,
  node: PdfObject | undefined,
  roles: RoleMap,
  pageIndex: ReadonlyMap<number, number>,
  depth: number,
): Promise<void> {
  if (node?.kind !== 'ref' || depth > view.doc.limits.maxTreeDepth || roles.has(node.num)) return;
  const dict = await view.resolveDict(node);
  if (!dict) return;
  const kids = await view.resolveArray(dict.get('Kids'));
  if (kids && dict.getName('Type') !== 'Page') {
    roles.set(node.num, { role: 'page-tree', label: 'page tree node' });
    const k = dict.get('Kids');
    if (k?.kind === 'ref') roles.set(k.num, { role: 'page-tree', label: 'page tree node' });
    for (const kid of kids.items) await markPageTree(view, kid, roles, pageIndex, depth + 1);
  } else {
    const n = (pageIndex.get(node.num) ?? -1) + 1;
    roles.set(node.num, { role: 'page', label: `page ${n} dictionary`, page: n });
  }
}

/** Mark every object reachable from `start` that has no role yet, without following keys in `skip`. */
async function reach(
  view: PdfRevisionView,
  start: PdfObject | undefined,
  role: ObjectRole,
  roles: RoleMap,
  skip: ReadonlySet<string>,
): Promise<void> {
  const stack: PdfObject[] = start ? [start] : [];
  let visited = 0;
  while (stack.length) {
    const o = stack.pop() as PdfObject;
    if (++visited > MAX_OBJECTS)
      throw new PdfError(`more than ${MAX_OBJECTS} objects reachable from ${role.label}`);
    switch (o.kind) {
      case 'ref': {
        if (roles.has(o.num)) continue;
        const ind = await view.getIndirect(o).catch(() => undefined);
        if (!ind) continue;
        roles.set(o.num, role);
        stack.push(ind.value);
        break;
      }
      case 'array':
        stack.push(...o.items);
        break;
      case 'dict':
        pushDict(o, stack, skip);
        break;
      case 'stream':
        pushDict(o.dict, stack, skip);
        break;
      default:
    }
  }
}

function pushDict(d: PdfDict, stack: PdfObject[], skip: ReadonlySet<string>): void {
  for (const [k, v] of d.entries) if (!skip.has(k)) stack.push(v);
}
