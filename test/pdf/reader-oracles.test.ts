import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PdfDocument, PdfPasswordError } from '../../src/pdf/index.js';
import type { PdfObject } from '../../src/pdf/index.js';
import { haveOracle, run } from '../helpers/run.js';
import { fixtureDir, passwordsFor, pdfFiles } from './fixtures/fixtures.js';

let dir: string;
let files: string[];
let cleanup: () => Promise<void>;
let scratch: string;
const hasQpdf = haveOracle('qpdf');
const hasMutool = haveOracle('mutool');

beforeAll(async () => {
  ({ dir, cleanup } = await fixtureDir());
  files = await pdfFiles(dir);
  scratch = await mkdtemp(join(tmpdir(), 'sealpost-pdf-oracle-'));
});
afterAll(async () => {
  await cleanup();
  await rm(scratch, { recursive: true, force: true });
});

async function open(file: string, password?: string): Promise<PdfDocument> {
  return PdfDocument.openFile(join(dir, file), { password: password ?? passwordsFor(file)?.user });
}

async function qpdf(args: string[]): Promise<string> {
  const r = await run('qpdf', args);
  // exit 3 = warnings only
  if (r.code !== 0 && r.code !== 3) throw new Error(`qpdf ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Our object in qpdf's JSON v2 notation (strings compared separately, see below). */
function toQpdfJson(o: PdfObject, strings: Map<string, Buffer>, path = ''): unknown {
  switch (o.kind) {
    case 'null':
      return null;
    case 'boolean':
    case 'number':
      return o.value;
    case 'name':
      return `/${o.value}`;
    case 'string':
      strings.set(path, o.bytes);
      return 'string';
    case 'ref':
      return `${o.num} ${o.gen} R`;
    case 'array':
      return o.items.map((x, i) => toQpdfJson(x, strings, `${path}[${i}]`));
    case 'dict':
      return Object.fromEntries(
        [...o.entries].map(([k, v]) => [`/${k}`, toQpdfJson(v, strings, `${path}/${k}`)]),
      );
    case 'stream':
      return { stream: { dict: toQpdfJson(o.dict, strings, path) } };
  }
}

/** Replace qpdf's "u:"/"b:" strings by a marker, checking them against ours. */
function checkStrings(q: unknown, strings: Map<string, Buffer>, path = ''): unknown {
  if (typeof q === 'string' && (q.startsWith('u:') || q.startsWith('b:'))) {
    const ours = strings.get(path);
    expect(ours, `string at ${path}`).toBeDefined();
    if (q.startsWith('b:')) expect(ours!.toString('hex'), path).toBe(q.slice(2).toLowerCase());
    else expect(decodeText(ours!), path).toBe(q.slice(2));
    return 'string';
  }
  if (Array.isArray(q)) return q.map((x, i) => checkStrings(x, strings, `${path}[${i}]`));
  if (q && typeof q === 'object')
    return Object.fromEntries(
      Object.entries(q).map(([k, v]) => [
        k,
        checkStrings(v, strings, k === 'stream' || k === 'dict' ? path : `${path}${k}`),
      ]),
    );
  return q;
}

function decodeText(b: Buffer): string {
  if (b[0] === 0xfe && b[1] === 0xff) return Buffer.from(b.subarray(2)).swap16().toString('utf16le');
  return b.toString('latin1');
}

describe('fixtures made by Ghostscript and qpdf', () => {
  it('every fixture opens; page count and page text match qpdf and mutool', async () => {
    if (!hasQpdf) return;
    for (const file of files) {
      const doc = await open(file);
      const pages = await doc.pages();
      const pw = passwordsFor(file);
      const args = pw ? [`--password=${pw.user}`] : [];
      expect(pages.length, file).toBe(
        Number((await qpdf([...args, '--show-npages', join(dir, file)])).trim()),
      );
      const page1 = (await doc.latest.pageContent(pages[0]!)).toString('latin1');
      expect(page1, file).toContain('Sealpost fixture page 1');
      const qpdfContent = await qpdf([
        ...args,
        `--show-object=${pages[0]!.contents[0]!.owner!.num}`,
        '--filtered-stream-data',
        join(dir, file),
      ]);
      expect(page1.trimEnd(), file).toBe(qpdfContent.trimEnd());
      if (hasMutool && !pw) {
        const m = await run('mutool', ['show', join(dir, file), 'trailer/Root/Pages/Count']);
        expect(Number(m.stdout.trim()), file).toBe(pages.length);
      }
      await doc.close();
    }
  });

  it('every object equals what `qpdf --json` reads, including decoded stream data', async () => {
    if (!hasQpdf) return;
    for (const file of [
      'classic.pdf',
      'objstm.pdf',
      'linearized.pdf',
      'linearized-objstm.pdf',
      'aes256-objstm.pdf',
      'aes128.pdf',
      'rc4-r3.pdf',
    ]) {
      const pw = passwordsFor(file);
      const out = await qpdf([
        '--json=2',
        '--json-key=qpdf',
        '--json-stream-data=inline',
        ...(pw ? [`--password=${pw.user}`] : []),
        join(dir, file),
      ]);
      const objects = (JSON.parse(out) as { qpdf: [unknown, Record<string, unknown>] }).qpdf[1];
      const doc = await open(file);
      let compared = 0;
      for (const [key, q] of Object.entries(objects)) {
        const m = /^obj:(\d+) (\d+) R$/.exec(key);
        if (!m) continue;
        const ours = await doc.latest.getIndirect(Number(m[1]));
        expect(ours, `${file} ${key}`).toBeDefined();
        const strings = new Map<string, Buffer>();
        const mine = toQpdfJson(ours!.value, strings);
        const qv = q as { value?: unknown; stream?: { dict: unknown; data?: string } };
        if (qv.stream) {
          // qpdf leaves out /Length, and /Filter + /DecodeParms of the streams it decoded.
          const dict = { ...(mine as { stream: { dict: Record<string, unknown> } }).stream.dict };
          const qdict = checkStrings(qv.stream.dict, strings) as Record<string, unknown>;
          delete dict['/Length'];
          if (!('/Filter' in qdict)) for (const k of ['/Filter', '/DecodeParms']) delete dict[k];
          expect(dict, `${file} ${key}`).toEqual(qdict);
          if (qv.stream.data !== undefined && ours!.value.kind === 'stream') {
            const decoded = await doc.decodeStream(ours!.value);
            if (decoded.undecoded.length === 0)
              expect(decoded.data.toString('base64'), `${file} ${key} data`).toBe(qv.stream.data);
          }
        } else expect(mine, `${file} ${key}`).toEqual(checkStrings(qv.value, strings));
        compared++;
      }
      expect(compared, file).toBeGreaterThan(10);
      await doc.close();
    }
  });

  it('AcroForm fields match qpdf: fully qualified names, types, values, widgets', async () => {
    if (!hasQpdf) return;
    for (const file of ['classic.pdf', 'objstm.pdf', 'aes256.pdf']) {
      const pw = passwordsFor(file);
      const q = JSON.parse(
        await qpdf([
          '--json=2',
          '--json-key=acroform',
          ...(pw ? [`--password=${pw.user}`] : []),
          join(dir, file),
        ]),
      ) as {
        acroform: { fields: { fullname: string; fieldtype: string; value: string | null; object: string }[] };
      };
      const doc = await open(file);
      const fields = await doc.fields();
      expect(fields.map((f) => f.name)).toEqual(q.acroform.fields.map((f) => f.fullname));
      for (const [i, f] of fields.entries()) {
        const qf = q.acroform.fields[i]!;
        expect(`/${f.type}`).toBe(qf.fieldtype);
        expect(f.ref?.toString()).toBe(qf.object);
        expect(f.value?.kind === 'string' ? `u:${f.value.toText()}` : null).toBe(qf.value);
        expect(f.widgets).toHaveLength(1);
        expect(f.widgets[0]!.rect).toHaveLength(4);
      }
      const sig = fields.find((f) => f.type === 'Sig');
      expect(sig?.value).toBeUndefined(); // an empty signature field the signer can fill
      await doc.close();
    }
  });

  it('linearized files: first-page and main xref sections form one revision', async () => {
    for (const file of ['linearized.pdf', 'linearized-objstm.pdf']) {
      const doc = await open(file);
      expect(doc.revisions).toHaveLength(1);
      expect(doc.revisions[0]!.sections).toHaveLength(2);
      expect(doc.revisions[0]!.endOffset).toBe(doc.source.size);
      await doc.close();
    }
  });
});

describe('encrypted fixtures', () => {
  const encrypted = (): string[] => files.filter((f) => passwordsFor(f));

  it('open with the user and with the owner password, refuse a wrong one', async () => {
    for (const file of encrypted()) {
      const pw = passwordsFor(file)!;
      const asUser = await open(file, pw.user);
      expect(asUser.encryption?.authenticatedAs, file).toBe('user');
      const asOwner = await open(file, pw.owner);
      expect(asOwner.encryption?.authenticatedAs, file).toBe('owner');
      expect(asOwner.encryption?.fileKey.equals(asUser.encryption!.fileKey), file).toBe(true);
      await expect(open(file, 'wrong password'), file).rejects.toBeInstanceOf(PdfPasswordError);
      await asUser.close();
      await asOwner.close();
    }
  });

  it('reports the handler parameters the writer needs', async () => {
    const expected: Record<string, [number, number, string, boolean]> = {
      'aes256.pdf': [5, 6, 'AESV3', true],
      'aes128.pdf': [4, 4, 'AESV2', true],
      'aes128-clear-metadata.pdf': [4, 4, 'AESV2', false],
      'rc4-v4.pdf': [4, 4, 'RC4', true],
      'rc4-r3.pdf': [2, 3, 'RC4', true],
    };
    for (const [file, [v, r, method, meta]] of Object.entries(expected)) {
      const doc = await open(file);
      const e = doc.encryption!;
      expect([e.filter, e.v, e.r, e.streamMethod, e.stringMethod, e.encryptMetadata], file).toEqual([
        'Standard',
        v,
        r,
        method,
        method,
        meta,
      ]);
      expect(e.fileKey.length * 8, file).toBe(e.keyBits);
      await doc.close();
    }
  });

  it('decrypted content equals `qpdf --decrypt` output, and the handler re-encrypts what it decrypts', async () => {
    if (!hasQpdf) return;
    for (const file of encrypted()) {
      const pw = passwordsFor(file)!;
      const plainPath = join(scratch, `plain-${file}`);
      await qpdf([`--password=${pw.user}`, '--decrypt', join(dir, file), plainPath]);
      const enc = await open(file);
      const plain = await PdfDocument.openFile(plainPath);
      const [ep, pp] = [await enc.pages(), await plain.pages()];
      expect(ep.length).toBe(pp.length);
      for (let i = 0; i < ep.length; i++)
        expect(
          (await enc.latest.pageContent(ep[i]!)).equals(await plain.latest.pageContent(pp[i]!)),
          file,
        ).toBe(true);
      const info = await enc.resolveDict(enc.trailer.get('Info'));
      const plainInfo = await plain.resolveDict(plain.trailer.get('Info'));
      expect(info?.get('Producer')).toEqual(
        expect.objectContaining({ bytes: (plainInfo?.get('Producer') as { bytes: Buffer }).bytes }),
      );
      const h = enc.securityHandler!;
      const secret = Buffer.from('round trip through the file key');
      expect(h.decryptString(7, 0, h.encryptString(7, 0, secret)).equals(secret)).toBe(true);
      expect(h.decryptStream(7, 0, h.encryptStream(7, 0, secret)).equals(secret)).toBe(true);
      await enc.close();
      await plain.close();
    }
  });
});
