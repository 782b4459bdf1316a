/**
 * Images for visible signatures as PDF image XObjects (ISO 32000-2 §8.9.5): JPEG is embedded as is
 * (/DCTDecode), PNG is decoded (RFC 2083 filters, palettes, 16-bit samples reduced to 8) and re-encoded
 * with /FlateDecode, its alpha channel becoming a /SMask (§11.6.5.3).
 */
import { inflateSync, deflateSync } from 'node:zlib';
import { PdfName, PdfNumber } from '../objects.js';
import { PdfNewStream, WritableDict } from '../writer/serialize.js';
import { PdfSignError } from './errors.js';

export interface DecodedImage {
  width: number;
  height: number;
  /** The image XObject; `smask` is its alpha channel, to be written first and referenced. */
  image: PdfNewStream;
  smask?: PdfNewStream;
}

const MAX_PIXELS = 40_000_000;

export function loadImage(bytes: Buffer): DecodedImage {
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpeg(bytes);
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return png(bytes);
  throw new PdfSignError('the signature image must be a PNG or a JPEG file');
}

function imageDict(width: number, height: number, colorSpace: string, filter: string): WritableDict {
  return new WritableDict()
    .set('Type', new PdfName('XObject'))
    .set('Subtype', new PdfName('Image'))
    .set('Width', PdfNumber.int(width))
    .set('Height', PdfNumber.int(height))
    .set('ColorSpace', new PdfName(colorSpace))
    .set('BitsPerComponent', PdfNumber.int(8))
    .set('Filter', new PdfName(filter));
}

/** Dimensions and components from the first SOFn marker (ITU T.81 §B.2.2). */
function jpeg(bytes: Buffer): DecodedImage {
  let at = 2;
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) throw new PdfSignError('the JPEG image is malformed (marker expected)');
    const marker = bytes[at + 1]!;
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = bytes.readUInt16BE(at + 2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (at + 10 > bytes.length) break;
      const height = bytes.readUInt16BE(at + 5);
      const width = bytes.readUInt16BE(at + 7);
      const components = bytes[at + 9]!;
      const cs =
        components === 1
          ? 'DeviceGray'
          : components === 3
            ? 'DeviceRGB'
            : components === 4
              ? 'DeviceCMYK'
              : '';
      if (!cs || !width || !height) throw new PdfSignError('the JPEG image has an unsupported layout');
      return { width, height, image: new PdfNewStream(imageDict(width, height, cs, 'DCTDecode'), bytes) };
    }
    at += 2 + length;
  }
  throw new PdfSignError('the JPEG image has no frame header (SOF)');
}

interface PngHeader {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlace: number;
}

function png(bytes: Buffer): DecodedImage {
  let header: PngHeader | undefined;
  let palette: Buffer | undefined;
  let trns: Buffer | undefined;
  const idat: Buffer[] = [];
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (data.length !== length) throw new PdfSignError('the PNG image is truncated');
    if (type === 'IHDR') {
      if (length !== 13) throw new PdfSignError('the PNG image has a malformed IHDR chunk');
      header = {
        width: data.readUInt32BE(0),
        height: data.readUInt32BE(4),
        depth: data[8]!,
        colorType: data[9]!,
        interlace: data[12]!,
      };
    } else if (type === 'PLTE') palette = data;
    else if (type === 'tRNS') trns = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    at += 12 + length;
  }
  if (!header) throw new PdfSignError('the PNG image has no IHDR chunk');
  const { width, height, depth, colorType } = header;
  if (!width || !height || width * height > MAX_PIXELS)
    throw new PdfSignError('the PNG image is empty or too large');
  if (header.interlace)
    throw new PdfSignError('interlaced PNG images are not supported: save it without interlacing');
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colorType];
  if (!channels || ![1, 2, 4, 8, 16].includes(depth))
    throw new PdfSignError('the PNG image has an unsupported colour type or depth');
  if (colorType === 3 && !palette) throw new PdfSignError('the palette PNG image has no PLTE chunk');
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat), { maxOutputLength: (width * channels * 2 + 1) * height + 1024 });
  } catch {
    throw new PdfSignError('the PNG image data cannot be decompressed');
  }
  const rows = unfilter(raw, width, height, channels, depth);
  // Expand to 8-bit samples: colour (1 or 3 channels) and alpha.
  const colorChannels = colorType === 0 || colorType === 4 ? 1 : 3;
  const color = Buffer.alloc(width * height * colorChannels);
  const alpha = Buffer.alloc(width * height, 0xff);
  let hasAlpha = colorType === 4 || colorType === 6;
  const stride = Math.ceil((width * channels * depth) / 8);
  const sample = (row: Buffer, i: number): number => {
    if (depth === 8) return row[i]!;
    if (depth === 16) return row[i * 2]!;
    const bitsAt = i * depth;
    const v = (row[bitsAt >> 3]! >> (8 - depth - (bitsAt & 7))) & ((1 << depth) - 1);
    return colorType === 3 ? v : Math.round((v * 255) / ((1 << depth) - 1));
  };
  for (let y = 0; y < height; y++) {
    const row = rows.subarray(y * stride, (y + 1) * stride);
    for (let x = 0; x < width; x++) {
      const p = y * width + x;
      if (colorType === 3) {
        const idx = sample(row, x);
        palette!.copy(color, p * 3, idx * 3, idx * 3 + 3);
        if (trns && idx < trns.length) {
          alpha[p] = trns[idx]!;
          hasAlpha = true;
        }
        continue;
      }
      for (let c = 0; c < colorChannels; c++) color[p * colorChannels + c] = sample(row, x * channels + c);
      if (channels === 2 || channels === 4) alpha[p] = sample(row, x * channels + channels - 1);
    }
  }
  const image = new PdfNewStream(
    imageDict(width, height, colorChannels === 1 ? 'DeviceGray' : 'DeviceRGB', 'FlateDecode'),
    deflateSync(color),
  );
  if (!hasAlpha) return { width, height, image };
  const smask = new PdfNewStream(imageDict(width, height, 'DeviceGray', 'FlateDecode'), deflateSync(alpha));
  return { width, height, image, smask };
}

/** Undo the per-row filters (RFC 2083 §6). */
function unfilter(raw: Buffer, width: number, height: number, channels: number, depth: number): Buffer {
  const bpp = Math.max(1, Math.ceil((channels * depth) / 8));
  const stride = Math.ceil((width * channels * depth) / 8);
  if (raw.length < (stride + 1) * height) throw new PdfSignError('the PNG image data is truncated');
  const out = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i]!;
      const a = i >= bpp ? out[dst + i - bpp]! : 0;
      const b = y > 0 ? out[dst - stride + i]! : 0;
      const c = i >= bpp && y > 0 ? out[dst - stride + i - bpp]! : 0;
      let v: number;
      switch (filter) {
        case 0:
          v = x;
          break;
        case 1:
          v = x + a;
          break;
        case 2:
          v = x + b;
          break;
        case 3:
          v = x + ((a + b) >> 1);
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default:
          throw new PdfSignError(`the PNG image uses an unknown row filter ${filter}`);
      }
      out[dst + i] = v & 0xff;
    }
  }
  return out;
}
