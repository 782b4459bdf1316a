import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PdfDocument, type PdfDict } from '../../src/pdf/index.js';
import { signPdf, timestampPdf, extendPdf, listSignatures, vriKey } from '../../src/pdf/sign/index.js';
import { run } from '../helpers/run.js';
import {
  createSignEnv,
  havePdfBox,
  pdfbox,
  pdfsig,
  qpdfCheck,
  requireOracle,
  strokePng,
  type SignEnv,
} from './sign-env.js';

const hasPdfsig = requireOracle('pdfsig');
const hasQpdf = requireOracle('qpdf');
const hasMutool = requireOracle('mutool');
const hasBox = havePdfBox();
const oracles = hasPdfsig && hasQpdf && hasBox;

/** A readable dump of a reader object (Maps included), for assertions on structure. */
function dump(o: unknown): string {
  return JSON.stringify(o, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v));
}

/** The last xref section of a file: "table" or "stream". */
function lastXrefForm(bytes: Buffer): 'table' | 'stream' {
  const tail = bytes.subarray(bytes.lastIndexOf('%%EOF', bytes.length - 7) + 1).toString('latin1');
  return /\nxref\n/.test(tail) ? 'table' : 'stream';
}

describe.skipIf(!oracles)('PAdES signing: independent oracles accept what we write', () => {
  let env: SignEnv;
  beforeAll(async () => {
    env = await createSignEnv();
  }, 60_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  async function expectAllValid(file: string, count: number, password?: string): Promise<void> {
    const sigs = await pdfsig(env, file, password);
    expect(sigs.map((s) => s.text.match(/Signature Validation: (.*)/)?.[1])).toEqual(
      Array(count).fill('Signature is Valid.'),
    );
    expect(sigs.every((s) => s.trusted)).toBe(true);
    const check = await qpdfCheck(file, password);
    expect(check.out).toContain('No syntax or stream encoding errors');
    expect(check.ok).toBe(true);
  }

  const inputs: [string, string?][] = [
    ['classic.pdf'],
    ['objstm.pdf'],
    ['linearized.pdf'],
    ['linearized-objstm.pdf'],
    ['ghostscript.pdf'],
    ['aes256.pdf', 'user'],
    ['rc4-v4.pdf', 'user'],
  ];
  it.each(inputs)(
    'B-B on %s: pdfsig valid + trusted, qpdf --check clean, PDFBox digest + CMS ok, original bytes kept, same xref form',
    async (name, password) => {
      const input = join(env.fixtures, name);
      const out = join(env.dir, `bb-${name}`);
      await signPdf({
        input,
        output: out,
        signer: env.signer,
        ...(password ? { open: { password } } : {}),
        details: { reason: 'Statement issued', location: 'Zürich' },
      });
      const original = await readFile(input);
      const signed = await readFile(out);
      expect(signed.subarray(0, original.length).equals(original)).toBe(true);
      expect(lastXrefForm(signed)).toBe(lastXrefForm(original));
      await expectAllValid(out, 1, password);
      const box = await pdfbox(env, out, password);
      expect(box.signatures).toEqual([
        expect.objectContaining({
          subFilter: 'ETSI.CAdES.detached',
          coversWholeDocument: true,
          digestOk: true,
          signatureOk: true,
        }),
      ]);
      if (hasMutool)
        expect((await run('mutool', ['info', ...(password ? ['-p', password] : []), out])).code).toBe(0);
    },
  );

  it('a flipped byte inside the signed range is a digest mismatch for pdfsig and PDFBox', async () => {
    const out = join(env.dir, 'flip.pdf');
    await signPdf({ input: join(env.fixtures, 'classic.pdf'), output: out, signer: env.signer });
    const bytes = await readFile(out);
    const at = bytes.indexOf('Sealpost fixture page 1');
    bytes[at] = bytes[at]! ^ 0x20; // inside page 1's content stream? it is compressed: flip a header byte instead
    bytes[10] = bytes[10]! ^ 0x01;
    await writeFile(out, bytes);
    const [sig] = await pdfsig(env, out);
    expect(sig!.digestMismatch).toBe(true);
    expect((await pdfbox(env, out)).signatures[0]!.digestOk).toBe(false);
  });

  it('visible signature with a PNG in the existing empty field, then a second one: both stay valid', async () => {
    const first = join(env.dir, 'v1.pdf');
    const second = join(env.dir, 'v2.pdf');
    await signPdf({
      input: join(env.fixtures, 'ghostscript.pdf'),
      output: first,
      signer: env.signer,
      field: 'Signature1',
      visible: { page: 1, x: 72, y: 500, width: 200, height: 40, image: strokePng() },
    });
    await signPdf({
      input: first,
      output: second,
      signer: await env.userSigner('ec-p256'),
      hash: 'sha384',
      visible: { page: 2, x: 36, y: 36, width: 220, height: 60 },
      details: { reason: 'Approved' },
    });
    await expectAllValid(second, 2);
    const box = await pdfbox(env, second);
    expect(box.signatures.map((s) => [s.field, s.digestOk, s.signatureOk])).toEqual([
      ['Signature1', true, true],
      ['Signature2', true, true],
    ]);
    expect(box.signatures.map((s) => s.coversWholeDocument)).toEqual([false, true]);
    const doc = await PdfDocument.openFile(second);
    try {
      const fields = await doc.fields();
      expect(fields.map((f) => f.name)).toEqual(['holder', 'Signature1', 'Signature2']);
      const holder = fields.find((f) => f.name === 'holder');
      expect(holder?.value?.kind === 'string' && holder.value.toText()).toBe('Alice Example');
      const form = await doc.resolveDict((await doc.catalog()).get('AcroForm'));
      expect(form?.getNumber('SigFlags')).toBe(3);
      expect(form?.has('NeedAppearances')).toBe(false);
      const widget = fields.find((f) => f.name === 'Signature2')!.widgets[0]!;
      const ap = await doc.resolveDict(widget.dict.get('AP'));
      const n = await doc.resolve(ap?.get('N'));
      expect(n?.kind).toBe('stream');
      if (n?.kind === 'stream') {
        const text = (await doc.streamData(n)).toString('latin1');
        expect(text).toMatch(/\/F1 [\d.]+ Tf/);
        expect(text).toContain('(Reason: Approved) Tj');
        const res = (await doc.latest.resolveDeep(n.dict, 4)) as PdfDict;
        const font = (res.get('Resources') as PdfDict).get('Font');
        expect(dump(font)).toContain('Helvetica');
      }
    } finally {
      await doc.close();
    }
    if (hasMutool) {
      const v = await run('mutool', ['sign', '-v', second]);
      console.log(v.stdout);
      expect(v.code).toBe(0);
      expect(v.stdout).toMatch(/Verifying signature/);
      expect(v.stdout).not.toMatch(/Digest is not verified|not correct|has been modified/i);
    }
  });

  it('RSA-PSS, SHA-512: pdfsig and PDFBox verify', async () => {
    const out = join(env.dir, 'pss.pdf');
    await signPdf({
      input: join(env.fixtures, 'objstm.pdf'),
      output: out,
      signer: env.signer,
      pss: true,
      hash: 'sha512',
    });
    const box = await pdfbox(env, out);
    expect(box.signatures[0]).toMatchObject({ digestOk: true, signatureOk: true });
    const [sig] = await pdfsig(env, out);
    expect(sig!.text).toMatch(/SHA-512/);
    expect(sig!.valid).toBe(true);
  });

  it('certification (DocMDP P=2) then an approval signature with a field lock', async () => {
    const certified = join(env.dir, 'cert.pdf');
    const approved = join(env.dir, 'approved.pdf');
    await signPdf({
      input: join(env.fixtures, 'classic.pdf'),
      output: certified,
      signer: env.seal,
      certify: 2,
    });
    await signPdf({
      input: certified,
      output: approved,
      signer: env.signer,
      field: 'Approval',
      lock: { action: 'Include', fields: ['holder'] },
    });
    const sigs = await pdfsig(env, approved);
    expect(sigs.map((s) => s.valid)).toEqual([true, true]);
    expect((await qpdfCheck(approved)).ok).toBe(true);
    const box = await pdfbox(env, approved);
    expect(box.signatures.every((s) => s.digestOk && s.signatureOk)).toBe(true);
    const doc = await PdfDocument.openFile(approved);
    try {
      const perms = await doc.resolveDict((await doc.catalog()).get('Perms'));
      const certSig = await doc.resolveDict(perms?.get('DocMDP'));
      const ref = await doc.latest.resolveDeep(certSig!.get('Reference')!, 4);
      expect(dump(ref)).toMatch(/"DocMDP".*"P".*2/s);
      const approval = (await doc.fields()).find((f) => f.name === 'Approval')!;
      const lock = await doc.resolveDict(approval.dict.get('Lock'));
      expect(lock?.getName('Action')).toBe('Include');
      const sigDict = approval.value as PdfDict;
      expect(dump(await doc.latest.resolveDeep(sigDict.get('Reference')!, 4))).toContain('FieldMDP');
    } finally {
      await doc.close();
    }
    await expect(
      signPdf({ input: approved, output: join(env.dir, 'x.pdf'), signer: env.signer, certify: 1 }),
    ).rejects.toThrow(/first signature|already certified/);
  });

  it('B-T: the signature timestamp from our TSA is in the CMS and PDFBox checks its imprint', async () => {
    const out = join(env.dir, 'bt.pdf');
    const r = await signPdf({
      input: join(env.fixtures, 'classic.pdf'),
      output: out,
      signer: env.seal,
      level: 'B-T',
      tsa: { url: env.tsaUrl },
    });
    expect(r.signatureTimestamp).toBeInstanceOf(Date);
    const box = await pdfbox(env, out);
    expect(box.signatures[0]).toMatchObject({ digestOk: true, signatureOk: true, signatureTimestamp: true });
    const [sig] = await pdfsig(env, out);
    expect(sig!.valid).toBe(true);
  });

  it('B-LTA: DSS with VRI for the signature, a document timestamp over it, then the TSA data; all verify', async () => {
    const out = join(env.dir, 'lta.pdf');
    const r = await signPdf({
      input: join(env.fixtures, 'objstm.pdf'),
      output: out,
      signer: env.signer,
      level: 'B-LTA',
      tsa: { url: env.tsaUrl },
      ltv: { trustAnchors: [env.root] },
    });
    expect(r.documentTimestamp).toBeInstanceOf(Date);
    const box = await pdfbox(env, out);
    expect(box.signatures.map((s) => [s.type, s.subFilter, s.digestOk, s.signatureOk])).toEqual([
      ['signature', 'ETSI.CAdES.detached', true, true],
      ['timestamp', 'ETSI.RFC3161', true, true],
    ]);
    expect(box.signatures[0]!.signatureTimestamp).toBe(true);
    expect(box.dss).not.toBeNull();
    expect(box.dss!.certs).toBeGreaterThanOrEqual(3);
    expect(box.dss!.ocsps + box.dss!.crls).toBeGreaterThanOrEqual(2);
    expect(box.dss!.vri.sort()).toEqual(box.signatures.map((s) => s.contentsSha1).sort());
    const sigs = await pdfsig(env, out);
    expect(sigs[0]!.valid && sigs[0]!.trusted).toBe(true);
    expect((await qpdfCheck(out)).ok).toBe(true);
    // four revisions added: signature, DSS, document timestamp, DSS
    const doc = await PdfDocument.openFile(out);
    const original = await PdfDocument.openFile(join(env.fixtures, 'objstm.pdf'));
    try {
      expect(doc.revisions.length - original.revisions.length).toBe(4);
      const listed = await listSignatures(doc);
      expect(listed.map((s) => vriKey(s.contents)).sort()).toEqual(box.dss!.vri.sort());
    } finally {
      await doc.close();
      await original.close();
    }
  });

  it('extend B-B → B-LT → B-LTA, and a document timestamp on an unsigned file', async () => {
    const bb = join(env.dir, 'ext-bb.pdf');
    const lt = join(env.dir, 'ext-lt.pdf');
    const lta = join(env.dir, 'ext-lta.pdf');
    await signPdf({ input: join(env.fixtures, 'linearized.pdf'), output: bb, signer: env.seal });
    await extendPdf({ input: bb, output: lt, level: 'B-LT', ltv: { trustAnchors: [env.root] } });
    let box = await pdfbox(env, lt);
    expect(box.dss?.vri).toEqual([box.signatures[0]!.contentsSha1]);
    await extendPdf({
      input: lt,
      output: lta,
      level: 'B-LTA',
      ltv: { trustAnchors: [env.root] },
      tsa: { url: env.tsaUrl },
    });
    box = await pdfbox(env, lta);
    expect(box.signatures.map((s) => s.digestOk && s.signatureOk)).toEqual([true, true]);
    expect(box.dss?.vri).toHaveLength(2);
    expect((await qpdfCheck(lta)).ok).toBe(true);

    const ts = join(env.dir, 'ts.pdf');
    const t = await timestampPdf({
      input: join(env.fixtures, 'classic.pdf'),
      output: ts,
      tsa: { url: env.tsaUrl },
    });
    expect(t.genTime).toBeInstanceOf(Date);
    box = await pdfbox(env, ts);
    expect(box.signatures).toEqual([
      expect.objectContaining({
        type: 'timestamp',
        digestOk: true,
        signatureOk: true,
        coversWholeDocument: true,
      }),
    ]);
    expect((await qpdfCheck(ts)).ok).toBe(true);
  });
});
