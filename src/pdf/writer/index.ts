/** The incremental writer: serialise objects, append an update, edit existing objects. */
export { IncrementalUpdate } from './incremental.js';
export type { BuiltUpdate } from './incremental.js';
export {
  PdfNewStream,
  PdfRaw,
  WritableArray,
  WritableDict,
  serializeName,
  serializeObject,
} from './serialize.js';
export type { WritableObject } from './serialize.js';
export { appendToArrayEntry, catalogRef, editArray, editDict } from './edit.js';
export { appendToFile, drain, patchFile, writeIncremental } from './output.js';
export type { PdfInput } from './output.js';
export { PdfWriteError } from './errors.js';
