import { PdfLimitError, PdfSyntaxError, PdfXrefError } from './errors.js';
import { Lexer } from './lexer.js';
import type { PdfLimits } from './limits.js';
import type { PdfObject, PdfStream } from './objects.js';
import { ObjectParser } from './parser.js';

/** A decoded object stream (ISO 32000-2 §7.5.7): the N (number, offset) pairs and the object data. */
export interface ObjectStream {
  readonly streamNum: number;
  readonly numbers: readonly number[];
  readonly offsets: readonly number[];
  /** Decoded stream data; object i starts at first + offsets[i]. */
  readonly data: Buffer;
  readonly first: number;
}

/** Parse the header of a decoded object stream. */
export function parseObjectStream(
  streamNum: number,
  stream: PdfStream,
  decoded: Buffer,
  limits: PdfLimits,
): ObjectStream {
  const dict = stream.dict;
  if (dict.getName('Type') !== 'ObjStm')
    throw new PdfXrefError(`object ${streamNum} is not an object stream (/Type /ObjStm)`);
  const n = dict.getNumber('N');
  const first = dict.getNumber('First');
  if (
    n === undefined ||
    !Number.isSafeInteger(n) ||
    n < 0 ||
    first === undefined ||
    !Number.isSafeInteger(first) ||
    first < 0 ||
    first > decoded.length
  )
    throw new PdfSyntaxError(`object stream ${streamNum} has an invalid /N or /First`);
  if (n > limits.maxObjectStreamObjects)
    throw new PdfLimitError(
      `object stream ${streamNum} holds ${n} objects, more than ${limits.maxObjectStreamObjects}`,
    );
  const lex = new Lexer(decoded.subarray(0, first), 0, true, limits.maxStringBytes);
  const numbers: number[] = [];
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = lex.next();
    const b = lex.next();
    if (
      a.type !== 'int' ||
      b.type !== 'int' ||
      a.value < 0 ||
      b.value < 0 ||
      first + b.value > decoded.length
    )
      throw new PdfSyntaxError(`object stream ${streamNum}: entry ${i} of its header is invalid`);
    numbers.push(a.value);
    offsets.push(b.value);
  }
  return { streamNum, numbers, offsets, data: decoded, first };
}

/**
 * The object at `index` in the stream; if the header names a different object there, the entry for
 * `num` is looked up instead (writers sometimes disagree with their xref about the index).
 */
export function objectFromStream(os: ObjectStream, num: number, index: number, limits: PdfLimits): PdfObject {
  let i = index;
  if (os.numbers[i] !== num) i = os.numbers.indexOf(num);
  if (i < 0) throw new PdfXrefError(`object ${num} is not in object stream ${os.streamNum}`);
  const start = os.first + os.offsets[i]!;
  const lex = new Lexer(os.data, 0, true, limits.maxStringBytes);
  lex.pos = start;
  const value = new ObjectParser(lex, limits, false).parseValue(0);
  const after = lex.peek();
  if (after.type === 'keyword' && after.value === 'stream')
    throw new PdfSyntaxError(
      `object ${num} in object stream ${os.streamNum} is a stream, which is not allowed`,
    );
  return value;
}
