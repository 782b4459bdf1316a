/**
 * Editing existing objects inside an incremental update: read the object as of the current revision
 * (or the version this update already holds), copy it, change the copy, write the copy under the same
 * object number. Several edits to one object (the catalog gets /AcroForm, /Perms and /DSS) compose.
 */
import type { PdfObject, PdfRef } from '../objects.js';
import { PdfWriteError } from './errors.js';
import type { IncrementalUpdate } from './incremental.js';
import { WritableArray, WritableDict, type WritableObject } from './serialize.js';

async function current(update: IncrementalUpdate, ref: PdfRef): Promise<WritableObject> {
  return update.pending(ref) ?? (await update.doc.getObject(ref));
}

/** Change the dictionary object `ref`. */
export async function editDict(
  update: IncrementalUpdate,
  ref: PdfRef,
  change: (dict: WritableDict) => void | Promise<void>,
): Promise<void> {
  const obj = await current(update, ref);
  if (obj.kind !== 'dict' && obj.kind !== 'wdict')
    throw new PdfWriteError(`object ${ref.toString()} is a ${obj.kind}, expected a dictionary`);
  const copy = new WritableDict(new Map<string, WritableObject | undefined>(obj.entries));
  await change(copy);
  update.set(ref, copy);
}

/** Change the array object `ref`. */
export async function editArray(
  update: IncrementalUpdate,
  ref: PdfRef,
  change: (items: WritableObject[]) => void,
): Promise<void> {
  const obj = await current(update, ref);
  if (obj.kind !== 'array' && obj.kind !== 'warray')
    throw new PdfWriteError(`object ${ref.toString()} is a ${obj.kind}, expected an array`);
  const items = [...obj.items];
  change(items);
  update.set(ref, new WritableArray(items));
}

/**
 * Append `item` to the array at `dict[key]`: edits the array object when the entry is a reference,
 * else replaces the direct array (or creates one) in `dict`.
 */
export async function appendToArrayEntry(
  update: IncrementalUpdate,
  dict: WritableDict,
  key: string,
  item: WritableObject,
): Promise<void> {
  const entry = dict.entries.get(key);
  if (entry?.kind === 'ref') {
    const target = await update.doc.resolve(entry);
    if (target?.kind === 'array' || update.pending(entry)?.kind === 'warray') {
      await editArray(update, entry, (items) => items.push(item));
      return;
    }
  }
  const items: WritableObject[] = entry?.kind === 'array' || entry?.kind === 'warray' ? [...entry.items] : [];
  items.push(item);
  dict.set(key, new WritableArray(items));
}

/** The catalog's reference (the trailer's /Root). */
export function catalogRef(update: IncrementalUpdate): PdfRef {
  const root = update.doc.trailer.get('Root');
  if (root?.kind !== 'ref') throw new PdfWriteError('the trailer /Root is not an indirect reference');
  return root;
}

export type { PdfObject };
