/**
 * PDFs made by LibreOffice Writer (committed, made by fixtures/make-libreoffice-fixtures.sh; soffice never
 * runs here): our reader agrees with qpdf on them, and the real signer signs them at B-B and B-LTA, and
 * certifies the form (DocMDP P=2) so that a later form fill stays allowed — checked by pdfsig, PDFBox,
 * qpdf --check and our validator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  PdfDocument,
  PdfName,
  PdfNumber,
  PdfString,
  type PdfObject,
  type PdfRef,
} from '../../src/pdf/index.js';
import { signPdf, type PadesLevel } from '../../src/pdf/sign/index.js';
import { formatReport, validatePdf } from '../../src/pdf/validate/index.js';
import { IncrementalUpdate, appendToFile, editDict } from '../../src/pdf/writer/index.js';
import { run } from '../helpers/run.js';
import {
  createSignEnv,
  havePdfBox,
  pdfbox,
  pdfsig,
  qpdfCheck,
  requireOracle,
  type SignEnv,
} from './sign-env.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const STATEMENT = 'libreoffice-statement.pdf';
const FORM = 'libreoffice-form.pdf';

const hasQpdf = requireOracle('qpdf');
const hasPdfsig = requireOracle('pdfsig');
const hasBox = havePdfBox();

/** A field value as qpdf's JSON writes it: "u:<text>" for strings, "/<name>" for names. */
function qpdfStyle(value: PdfObject | undefined): string | undefined {
  if (value?.kind === 'string') return `u:${value.toText()}`;
  if (value?.kind === 'name') return `/${value.value}`;
  return undefined;
}

/** A PDF text string in UTF-16BE with a byte order mark (ISO 32000-2 §7.9.2.2). */
function textString(text: string): PdfString {
  return new PdfString(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]));
}

/** Append one incremental revision to `file` in place, made by `change`. */
async function appendRevision(file: string, change: (u: IncrementalUpdate) => Promise<void>): Promise<void> {
  const doc = await PdfDocument.openFile(file);
  let appended: Buffer;
  const size = doc.source.size;
  try {
    const update = new IncrementalUpdate(doc);
    await change(update);
    appended = update.build(size, (await doc.source.read(size - 1, 1))[0]).bytes;
  } finally {
    await doc.close();
  }
  await appendToFile(file, size, appended);
}

async function fieldRef(file: string, name: string): Promise<PdfRef> {
  const doc = await PdfDocument.openFile(file);
  try {
    const field = (await doc.fields()).find((f) => f.name === name);
    if (!field?.ref) throw new Error(`no indirect field ${name} in ${file}`);
    return field.ref;
  } finally {
    await doc.close();
  }
}

describe.skipIf(!hasQpdf)('LibreOffice inputs: our reader agrees with qpdf', () => {
  it.each([STATEMENT, FORM])('%s: page count, fields and values as qpdf reads them', async (name) => {
    const file = join(FIXTURES, name);
    const pages = await run('qpdf', ['--show-npages', file]);
    const json = await run('qpdf', ['--json', '--json-key=acroform', file]);
    const qpdfFields = (
      JSON.parse(json.stdout) as {
        acroform: { fields: { fullname: string; fieldtype: string; value: string }[] };
      }
    ).acroform.fields.map((f) => [f.fullname, f.fieldtype.slice(1), f.value]);

    const doc = await PdfDocument.openFile(file);
    try {
      const info = await doc.resolveDict(doc.trailer.get('Info'));
      const producer = info?.get('Producer');
      expect(producer?.kind === 'string' && producer.toText()).toMatch(/^LibreOffice 7/);
      expect((await doc.pages()).length).toBe(Number(pages.stdout.trim()));
      const ours = (await doc.fields()).map((f) => [f.name, f.type, qpdfStyle(f.value)]);
      expect(ours).toEqual(qpdfFields);
    } finally {
      await doc.close();
    }
    if (name === STATEMENT) expect(Number(pages.stdout.trim())).toBe(2);
    else
      expect(qpdfFields).toEqual([
        ['holder', 'Tx', 'u:Zoë Müller'],
        ['iban', 'Tx', 'u:'],
        ['branch', 'Ch', 'u:Zürich'],
        ['consent', 'Btn', '/Off'],
      ]);
  });
});

describe.skipIf(!(hasQpdf && hasPdfsig && hasBox))('LibreOffice inputs signed by Sealpost', () => {
  let env: SignEnv;
  beforeAll(async () => {
    env = await createSignEnv();
  }, 60_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  /**
   * pdfsig: every CMS signature valid (digest and signature); qpdf --check clean. The seal's chain is not
   * "Trusted" for pdfsig, whose NSS check asks for the email-signing usage (sign-env.ts): trust is
   * asserted separately with the S/MIME certificate below.
   */
  async function expectOraclesAccept(file: string, signatures: number): Promise<void> {
    const sigs = await pdfsig(env, file);
    expect(sigs.map((s) => s.text.match(/Signature Validation: (.*)/)?.[1])).toEqual(
      Array(signatures).fill('Signature is Valid.'),
    );
    const check = await qpdfCheck(file);
    expect(check.out).toContain('No syntax or stream encoding errors');
    expect(check.ok, check.out).toBe(true);
  }

  const cases: [string, PadesLevel][] = [
    [STATEMENT, 'B-B'],
    [STATEMENT, 'B-LTA'],
    [FORM, 'B-B'],
    [FORM, 'B-LTA'],
  ];
  it.each(cases)(
    '%s at %s: original bytes kept, form fields kept, pdfsig + PDFBox + qpdf + our validator accept it',
    async (name, level) => {
      const input = join(FIXTURES, name);
      const out = join(env.dir, `${level}-${name}`);
      await signPdf({
        input,
        output: out,
        signer: env.seal,
        level,
        ...(level === 'B-LTA' ? { tsa: { url: env.tsaUrl }, ltv: { trustAnchors: [env.root] } } : {}),
        details: { reason: 'Kontoauszug März', location: 'Zürich' },
      });
      const original = await readFile(input);
      const signed = await readFile(out);
      expect(signed.subarray(0, original.length).equals(original)).toBe(true);

      await expectOraclesAccept(out, 1);
      const box = await pdfbox(env, out);
      expect(box.signatures.map((s) => [s.type, s.subFilter, s.digestOk, s.signatureOk])).toEqual([
        ['signature', 'ETSI.CAdES.detached', true, true],
        ...(level === 'B-LTA' ? [['timestamp', 'ETSI.RFC3161', true, true]] : []),
      ]);
      if (level === 'B-LTA') expect(box.dss?.vri.length).toBe(2);

      const report = await validatePdf(out, { trustAnchors: [env.root] });
      expect(
        report.signatures.map((s) => [s.kind, s.verdict]),
        formatReport(report),
      ).toEqual([['approval', 'valid'], ...(level === 'B-LTA' ? [['document-timestamp', 'valid']] : [])]);
      expect(report.signatures[0]!.ltv.level).toBe(level);

      const before = await PdfDocument.openFile(input);
      const after = await PdfDocument.openFile(out);
      try {
        const names = (await after.fields()).map((f) => f.name);
        expect(names).toEqual(expect.arrayContaining((await before.fields()).map((f) => f.name)));
        expect((await after.pages()).length).toBe((await before.pages()).length);
      } finally {
        await before.close();
        await after.close();
      }
    },
  );

  it('form certified with DocMDP P=2, then filled in a later revision: still valid, the fill allowed', async () => {
    const certified = join(env.dir, 'form-certified.pdf');
    await signPdf({
      input: join(FIXTURES, FORM),
      output: certified,
      signer: env.seal,
      certify: 2,
      field: 'Bank',
      details: { reason: 'Formular der Bank' },
    });
    const iban = await fieldRef(certified, 'iban');
    const consent = await fieldRef(certified, 'consent');
    const filled = join(env.dir, 'form-filled.pdf');
    await copyFile(certified, filled);
    await appendRevision(filled, async (u) => {
      await editDict(u, iban, (d) => void d.set('V', textString('CH93 0076 2011 6238 5295 7')));
      // LibreOffice merges the checkbox field and its widget; "Ja" is its on state (/AP /N /Ja).
      await editDict(u, consent, (d) => void d.set('V', new PdfName('Ja')).set('AS', new PdfName('Ja')));
    });

    const doc = await PdfDocument.openFile(filled);
    try {
      const values = Object.fromEntries((await doc.fields()).map((f) => [f.name, qpdfStyle(f.value)]));
      expect(values).toMatchObject({ iban: 'u:CH93 0076 2011 6238 5295 7', consent: '/Ja' });
    } finally {
      await doc.close();
    }

    const report = await validatePdf(filled, { trustAnchors: [env.root] });
    const [cert] = report.signatures;
    expect([cert!.field, cert!.kind, cert!.verdict], formatReport(report)).toEqual([
      'Bank',
      'certification',
      'valid',
    ]);
    expect(cert!.coverage.coversWholeFile).toBe(false);
    expect(cert!.modifications.map((m) => m.allowed)).toEqual([true]);
    expect(cert!.modifications[0]!.changes.join('\n')).toMatch(/form field iban filled in/);
    expect(report.ok).toBe(true);

    // The oracles: pdfsig and PDFBox check the certification over its revision; qpdf reads the whole file.
    await expectOraclesAccept(filled, 1);
    const box = await pdfbox(env, filled);
    expect(box.signatures).toEqual([
      expect.objectContaining({
        field: 'Bank',
        digestOk: true,
        signatureOk: true,
        coversWholeDocument: false,
      }),
    ]);
    const json = await run('qpdf', ['--json', '--json-key=acroform', filled]);
    expect(json.stdout).toContain('"value": "u:CH93 0076 2011 6238 5295 7"');

    // Control: the same P=2 certification does not allow a page change (here /Rotate on page 1).
    const tampered = join(env.dir, 'form-tampered.pdf');
    await copyFile(certified, tampered);
    const page = await (async () => {
      const d = await PdfDocument.openFile(certified);
      try {
        return (await d.pages())[0]!.ref;
      } finally {
        await d.close();
      }
    })();
    await appendRevision(tampered, (u) => editDict(u, page, (d) => void d.set('Rotate', PdfNumber.int(90))));
    const bad = await validatePdf(tampered, { trustAnchors: [env.root] });
    expect(bad.signatures[0]!.verdict, formatReport(bad)).toBe('invalid');
    expect(bad.signatures[0]!.reasons.join('\n')).toMatch(/page content changed.*\/Rotate/);
  });

  it('a person signs with their S/MIME certificate: pdfsig valid and trusted, our validator valid (as Acrobat)', async () => {
    const out = join(env.dir, 'smime-statement.pdf');
    await signPdf({ input: join(FIXTURES, STATEMENT), output: out, signer: env.signer });
    const [sig] = await pdfsig(env, out);
    expect(sig).toMatchObject({ valid: true, trusted: true });
    const report = await validatePdf(out, { trustAnchors: [env.root] });
    expect(report.ok, formatReport(report)).toBe(true);
  });
});
