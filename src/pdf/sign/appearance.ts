/**
 * The normal appearance of a visible signature (ISO 32000-2 §12.7.5.5, §12.5.5): a form XObject with
 * the text lines in Helvetica (a standard 14 font, §9.6.2.2, WinAnsiEncoding) and optionally an image
 * (a hand-written signature) on the left, scaled to keep its aspect ratio.
 */
import { PdfArray, PdfName, PdfNumber } from '../objects.js';
import type { PdfRef } from '../objects.js';
import type { IncrementalUpdate } from '../writer/incremental.js';
import { PdfNewStream, WritableDict } from '../writer/serialize.js';
import { loadImage } from './image.js';

export interface AppearanceContent {
  lines: string[];
  /** PNG or JPEG bytes. */
  image?: Buffer;
}

/** Write the appearance XObject for a widget of `width` × `height` points; returns its reference. */
export function writeAppearance(
  update: IncrementalUpdate,
  width: number,
  height: number,
  content: AppearanceContent,
): PdfRef {
  const xobjects = new WritableDict();
  const ops: string[] = [];
  let textLeft = 2;
  if (content.image) {
    const img = loadImage(content.image);
    if (img.smask) img.image.dict.entries.set('SMask', update.add(img.smask));
    xobjects.set('Im1', update.add(img.image));
    const area = content.lines.length ? width * 0.45 : width;
    const scale = Math.min(area / img.width, height / img.height);
    const w = img.width * scale;
    const h = img.height * scale;
    ops.push(`q ${num(w)} 0 0 ${num(h)} ${num((area - w) / 2)} ${num((height - h) / 2)} cm /Im1 Do Q`);
    textLeft = area + 2;
  }
  const fonts = new WritableDict();
  if (content.lines.length) {
    fonts.set(
      'F1',
      update.add(
        new WritableDict()
          .set('Type', new PdfName('Font'))
          .set('Subtype', new PdfName('Type1'))
          .set('BaseFont', new PdfName('Helvetica'))
          .set('Encoding', new PdfName('WinAnsiEncoding')),
      ),
    );
    const size = Math.max(4, Math.min(10, (height - 4) / (content.lines.length * 1.2)));
    ops.push(`BT /F1 ${num(size)} Tf ${num(size * 1.2)} TL ${num(textLeft)} ${num(height - 2 - size)} Td`);
    content.lines.forEach((line, i) => ops.push(`${i ? 'T* ' : ''}${winAnsiLiteral(line)} Tj`));
    ops.push('ET');
  }
  const resources = new WritableDict().set(
    'ProcSet',
    new PdfArray([new PdfName('PDF'), new PdfName('Text'), new PdfName('ImageC')]),
  );
  if (fonts.entries.size) resources.set('Font', fonts);
  if (xobjects.entries.size) resources.set('XObject', xobjects);
  const dict = new WritableDict()
    .set('Type', new PdfName('XObject'))
    .set('Subtype', new PdfName('Form'))
    .set('BBox', new PdfArray([0, 0, width, height].map((v) => new PdfNumber(v, Number.isInteger(v)))))
    .set('Resources', resources);
  return update.add(new PdfNewStream(dict, Buffer.from(ops.join('\n'), 'latin1')));
}

function num(v: number): string {
  return v.toFixed(3).replace(/\.?0+$/, '') || '0';
}

/** A literal string in WinAnsiEncoding (characters outside it become "?"). */
function winAnsiLiteral(text: string): string {
  let out = '(';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    const byte = c >= 0x20 && c <= 0x7e ? c : c >= 0xa0 && c <= 0xff ? c : 0x3f;
    out += byte === 0x28 || byte === 0x29 || byte === 0x5c ? `\\${ch}` : String.fromCharCode(byte);
  }
  return out + ')';
}
