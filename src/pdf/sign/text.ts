/** PDF text strings and dates as signature dictionaries carry them (ISO 32000-2 §7.9.2, §7.9.4). */
import { PdfString } from '../objects.js';

/** PDFDocEncoding when the text is printable ASCII, else UTF-16BE with a byte-order mark. */
export function textString(text: string): PdfString {
  if (/^[\x20-\x7e]*$/.test(text)) return new PdfString(Buffer.from(text, 'latin1'));
  const utf16 = Buffer.from(text, 'utf16le').swap16();
  return new PdfString(Buffer.concat([Buffer.from([0xfe, 0xff]), utf16]), true);
}

/** D:YYYYMMDDHHmmSS+00'00' in UTC. */
export function pdfDate(d: Date): PdfString {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const s =
    `D:${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}+00'00'`;
  return new PdfString(Buffer.from(s, 'latin1'));
}
