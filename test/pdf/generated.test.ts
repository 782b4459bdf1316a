import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BufferSource,
  PdfDocument,
  PdfLimitError,
  PdfLoopError,
  PdfSyntaxError,
  PdfXrefError,
} from '../../src/pdf/index.js';
import type { OpenOptions } from '../../src/pdf/index.js';
import { haveOracle, run } from '../helpers/run.js';

/**
 * A tiny PDF generator for edge cases: it writes objects, remembers their offsets, and appends xref
 * tables or xref streams (optionally as incremental updates), so every broken variant is produced by
 * code rather than by hand-edited bytes.
 */
class PdfWriter {
  private parts: Buffer[] = [];
  length = 0;
  readonly offsets = new Map<number, number>();
  lastXref = -1;

  constructor(header = '%PDF-1.7\n%\xe2\xe3\xcf\xd3\n') {
    this.raw(Buffer.from(header, 'latin1'));
  }
  raw(b: Buffer | string): number {
    const at = this.length;
    const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
    this.parts.push(buf);
    this.length += buf.length;
    return at;
  }
  obj(num: number, body: string, gen = 0): number {
    const at = this.raw(`${num} ${gen} obj\n${body}\nendobj\n`);
    this.offsets.set(num, at);
    return at;
  }
  stream(num: number, dict: string, data: Buffer, length: string = String(data.length)): number {
    const at = this.raw(`${num} 0 obj\n<< ${dict} /Length ${length} >>\nstream\n`);
    this.raw(data);
    this.raw('\nendstream\nendobj\n');
    this.offsets.set(num, at);
    return at;
  }
  /** Classic xref table covering `nums` (one subsection per contiguous run) + trailer + %%EOF. */
  table(
    nums: number[],
    trailer: string,
    opts: { eol?: string; free?: number[]; header?: (start: number, count: number) => string } = {},
  ): number {
    const eol = opts.eol ?? ' \n';
    const at = this.length;
    let s = 'xref\n';
    const all = [...new Set([...nums, ...(opts.free ?? [])])].sort((a, b) => a - b);
    for (let i = 0; i < all.length;) {
      let j = i;
      while (j + 1 < all.length && all[j + 1] === all[j]! + 1) j++;
      s += opts.header ? opts.header(all[i]!, j - i + 1) : `${all[i]} ${j - i + 1}\n`;
      for (let k = i; k <= j; k++) {
        const n = all[k]!;
        if (n === 0) s += `0000000000 65535 f${eol}`;
        else if (opts.free?.includes(n)) s += `0000000000 00001 f${eol}`;
        else s += `${String(this.offsets.get(n)).padStart(10, '0')} 00000 n${eol}`;
      }
      i = j + 1;
    }
    this.raw(
      `${s}trailer\n<< ${trailer}${this.lastXref >= 0 && !trailer.includes('/Prev') ? ` /Prev ${this.lastXref}` : ''} >>\nstartxref\n${at}\n%%EOF\n`,
    );
    this.lastXref = at;
    return at;
  }
  /** Xref stream object `num` with entries [num, type, f2, f3]. */
  xrefStream(num: number, rows: [number, number, number, number][], trailer: string): number {
    const at = this.length;
    const all = [...rows, [num, 1, at, 0] as [number, number, number, number]].sort((a, b) => a[0] - b[0]);
    const data = Buffer.alloc(all.length * 7);
    all.forEach(([, t, f2, f3], i) => {
      data[i * 7] = t;
      data.writeUInt32BE(f2, i * 7 + 1);
      data.writeUInt16BE(f3, i * 7 + 5);
    });
    const index = all.map(([n]) => `${n} 1`).join(' ');
    const prev = this.lastXref >= 0 ? ` /Prev ${this.lastXref}` : '';
    this.stream(
      num,
      `/Type /XRef /W [1 4 2] /Index [${index}] ${trailer}${prev} /Filter /FlateDecode`,
      deflateSync(data),
    );
    this.raw(`startxref\n${at}\n%%EOF\n`);
    this.lastXref = at;
    return at;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function basicDoc(content = 'BT /F1 12 Tf 72 720 Td (revision 0) Tj ET', catalogExtra = ''): PdfWriter {
  const w = new PdfWriter();
  w.obj(1, `<< /Type /Catalog /Pages 2 0 R ${catalogExtra}>>`);
  w.obj(2, '<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 595 842] /Resources << >> >>');
  w.obj(3, '<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Rotate 90 >>');
  w.stream(4, '', Buffer.from(content));
  return w;
}

const open = (bytes: Buffer, opts?: OpenOptions): Promise<PdfDocument> =>
  PdfDocument.open(new BufferSource(bytes), opts);
async function pageText(doc: PdfDocument, revision?: number): Promise<string> {
  const view = revision === undefined ? doc.latest : doc.atRevision(revision);
  const [page] = await view.pages();
  return (await view.pageContent(page!)).toString('latin1');
}

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'sealpost-pdf-gen-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function qpdfCheck(bytes: Buffer, name: string): Promise<string> {
  const path = join(scratch, name);
  await writeFile(path, bytes);
  const r = await run('qpdf', ['--check', path]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  return path;
}

describe('incremental updates', () => {
  function threeRevisions(): Buffer {
    const w = basicDoc();
    w.table([0, 1, 2, 3, 4], '/Size 5 /Root 1 0 R');
    w.stream(4, '', Buffer.from('BT /F1 12 Tf 72 720 Td (revision 1) Tj ET'));
    w.obj(5, '<< /Producer (update one) >>');
    w.table([4, 5], '/Size 6 /Root 1 0 R /Info 5 0 R');
    // The second update is an xref stream that changes the content again and deletes object 5.
    w.stream(4, '', Buffer.from('BT /F1 12 Tf 72 720 Td (revision 2) Tj ET'));
    w.xrefStream(
      6,
      [
        [4, 1, w.offsets.get(4)!, 0],
        [5, 0, 0, 1],
      ],
      '/Size 7 /Root 1 0 R',
    );
    return w.bytes();
  }

  it('shows three revisions, each with its own objects, and qpdf reads the same file', async () => {
    const bytes = threeRevisions();
    const doc = await open(bytes);
    expect(doc.revisions.map((r) => r.sections.map((s) => s.kind).join())).toEqual([
      'table',
      'table',
      'stream',
    ]);
    for (let i = 0; i < 3; i++) expect(await pageText(doc, i)).toContain(`(revision ${i})`);
    expect(await doc.atRevision(0).getIndirect(5)).toBeUndefined();
    expect(
      (await doc.atRevision(1).resolveDict(doc.atRevision(1).trailer.get('Info')))?.get('Producer'),
    ).toMatchObject({ bytes: Buffer.from('update one') });
    expect(await doc.atRevision(2).getIndirect(5)).toBeUndefined(); // freed by the last update
    expect(doc.atRevision(2).objectNumbers()).toEqual([1, 2, 3, 4, 6]);
    // Each revision ends just past its %%EOF line; its prefix is a complete PDF of that revision.
    for (const r of doc.revisions) {
      expect(bytes.toString('latin1', r.endOffset - 6, r.endOffset)).toBe('%%EOF\n');
      const prefix = await open(bytes.subarray(0, r.endOffset));
      expect(prefix.revisions).toHaveLength(r.index + 1);
      expect(await pageText(prefix)).toContain(`(revision ${r.index})`);
    }
    const [page] = await doc.pages();
    expect(page!.mediaBox).toEqual([0, 0, 595, 842]); // inherited from /Pages
    expect(page!.rotate).toBe(90);
    if (haveOracle('qpdf')) {
      const path = await qpdfCheck(bytes, 'three-revisions.pdf');
      const r = await run('qpdf', ['--show-object=4', '--filtered-stream-data', path]);
      expect(r.stdout).toBe('BT /F1 12 Tf 72 720 Td (revision 2) Tj ET');
    }
  });

  it('a /Prev chain that loops is a PdfLoopError', async () => {
    const w = basicDoc();
    const at = w.length;
    w.table([0, 1, 2, 3, 4], `/Size 5 /Root 1 0 R /Prev ${at}`);
    await expect(open(w.bytes())).rejects.toBeInstanceOf(PdfLoopError);
  });
});

describe('cross-reference variants', () => {
  it('reads a hybrid-reference file (/XRefStm) whose compressed objects only the stream lists', async () => {
    const w = new PdfWriter();
    w.obj(1, '<< /Type /Catalog /Pages 2 0 R >>');
    w.obj(3, '<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>');
    w.stream(4, '', Buffer.from('BT (hybrid) Tj ET'));
    const members = '<< /Type /Pages /Kids [3 0 R] /Count 1 /MediaBox [0 0 100 100] >>';
    const objstm = Buffer.from(`2 0 ${members}`);
    w.stream(5, `/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode`, deflateSync(objstm));
    const xrefStmAt = w.length;
    w.stream(
      6,
      `/Type /XRef /W [1 4 2] /Index [2 1] /Size 7 /Filter /FlateDecode`,
      deflateSync(Buffer.from([2, 0, 0, 0, 5, 0, 0])),
    );
    w.table([0, 1, 3, 4, 5, 6], `/Size 7 /Root 1 0 R /XRefStm ${xrefStmAt}`, { free: [2] });
    const doc = await open(w.bytes());
    expect(doc.revisions[0]!.sections[0]!.hybrid?.kind).toBe('stream');
    expect((await doc.latest.getIndirect(2))?.location).toEqual({
      kind: 'compressed',
      streamNum: 5,
      index: 0,
    });
    expect(await pageText(doc)).toContain('(hybrid)');
    if (haveOracle('qpdf')) await qpdfCheck(w.bytes(), 'hybrid.pdf');
  });

  it('accepts 19- and 21-byte entries, a subsection numbered from 1 and a wrong count', async () => {
    for (const eol of ['\n', ' \r\n', '\r\n']) {
      const w = basicDoc();
      w.table([0, 1, 2, 3, 4], '/Size 5 /Root 1 0 R', {
        eol,
        header: (start, count) => `${start === 0 ? 1 : start} ${count + 3}\n`,
      });
      const doc = await open(w.bytes());
      expect(await pageText(doc)).toContain('(revision 0)');
    }
  });

  it('gives a clear PdfXrefError for a wrong offset, and { recover: true } rebuilds the xref', async () => {
    const w = basicDoc();
    w.offsets.set(4, w.offsets.get(4)! + 3);
    w.table([0, 1, 2, 3, 4], '/Size 5 /Root 1 0 R');
    const doc = await open(w.bytes());
    await expect(pageText(doc)).rejects.toThrow(/xref entry for object 4 0 \(byte \d+\) is wrong/);
    await expect(pageText(doc)).rejects.toBeInstanceOf(PdfXrefError);

    const broken = Buffer.from(
      w
        .bytes()
        .toString('latin1')
        .replace(/startxref\n\d+/, 'startxref\n20'),
      'latin1',
    );
    await expect(open(broken)).rejects.toThrow('xref offset 20 does not point at an xref table or stream');
    const recovered = await open(broken, { recover: true });
    expect(recovered.recovered).toBe(true);
    expect(await pageText(recovered)).toContain('(revision 0)');
    const truncated = await open(w.bytes().subarray(0, w.offsets.get(4)! - 3), { recover: true });
    expect(truncated.recovered).toBe(true);
    expect(await truncated.pages()).toHaveLength(1);
  });

  it('detects self-referencing /Length, object streams containing themselves and page-tree loops', async () => {
    const a = new PdfWriter();
    a.obj(1, '<< /Type /Catalog /Pages 2 0 R >>');
    a.obj(2, '<< /Type /Pages /Kids [3 0 R] /Count 1 >>');
    a.obj(3, '<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>');
    a.stream(4, '', Buffer.from('BT ET'), '4 0 R');
    a.table([0, 1, 2, 3, 4], '/Size 5 /Root 1 0 R');
    await expect((await open(a.bytes())).pages()).rejects.toBeInstanceOf(PdfLoopError);

    const b = new PdfWriter();
    b.obj(1, '<< /Type /Catalog /Pages 2 0 R >>');
    b.xrefStream(
      9,
      [
        [1, 1, b.offsets.get(1)!, 0],
        [2, 2, 2, 0],
      ],
      '/Size 10 /Root 1 0 R',
    );
    await expect((await open(b.bytes())).pages()).rejects.toThrow(PdfXrefError);

    const c = new PdfWriter();
    c.obj(1, '<< /Type /Catalog /Pages 2 0 R >>');
    c.obj(2, '<< /Type /Pages /Kids [2 0 R] /Count 1 >>');
    c.table([0, 1, 2], '/Size 3 /Root 1 0 R');
    await expect((await open(c.bytes())).pages()).rejects.toBeInstanceOf(PdfLoopError);
  });
});

describe('bounds', () => {
  it('limits nesting to 64 levels', async () => {
    const make = (depth: number): Buffer => {
      const w = basicDoc();
      w.obj(5, `${'['.repeat(depth)}${']'.repeat(depth)}`);
      w.table([0, 1, 2, 3, 4, 5], '/Size 6 /Root 1 0 R');
      return w.bytes();
    };
    expect(
      await (await open(make(64))).getObject((await open(make(64))).trailer.get('Root') as never),
    ).toBeDefined();
    const ok = await open(make(64));
    expect((await ok.latest.getIndirect(5))?.value.kind).toBe('array');
    const deep = await open(make(65));
    await expect(deep.latest.getIndirect(5)).rejects.toBeInstanceOf(PdfLimitError);
  });

  it('refuses absurd numbers', async () => {
    const w = basicDoc();
    w.obj(5, '<< /N 123456789012345678901234567890 >>');
    w.table([0, 1, 2, 3, 4, 5], '/Size 6 /Root 1 0 R');
    await expect((await open(w.bytes())).latest.getIndirect(5)).rejects.toBeInstanceOf(PdfSyntaxError);
    const x = basicDoc();
    x.table([0, 1, 2, 3, 4], '/Size 5 /Root 1 0 R', { header: (s) => `${s} 999999999\n` });
    await expect(open(x.bytes())).rejects.toBeInstanceOf(PdfLimitError);
  });

  it('stops a decompression bomb at the size and ratio limits', async () => {
    const bomb = deflateSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    const w = basicDoc();
    w.stream(5, '/Filter /FlateDecode', bomb);
    w.table([0, 1, 2, 3, 4, 5], '/Size 6 /Root 1 0 R');
    const doc = await open(w.bytes(), { limits: { maxDecompressionRatio: 100 } });
    const stream = (await doc.latest.getIndirect(5))!.value;
    if (stream.kind !== 'stream') throw new Error('not a stream');
    await expect(doc.streamData(stream)).rejects.toThrow(/decompression limit/);
    const small = await open(w.bytes(), { limits: { maxDecodedStreamBytes: 8 * 1024 * 1024 } });
    await expect(small.streamData(stream)).rejects.toBeInstanceOf(PdfLimitError);
  });
});

describe('encrypted files written by qpdf', () => {
  it('keeps a signature dictionary /Contents unencrypted and decrypts its other strings', async () => {
    if (!haveOracle('qpdf')) return;
    const contents = Buffer.alloc(64, 0xab);
    const w = basicDoc(undefined, '/AcroForm << /Fields [6 0 R] /SigFlags 3 >> ');
    w.obj(6, '<< /FT /Sig /T (Signature1) /V 5 0 R >>');
    w.obj(
      5,
      `<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached /ByteRange [0 10 20 30] /Contents <${contents.toString('hex')}> /Reason (approved) >>`,
    );
    w.table(
      [0, 1, 2, 3, 4, 5, 6],
      '/Size 7 /Root 1 0 R /ID [<00112233445566778899aabbccddeeff> <00112233445566778899aabbccddeeff>]',
    );
    const plain = join(scratch, 'sig-plain.pdf');
    await writeFile(plain, w.bytes());
    for (const bits of ['256', '128']) {
      const enc = join(scratch, `sig-${bits}.pdf`);
      const r = await run('qpdf', [
        '--encrypt',
        'u',
        'o',
        bits,
        ...(bits === '128' ? ['--use-aes=y'] : []),
        '--',
        plain,
        enc,
      ]);
      expect(r.code, r.stderr).toBe(0);
      const doc = await PdfDocument.openFile(enc, { password: 'u' });
      const [field] = await doc.fields();
      expect(field?.valueRef).toBeDefined();
      const sig = field!.value?.kind === 'dict' ? field!.value : undefined;
      expect(sig?.get('Contents')).toMatchObject({ bytes: contents });
      expect(sig?.get('Reason')).toMatchObject({ bytes: Buffer.from('approved') });
      const range = sig!.get('Contents')!.range!;
      const file = (await doc.source.read(range.start, range.end - range.start)).toString('latin1');
      expect(file).toBe(`<${contents.toString('hex')}>`);
      await doc.close();
    }
  });
});
