/**
 * Signature dictionaries (ISO 32000-2 §12.8.1, Table 255): a PAdES signature (/SubFilter
 * /ETSI.CAdES.detached, ETSI EN 319 142-1 §5.1) or a document timestamp (/Type /DocTimeStamp,
 * /SubFilter /ETSI.RFC3161, §5.4), with the /ByteRange and /Contents placeholders, and the signature
 * references for certification (DocMDP, §12.8.2.2) and field locks (FieldMDP, §12.8.2.4).
 */
import { PdfArray, PdfName, PdfNumber } from '../objects.js';
import { WritableArray, WritableDict } from '../writer/serialize.js';
import type { FieldLock } from './field.js';
import { byteRangePlaceholder, contentsPlaceholder } from './placeholder.js';
import { pdfDate, textString } from './text.js';

/** DocMDP permissions (Table 257): 1 no changes, 2 form filling and signing, 3 also annotations. */
export type DocMdpPermission = 1 | 2 | 3;

export interface SignatureDetails {
  reason?: string;
  location?: string;
  contactInfo?: string;
  /** The signer's name (/Name); informative only. */
  name?: string;
  /** /M, the claimed signing time (not trusted: the timestamp is). Default: now. */
  signingTime?: Date;
}

export function signatureDictionary(
  contentsBytes: number,
  details: SignatureDetails,
  refs: { certify?: DocMdpPermission; lock?: FieldLock },
): WritableDict {
  const d = new WritableDict()
    .set('Type', new PdfName('Sig'))
    .set('Filter', new PdfName('Adobe.PPKLite'))
    .set('SubFilter', new PdfName('ETSI.CAdES.detached'))
    .set('ByteRange', byteRangePlaceholder())
    .set('Contents', contentsPlaceholder(contentsBytes))
    .set('M', pdfDate(details.signingTime ?? new Date()));
  if (details.name) d.set('Name', textString(details.name));
  if (details.reason) d.set('Reason', textString(details.reason));
  if (details.location) d.set('Location', textString(details.location));
  if (details.contactInfo) d.set('ContactInfo', textString(details.contactInfo));
  const references: WritableDict[] = [];
  if (refs.certify) references.push(docMdpReference(refs.certify));
  if (refs.lock) references.push(fieldMdpReference(refs.lock));
  if (references.length) d.set('Reference', new WritableArray(references));
  return d;
}

export function documentTimestampDictionary(contentsBytes: number): WritableDict {
  return new WritableDict()
    .set('Type', new PdfName('DocTimeStamp'))
    .set('Filter', new PdfName('Adobe.PPKLite'))
    .set('SubFilter', new PdfName('ETSI.RFC3161'))
    .set('ByteRange', byteRangePlaceholder())
    .set('Contents', contentsPlaceholder(contentsBytes));
}

function transformParams(): WritableDict {
  return new WritableDict().set('Type', new PdfName('TransformParams')).set('V', new PdfName('1.2'));
}

function docMdpReference(p: DocMdpPermission): WritableDict {
  return new WritableDict()
    .set('Type', new PdfName('SigRef'))
    .set('TransformMethod', new PdfName('DocMDP'))
    .set('TransformParams', transformParams().set('P', PdfNumber.int(p)));
}

function fieldMdpReference(lock: FieldLock): WritableDict {
  const params = transformParams().set('Action', new PdfName(lock.action));
  if (lock.action !== 'All')
    params.set('Fields', new PdfArray((lock.fields ?? []).map((f) => textString(f))));
  return new WritableDict()
    .set('Type', new PdfName('SigRef'))
    .set('TransformMethod', new PdfName('FieldMDP'))
    .set('TransformParams', params);
}
