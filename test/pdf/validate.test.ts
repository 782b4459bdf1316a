/**
 * PDF signature validation: real inputs (Ghostscript/qpdf fixtures), signatures made by the test-only signer
 * and by poppler's `pdfsig -add-signature`, and one crafted incremental update per attack class.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource, type PdfDict } from '../../src/pdf/index.js';
import { formatReport, validatePdf, type PdfValidationReport } from '../../src/pdf/validate/index.js';
import { haveOracle, run } from '../helpers/run.js';
import { fixtureDir } from './fixtures/fixtures.js';
import {
  addDss,
  appendRevision,
  openBytes,
  ser,
  signPdf,
  streamBody,
  withEntries,
  type SignParams,
} from './validate-signing-helper.js';
import { makeValidatePki, type ValidatePki } from './validate-pki.js';

let pki: ValidatePki;
let fixtures: Awaited<ReturnType<typeof fixtureDir>>;
let classic: Buffer;

beforeAll(async () => {
  pki = await makeValidatePki();
  fixtures = await fixtureDir();
  classic = await readFile(join(fixtures.dir, 'classic.pdf'));
}, 60_000);
afterAll(async () => {
  await pki?.cleanup();
  await fixtures?.cleanup();
});

const OFFLINE = { mode: 'if-available', onUnreachable: 'soft-fail', fetch: false } as const;

function validate(bytes: Buffer, extra: { crls?: Buffer[] } = {}): Promise<PdfValidationReport> {
  return validatePdf(new BufferSource(bytes), {
    trustAnchors: [pki.rootDer],
    revocation: { ...OFFLINE, ...(extra.crls ? { crls: extra.crls } : {}) },
  });
}

function sign(bytes: Buffer, p: Partial<SignParams> = {}): Promise<Buffer> {
  return signPdf(bytes, { key: pki.signer.key, cert: pki.signer.der, ...p });
}

describe('validatePdf', () => {
  it('a fresh PAdES signature is valid and covers the whole file', async () => {
    const r = await validate(await sign(classic));
    const s = r.signatures[0]!;
    expect(s.verdict, formatReport(r)).toBe('valid');
    expect(r.ok).toBe(true);
    expect(s.kind).toBe('approval');
    expect(s.subFilter).toBe('ETSI.CAdES.detached');
    expect(s.coverage).toEqual({ coversWholeFile: true, coveredRevision: 2, bytesAfter: 0 });
    expect(s.signer?.subject).toContain('Statement Seal');
    expect(s.ltv.level).toBe('B-B');
  });

  it('pdfsig agrees: valid, and a flipped signed byte is a digest mismatch for both', async () => {
    const signed = await sign(classic);
    const flipped = Buffer.from(signed);
    const at = flipped.indexOf('Sealpost fixture') >= 0 ? flipped.indexOf('/MediaBox') : 200;
    flipped[at + 1] = flipped[at + 1] === 0x4d ? 0x4e : 0x4d; // inside the signed range, outside /Contents
    const r = await validate(flipped);
    expect(r.signatures[0]!.verdict).toBe('invalid');
    expect(r.signatures[0]!.reasons).toContain('the signed bytes were changed (ByteRange digest mismatch)');
    if (!haveOracle('pdfsig')) return;
    const good = join(pki.dir, 'good.pdf');
    const bad = join(pki.dir, 'bad.pdf');
    await writeFile(good, signed);
    await writeFile(bad, flipped);
    expect((await run('pdfsig', ['-nocert', good])).stdout).toContain('Signature is Valid');
    expect((await run('pdfsig', ['-nocert', bad])).stdout).toContain('Digest Mismatch');
  });

  it('reads a signature made by poppler (pdfsig -add-signature, adbe.pkcs7.detached, NSS)', async () => {
    if (!haveOracle('pdfsig') || !haveOracle('pk12util')) return;
    const nss = join(pki.dir, 'nss');
    await run('mkdir', ['-p', nss]);
    const p12 = join(pki.dir, 'signer.p12');
    const sh = (cmd: string, args: string[]) => run(cmd, args, { cwd: pki.dir });
    expect((await sh('certutil', ['-N', '-d', `sql:${nss}`, '--empty-password'])).code).toBe(0);
    expect(
      (
        await sh('openssl', [
          'pkcs12',
          '-export',
          '-in',
          pki.signer.certPath,
          '-inkey',
          pki.signer.keyPath,
          '-certfile',
          pki.rootPath,
          '-out',
          p12,
          '-passout',
          'pass:pw',
          '-name',
          'seal',
        ])
      ).code,
    ).toBe(0);
    expect((await sh('pk12util', ['-i', p12, '-d', `sql:${nss}`, '-W', 'pw'])).code).toBe(0);
    expect(
      (await sh('certutil', ['-A', '-d', `sql:${nss}`, '-n', 'root', '-t', 'CT,C,C', '-i', pki.rootPath]))
        .code,
    ).toBe(0);
    const input = join(pki.dir, 'in.pdf');
    const output = join(pki.dir, 'poppler.pdf');
    await writeFile(input, classic);
    const signedByPoppler = await sh('pdfsig', [
      '-nssdir',
      `sql:${nss}`,
      '-add-signature',
      '-nick',
      'seal',
      '-new-signature-field-name',
      'Poppler',
      input,
      output,
    ]);
    expect(signedByPoppler.code, signedByPoppler.stderr).toBe(0);
    const r = await validatePdf(output, { trustAnchors: [pki.rootDer], revocation: OFFLINE });
    const s = r.signatures.find((x) => x.field === 'Poppler')!;
    if (!s) console.log(formatReport(r));
    expect(s.verdict, formatReport(r)).toBe('valid');
    expect(s.subFilter).toBe('adbe.pkcs7.detached');
    expect(s.coverage.coversWholeFile).toBe(true);
    // And ours on top of poppler's: both stay valid, the later revision is an allowed signature.
    const both = await validate(await sign(await readFile(output)));
    expect(
      both.signatures.map((x) => x.verdict),
      formatReport(both),
    ).toEqual(['valid', 'valid']);
  });
});

/** Object numbers the attacks aim at: page 1, its first content stream, and a font of its resources. */
async function targets(bytes: Buffer) {
  const doc = await openBytes(bytes);
  const page = (await doc.pages())[0]!;
  const contents = page.dict.get('Contents');
  const contentRef =
    contents?.kind === 'ref' ? contents : (await doc.latest.resolveArray(contents))!.items[0];
  const fonts = await doc.latest.resolveDict(page.resources?.get('Font'));
  const fontRef = [...(fonts?.entries.values() ?? [])].find((v) => v.kind === 'ref');
  const holder = (await doc.fields()).find((f) => f.name === 'holder')!;
  await doc.close();
  return {
    page,
    contentRef: contentRef as { num: number; gen: number },
    fontRef: fontRef as { num: number; gen: number },
    holder,
  };
}

describe('attacks and modification analysis', () => {
  it('incremental saving attack: new page content after signing is invalid', async () => {
    const signed = await sign(classic);
    const { contentRef } = await targets(signed);
    const attacked = await appendRevision(signed, [
      { num: contentRef.num, body: streamBody('<<>>', 'BT /F1 24 Tf 72 700 Td (Pay 1,000,000 EUR) Tj ET') },
    ]);
    const r = await validate(attacked);
    const s = r.signatures[0]!;
    expect(s.verdict).toBe('invalid');
    expect(s.coverage.coversWholeFile).toBe(false);
    expect(s.reasons.join('\n')).toMatch(
      new RegExp(`page content changed after signing \\(revision 3, object ${contentRef.num}`),
    );
    expect(s.modifications).toEqual([expect.objectContaining({ revision: 3, allowed: false })]);
  });

  it('shadow attack (replace): a font referenced by a signed page redefined later is invalid', async () => {
    const signed = await sign(classic);
    const { fontRef } = await targets(signed);
    const attacked = await appendRevision(signed, [
      { num: fontRef.num, body: '<</Type /Font /Subtype /Type1 /BaseFont /Courier>>' },
    ]);
    const s = (await validate(attacked)).signatures[0]!;
    expect(s.verdict).toBe('invalid');
    expect(s.reasons.join('\n')).toContain(`object ${fontRef.num}: page 1 content`);
  });

  it('shadow attack (hide-and-replace): a later xref points back at a definition hidden in the signed bytes', async () => {
    const { contentRef } = await targets(classic);
    // Before signing: a shadow content stream for the same object number, written but not in the xref.
    const shadow = { num: contentRef.num, body: streamBody('<<>>', 'BT /F1 24 Tf 72 700 Td (shadow) Tj ET') };
    const doc = await openBytes(classic);
    const info = doc.trailer.get('Info')!;
    const infoDict = (await doc.latest.resolveDict(info))!;
    await doc.close();
    const prepared = await appendRevision(
      classic,
      [{ num: (info as { num: number }).num, body: withEntries(infoDict, { Producer: '(prep)' }) }],
      { unlisted: [shadow] },
    );
    const shadowOffset = prepared.lastIndexOf(`\n${contentRef.num} 0 obj`) + 1;
    const signed = await sign(prepared);
    const attacked = await appendRevision(signed, [], {
      pointAt: [{ num: contentRef.num, offset: shadowOffset }],
    });
    const s = (await validate(attacked)).signatures[0]!;
    expect(s.verdict).toBe('invalid');
    expect(s.reasons.join('\n')).toContain('hide-and-replace');
    expect(s.reasons.join('\n')).toContain('defines objects its xref does not point at');
  });

  it('signature wrapping: a ByteRange that does not exclude exactly /Contents is invalid', async () => {
    const signed = await sign(classic);
    const text = signed.toString('latin1');
    const m = /\/ByteRange \[0 (\d+) (\d+) (\d+)\]/.exec(text)!;
    const wrapped = `/ByteRange [0 ${Number(m[1]) - 10} ${m[2]} ${m[3]}]`.padEnd(m[0].length, ' ');
    const bytes = Buffer.from(signed);
    bytes.write(wrapped, m.index, 'latin1');
    const s = (await validate(bytes)).signatures[0]!;
    expect(s.verdict).toBe('invalid');
    expect(s.reasons.join('\n')).toContain('signature wrapping');
  });

  it('universal signature forgery: empty /Contents and missing /ByteRange are invalid', async () => {
    const signed = await sign(classic);
    const text = signed.toString('latin1');
    const c = text.lastIndexOf('/Contents <') + '/Contents <'.length;
    const end = text.indexOf('>', c);
    const empty = Buffer.from(signed);
    empty.fill('0', c, end);
    const s1 = (await validate(empty)).signatures[0]!;
    expect(s1.verdict).toBe('invalid');
    expect(s1.reasons.join('\n')).toContain('universal signature forgery');
    const noRange = Buffer.from(signed);
    const br = text.lastIndexOf('/ByteRange');
    noRange.write('/ByteRangX', br, 'latin1');
    const s2 = (await validate(noRange)).signatures[0]!;
    expect(s2.verdict).toBe('invalid');
    expect(s2.reasons.join('\n')).toMatch(/ByteRange is missing.*universal signature forgery/);
  });

  it('%%EOF trick: data appended after the last %%EOF is reported and the signature invalid', async () => {
    const signed = await sign(classic);
    const attacked = Buffer.concat([signed, Buffer.from('\n5 0 obj\n<</Type /Page>>\nendobj\n')]);
    const s = (await validate(attacked)).signatures[0]!;
    expect(s.verdict).toBe('invalid');
    expect(s.reasons.join('\n')).toContain('after the last %%EOF');
    expect(s.coverage.bytesAfter).toBeGreaterThan(0);
  });

  it("changing the signature's own objects after signing is invalid", async () => {
    const signed = await sign(classic);
    const doc = await openBytes(signed);
    const field = (await doc.fields()).find((f) => f.type === 'Sig' && f.value)!;
    const fieldDict = withEntries(field.dict, { T: '(Renamed)' });
    await doc.close();
    const s = (await validate(await appendRevision(signed, [{ num: field.ref!.num, body: fieldDict }])))
      .signatures[0]!;
    expect(s.verdict).toBe('invalid');
    expect(s.reasons.join('\n')).toContain("the signature's own object");
  });
});

describe('allowed changes (approval and certification signatures)', () => {
  async function fillHolder(bytes: Buffer, value: string): Promise<Buffer> {
    const { holder } = await targets(bytes);
    return appendRevision(bytes, [
      { num: holder.ref!.num, body: withEntries(holder.dict, { V: `(${value})` }) },
    ]);
  }

  async function addTextAnnotation(bytes: Buffer): Promise<Buffer> {
    const doc = await openBytes(bytes);
    const page = (await doc.pages())[0]!;
    const num = doc.trailer.getNumber('Size')!;
    const annots = page.dict.get('Annots');
    const arr = annots?.kind === 'ref' ? (await doc.latest.resolveArray(annots))! : annots;
    const items = arr?.kind === 'array' ? arr.items.map(ser).join(' ') : '';
    const objs = [
      { num, body: '<</Type /Annot /Subtype /Text /Rect [10 10 30 30] /Contents (note)>>' },
      annots?.kind === 'ref'
        ? { num: annots.num, body: `[${items} ${num} 0 R]` }
        : { num: page.ref.num, body: withEntries(page.dict, { Annots: `[${items} ${num} 0 R]` }) },
    ];
    await doc.close();
    return appendRevision(bytes, objs);
  }

  it('form filling and a second signature keep an approval signature valid', async () => {
    const first = await sign(classic, { field: 'First' });
    const filled = await fillHolder(first, 'Bob Example');
    const second = await signPdf(filled, { key: pki.other.key, cert: pki.other.der, field: 'Second' });
    const r = await validate(second);
    expect(
      r.signatures.map((s) => [s.field, s.verdict]),
      formatReport(r),
    ).toEqual([
      ['First', 'valid'],
      ['Second', 'valid'],
    ]);
    const mods = r.signatures[0]!.modifications;
    expect(mods.map((m) => m.allowed)).toEqual([true, true]);
    expect(mods[0]!.changes.join('\n')).toContain('form field holder filled in');
    expect(mods[1]!.changes.join('\n')).toContain('signature field Second signed or added');
  });

  it('DocMDP P=1 forbids a later signature; P=2 allows it; annotations need P=3', async () => {
    const p1 = await sign(classic, { field: 'Cert', certify: 1 });
    const r1 = await validate(await signPdf(p1, { key: pki.other.key, cert: pki.other.der, field: 'Later' }));
    expect(r1.signatures[0]!.kind).toBe('certification');
    expect(r1.signatures[0]!.verdict).toBe('invalid');
    expect(r1.signatures[0]!.reasons.join('\n')).toContain('DocMDP P=1');
    expect(r1.signatures[1]!.verdict).toBe('valid');

    const p2 = await sign(classic, { field: 'Cert', certify: 2 });
    const r2 = await validate(
      await signPdf(await fillHolder(p2, 'x'), { key: pki.other.key, cert: pki.other.der }),
    );
    expect(
      r2.signatures.map((s) => s.verdict),
      formatReport(r2),
    ).toEqual(['valid', 'valid']);
    const annotated2 = await validate(await addTextAnnotation(p2));
    expect(annotated2.signatures[0]!.verdict).toBe('invalid');
    expect(annotated2.signatures[0]!.reasons.join('\n')).toMatch(/annotation on page 1 added.*DocMDP P=2/);

    const p3 = await sign(classic, { field: 'Cert', certify: 3 });
    expect((await validate(await addTextAnnotation(p3))).signatures[0]!.verdict).toBe('valid');
  });

  it('a field locked by a signature (FieldMDP) may not be filled in afterwards', async () => {
    const locked = await sign(classic, { field: 'Locker', lock: { action: 'Include', fields: ['holder'] } });
    const s = (await validate(await fillHolder(locked, 'changed'))).signatures[0]!;
    expect(s.verdict).toBe('invalid');
    expect(s.reasons.join('\n')).toContain('field holder is locked by signature Locker');
  });

  it('B-T, then DSS (B-LT), then a document timestamp (B-LTA); revocation comes from the DSS', async () => {
    const bt = await sign(classic, { tsa: { key: pki.tsa.key, cert: pki.tsa.der } });
    const btDoc = await openBytes(bt);
    const sigValue = (await btDoc.fields()).find((f) => f.type === 'Sig' && f.value)!.value as PdfDict;
    const contents = (sigValue.get('Contents') as { bytes: Buffer }).bytes;
    await btDoc.close();
    // VRI key: upper-case hex SHA-1 of the signature's /Contents (ETSI EN 319 142-1 §5.4.2.2).
    const vriKey = createHash('sha1').update(contents).digest('hex').toUpperCase();
    const lt = await addDss(bt, {
      certs: [pki.rootDer, pki.signer.der, pki.tsa.der],
      crls: [pki.crlDer],
      vriKeys: [vriKey],
    });
    const lta = await signPdf(lt, {
      key: pki.tsa.key,
      cert: pki.tsa.der,
      tsa: { key: pki.tsa.key, cert: pki.tsa.der },
      documentTimestamp: true,
    });
    const r = await validate(lta);
    expect(
      r.signatures.map((s) => [s.kind, s.verdict]),
      formatReport(r),
    ).toEqual([
      ['approval', 'valid'],
      ['document-timestamp', 'valid'],
    ]);
    const [sig, dts] = r.signatures as [
      PdfValidationReport['signatures'][0],
      PdfValidationReport['signatures'][0],
    ];
    expect(sig.timestamp?.valid).toBe(true);
    expect(sig.ltv).toEqual({ level: 'B-LTA', dss: true, vri: true, revocationFromDss: true });
    expect(sig.modifications.map((m) => m.allowed)).toEqual([true, true]);
    expect(sig.modifications[0]!.changes.join('\n')).toContain('validation data (DSS)');
    expect(dts.coverage.coversWholeFile).toBe(true);
    // A flipped byte inside the document timestamp's range but after the signature: the timestamp fails.
    const bytes = Buffer.from(lta);
    const at = bytes.indexOf('/Type /DSS');
    bytes.write('/Type /DSX', at, 'latin1');
    const broken = await validate(bytes);
    expect(broken.signatures[1]!.verdict).toBe('invalid');
    expect(broken.signatures[1]!.reasons.join('\n')).toContain('imprint does not match');
  });

  it('a signer revoked on the CRL in the DSS is invalid; without revocation data it stays valid offline', async () => {
    const signed = await signPdf(classic, { key: pki.other.key, cert: pki.other.der });
    const withCrl = await addDss(signed, { certs: [pki.rootDer], crls: [pki.revokedCrlDer] });
    const s = (await validate(withCrl)).signatures[0]!;
    expect(s.verdict).toBe('invalid');
    expect(s.reasons.join('\n')).toMatch(/revoked/);
    expect(s.checks.find((c) => c.name === 'revocation')?.ok).toBe(false);
    expect((await validate(signed)).signatures[0]!.verdict).toBe('valid');
  });

  it('signs and validates inputs with xref streams, object streams and linearization', async () => {
    for (const name of ['objstm.pdf', 'linearized.pdf', 'linearized-objstm.pdf', 'ghostscript.pdf']) {
      const input = await readFile(join(fixtures.dir, name));
      const r = await validate(await sign(input));
      expect(r.signatures[0]!.verdict, `${name}\n${formatReport(r)}`).toBe('valid');
    }
  });
});

describe('signatures made by the real signer (src/pdf/sign)', () => {
  it('a visible certification signature (P=2), then form filling and an approval signature', async () => {
    const sign = await import('../../src/pdf/sign/index.js');
    const input = join(pki.dir, 'real-in.pdf');
    const certified = join(pki.dir, 'real-certified.pdf');
    const approved = join(pki.dir, 'real-approved.pdf');
    await writeFile(input, classic);
    await sign.signPdf({
      input,
      output: certified,
      signer: { key: pki.signer.key, certificate: pki.signer.der },
      field: 'Certifier',
      certify: 2,
      visible: { page: 1, x: 72, y: 72, width: 200, height: 50 },
    });
    const { holder } = await targets(await readFile(certified));
    const filled = await appendRevision(await readFile(certified), [
      { num: holder.ref!.num, body: withEntries(holder.dict, { V: '(Carol)' }) },
    ]);
    const filledPath = join(pki.dir, 'real-filled.pdf');
    await writeFile(filledPath, filled);
    await sign.signPdf({
      input: filledPath,
      output: approved,
      signer: { key: pki.other.key, certificate: pki.other.der },
      field: 'Approver',
    });
    const r = await validatePdf(approved, { trustAnchors: [pki.rootDer], revocation: OFFLINE });
    expect(
      r.signatures.map((s) => [s.field, s.kind, s.verdict]),
      formatReport(r),
    ).toEqual([
      ['Certifier', 'certification', 'valid'],
      ['Approver', 'approval', 'valid'],
    ]);
  });

  it('an encrypted (AES-256) input signed by the real signer validates with the password', async () => {
    const sign = await import('../../src/pdf/sign/index.js');
    const output = join(pki.dir, 'real-aes.pdf');
    await sign.signPdf({
      input: join(fixtures.dir, 'aes256.pdf'),
      output,
      signer: { key: pki.signer.key, certificate: pki.signer.der },
      open: { password: 'user' },
    });
    const r = await validatePdf(output, {
      trustAnchors: [pki.rootDer],
      revocation: OFFLINE,
      password: 'user',
    });
    expect(r.file.encrypted).toBe(true);
    expect(
      r.signatures.map((s) => s.verdict),
      formatReport(r),
    ).toEqual(['valid']);
  });

  it('xref-stream inputs: a visible certification signature and a visible approval on page 2 stay valid', async () => {
    const sign = await import('../../src/pdf/sign/index.js');
    for (const name of ['objstm.pdf', 'linearized-objstm.pdf']) {
      const first = join(pki.dir, `real-1-${name}`);
      const second = join(pki.dir, `real-2-${name}`);
      await sign.signPdf({
        input: join(fixtures.dir, name),
        output: first,
        signer: { key: pki.signer.key, certificate: pki.signer.der },
        certify: 2,
        visible: { page: 1, x: 72, y: 72, width: 200, height: 50 },
      });
      await sign.signPdf({
        input: first,
        output: second,
        signer: { key: pki.other.key, certificate: pki.other.der },
        visible: { page: 2, x: 72, y: 72, width: 200, height: 50 },
      });
      const r = await validatePdf(second, { trustAnchors: [pki.rootDer], revocation: OFFLINE });
      expect(
        r.signatures.map((s) => s.verdict),
        `${name}\n${formatReport(r)}`,
      ).toEqual(['valid', 'valid']);
    }
  });
});
