import { constants, inflateRawSync, inflateSync } from 'node:zlib';
import { PdfFilterError, PdfLimitError, PdfUnsupportedError } from './errors.js';
import type { PdfLimits } from './limits.js';
import type { PdfDict } from './objects.js';

/** One entry of a stream's /Filter + /DecodeParms lists. */
export interface FilterSpec {
  name: string;
  parms?: PdfDict;
}

export interface DecodeResult {
  data: Buffer;
  /** Filters left undecoded: image codecs (DCT, JPX, CCITT, JBIG2) and anything after them. */
  undecoded: FilterSpec[];
}

const ABBREVIATIONS: Record<string, string> = {
  AHx: 'ASCIIHexDecode',
  A85: 'ASCII85Decode',
  LZW: 'LZWDecode',
  Fl: 'FlateDecode',
  RL: 'RunLengthDecode',
  DCT: 'DCTDecode',
  CCF: 'CCITTFaxDecode',
};
const IMAGE_CODECS = new Set(['DCTDecode', 'JPXDecode', 'CCITTFaxDecode', 'JBIG2Decode']);
const MIB = 1024 * 1024;

/**
 * Apply a stream's filters in order (ISO 32000-2 §7.4). Stops at the first image codec and returns
 * the rest as `undecoded`. Output is bounded by `maxDecodedStreamBytes` and, for expanding filters, by
 * `maxDecompressionRatio` × input once the output passes 1 MiB.
 */
export function decodeFilters(input: Buffer, filters: FilterSpec[], limits: PdfLimits): DecodeResult {
  let data = input;
  for (let i = 0; i < filters.length; i++) {
    const spec = filters[i]!;
    const name = ABBREVIATIONS[spec.name] ?? spec.name;
    if (IMAGE_CODECS.has(name)) return { data, undecoded: filters.slice(i) };
    const cap = outputCap(data.length, limits);
    switch (name) {
      case 'FlateDecode':
        data = applyPredictor(inflate(data, cap), spec.parms, cap);
        break;
      case 'LZWDecode':
        data = applyPredictor(lzwDecode(data, earlyChange(spec.parms), cap), spec.parms, cap);
        break;
      case 'ASCIIHexDecode':
        data = asciiHexDecode(data);
        break;
      case 'ASCII85Decode':
        data = ascii85Decode(data, cap);
        break;
      case 'RunLengthDecode':
        data = runLengthDecode(data, cap);
        break;
      case 'Crypt':
        break; // handled by the security handler before the filters run
      default:
        throw new PdfUnsupportedError(`stream filter /${spec.name} is not supported`);
    }
  }
  return { data, undecoded: [] };
}

function outputCap(inputLength: number, limits: PdfLimits): number {
  return Math.min(limits.maxDecodedStreamBytes, Math.max(MIB, inputLength * limits.maxDecompressionRatio));
}

function tooBig(cap: number): PdfLimitError {
  return new PdfLimitError(
    `decoded stream exceeds ${cap} bytes (decompression limit); raise maxDecodedStreamBytes/maxDecompressionRatio if the file is trusted`,
  );
}

function inflate(data: Buffer, cap: number): Buffer {
  // Z_SYNC_FLUSH: many producers truncate or omit the zlib trailer; keep what decodes.
  const opts = { maxOutputLength: cap, finishFlush: constants.Z_SYNC_FLUSH };
  try {
    return inflateSync(data, opts);
  } catch (e) {
    if (e instanceof RangeError || (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooBig(cap);
    try {
      return inflateRawSync(data, opts); // some writers omit the zlib header
    } catch {
      throw new PdfFilterError(`FlateDecode: ${(e as Error).message}`);
    }
  }
}

function intParm(parms: PdfDict | undefined, key: string, dflt: number): number {
  const v = parms?.getNumber(key);
  return v === undefined || !Number.isInteger(v) ? dflt : v;
}

function earlyChange(parms: PdfDict | undefined): number {
  return intParm(parms, 'EarlyChange', 1);
}

/** PNG (§7.4.4.4, predictors 10–15) and TIFF predictor 2 undo. */
export function applyPredictor(data: Buffer, parms: PdfDict | undefined, cap: number): Buffer {
  const predictor = intParm(parms, 'Predictor', 1);
  if (predictor === 1) return data;
  const colors = intParm(parms, 'Colors', 1);
  const bpc = intParm(parms, 'BitsPerComponent', 8);
  const columns = intParm(parms, 'Columns', 1);
  if (colors < 1 || colors > 32 || ![1, 2, 4, 8, 16].includes(bpc) || columns < 1 || columns > 1 << 24)
    throw new PdfFilterError(
      `invalid predictor parameters (Colors ${colors}, BitsPerComponent ${bpc}, Columns ${columns})`,
    );
  const rowBytes = Math.ceil((colors * bpc * columns) / 8);
  const bpp = Math.max(1, Math.ceil((colors * bpc) / 8));
  if (predictor === 2) return tiffPredictor(data, rowBytes, bpp, bpc);
  if (predictor < 10 || predictor > 15) throw new PdfFilterError(`unknown /Predictor ${predictor}`);
  const rows = Math.floor(data.length / (rowBytes + 1));
  if (rows * rowBytes > cap) throw tooBig(cap);
  const out = Buffer.alloc(rows * rowBytes);
  for (let r = 0; r < rows; r++) {
    const inRow = r * (rowBytes + 1);
    const type = data[inRow]!;
    const cur = r * rowBytes;
    const prev = cur - rowBytes;
    for (let i = 0; i < rowBytes; i++) {
      const x = data[inRow + 1 + i]!;
      const left = i >= bpp ? out[cur + i - bpp]! : 0;
      const up = r > 0 ? out[prev + i]! : 0;
      const upLeft = r > 0 && i >= bpp ? out[prev + i - bpp]! : 0;
      let v: number;
      switch (type) {
        case 0: v = x; break; // prettier-ignore
        case 1: v = x + left; break; // prettier-ignore
        case 2: v = x + up; break; // prettier-ignore
        case 3: v = x + ((left + up) >> 1); break; // prettier-ignore
        case 4: v = x + paeth(left, up, upLeft); break; // prettier-ignore
        default:
          throw new PdfFilterError(`invalid PNG row filter type ${type} in row ${r}`);
      }
      out[cur + i] = v & 0xff;
    }
  }
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

function tiffPredictor(data: Buffer, rowBytes: number, bpp: number, bpc: number): Buffer {
  if (bpc !== 8)
    throw new PdfUnsupportedError(`TIFF predictor with ${bpc} bits per component is not supported`);
  const out = Buffer.from(data);
  for (let row = 0; row + rowBytes <= out.length; row += rowBytes)
    for (let i = bpp; i < rowBytes; i++) out[row + i] = (out[row + i]! + out[row + i - bpp]!) & 0xff;
  return out;
}

function asciiHexDecode(data: Buffer): Buffer {
  const out = Buffer.alloc((data.length >> 1) + 1);
  let n = 0;
  let high = -1;
  for (const c of data) {
    if (c === 0x3e) break;
    if (c === 0 || c === 9 || c === 10 || c === 12 || c === 13 || c === 32) continue;
    const v = Number.parseInt(String.fromCharCode(c), 16);
    if (Number.isNaN(v)) throw new PdfFilterError(`ASCIIHexDecode: invalid character 0x${c.toString(16)}`);
    if (high < 0) high = v;
    else {
      out[n++] = high * 16 + v;
      high = -1;
    }
  }
  if (high >= 0) out[n++] = high * 16;
  return out.subarray(0, n);
}

function ascii85Decode(data: Buffer, cap: number): Buffer {
  const out: Buffer[] = [];
  const group = Buffer.alloc(4);
  let total = 0;
  let tuple = 0;
  let count = 0;
  const push = (bytes: number): void => {
    group.writeUInt32BE(tuple >>> 0);
    out.push(Buffer.from(group.subarray(0, bytes)));
    total += bytes;
    if (total > cap) throw tooBig(cap);
  };
  for (let i = 0; i < data.length; i++) {
    const c = data[i]!;
    if (c === 0x7e) break; // "~>"
    if (c <= 32) continue;
    if (c === 0x7a && count === 0) {
      tuple = 0;
      push(4);
      continue;
    }
    if (c < 0x21 || c > 0x75)
      throw new PdfFilterError(`ASCII85Decode: invalid character 0x${c.toString(16)}`);
    tuple = tuple * 85 + (c - 0x21);
    if (++count === 5) {
      if (tuple > 0xffffffff) throw new PdfFilterError('ASCII85Decode: group value out of range');
      push(4);
      tuple = 0;
      count = 0;
    }
  }
  if (count === 1) throw new PdfFilterError('ASCII85Decode: final group has a single character');
  if (count > 1) {
    for (let k = count; k < 5; k++) tuple = tuple * 85 + 84;
    if (tuple > 0xffffffff) throw new PdfFilterError('ASCII85Decode: group value out of range');
    push(count - 1);
  }
  return Buffer.concat(out);
}

function runLengthDecode(data: Buffer, cap: number): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  let i = 0;
  while (i < data.length) {
    const n = data[i++]!;
    if (n === 128) break;
    let piece: Buffer;
    if (n < 128) {
      piece = data.subarray(i, i + n + 1);
      i += n + 1;
    } else {
      if (i >= data.length) break;
      piece = Buffer.alloc(257 - n, data[i++]!);
    }
    total += piece.length;
    if (total > cap) throw tooBig(cap);
    out.push(piece);
  }
  return Buffer.concat(out);
}

/** LZW (§7.4.4): 9–12-bit codes, 256 = clear, 257 = end; EarlyChange shifts the code-width switch. */
function lzwDecode(data: Buffer, early: number, cap: number): Buffer {
  const prefix = new Int32Array(4096);
  const suffix = new Uint8Array(4096);
  const lengths = new Int32Array(4096);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    lengths[i] = 1;
  }
  let out = Buffer.alloc(Math.min(cap, Math.max(1024, data.length * 4)));
  let n = 0;
  let next = 258;
  let width = 9;
  let prev = -1;
  let bitBuf = 0;
  let bitCount = 0;
  let pos = 0;
  const ensure = (extra: number): void => {
    if (n + extra <= out.length) return;
    if (n + extra > cap) throw tooBig(cap);
    const bigger = Buffer.alloc(Math.min(cap, Math.max(out.length * 2, n + extra)));
    out.copy(bigger, 0, 0, n);
    out = bigger;
  };
  const emit = (code: number): number => {
    const len = lengths[code]!;
    ensure(len);
    let c = code;
    for (let k = len - 1; k >= 0; k--) {
      out[n + k] = suffix[c]!;
      c = prefix[c]!;
    }
    n += len;
    return out[n - len]!; // first byte of the emitted string
  };
  for (;;) {
    while (bitCount < width && pos < data.length) {
      bitBuf = ((bitBuf << 8) | data[pos++]!) >>> 0;
      bitCount += 8;
    }
    if (bitCount < width) break;
    const code = (bitBuf >>> (bitCount - width)) & ((1 << width) - 1);
    bitCount -= width;
    bitBuf &= (1 << bitCount) - 1;
    if (code === 256) {
      next = 258;
      width = 9;
      prev = -1;
      continue;
    }
    if (code === 257) break;
    if (prev < 0) {
      if (code > 255) throw new PdfFilterError(`LZWDecode: invalid first code ${code}`);
      emit(code);
      prev = code;
      continue;
    }
    let first: number;
    if (code < next) first = emit(code);
    else if (code === next) {
      // KwKwK case: the new string is prev + first byte of prev
      const start = n;
      emit(prev);
      ensure(1);
      out[n++] = out[start]!;
      first = out[start]!;
    } else throw new PdfFilterError(`LZWDecode: invalid code ${code}`);
    if (next < 4096) {
      prefix[next] = prev;
      suffix[next] = first;
      lengths[next] = lengths[prev]! + 1;
      next++;
    }
    prev = code;
    if (next + early >= 1 << width && width < 12) width++;
  }
  return out.subarray(0, n);
}
