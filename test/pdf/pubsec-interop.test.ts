/**
 * Interop for public-key PDF encryption: PDFBox 2 opens what we encrypt (with the recipient's PKCS#12),
 * we open what PDFBox's Encrypt tool writes (RC2 envelopes, RC4 and AES-256), OpenSSL opens our ECDH
 * envelopes (PDFBox 2.0.27 reads only key-transport recipients), and qpdf checks our decrypted copies.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BufferSource, PdfDocument } from '../../src/pdf/index.js';
import { pubSecFileKey, pubSecSecurityHandler } from '../../src/pdf/crypt/pubsec.js';
import type { PdfArray, PdfDict, PdfString } from '../../src/pdf/objects.js';
import { encryptPdfFile } from '../../src/pdf/encrypt/index.js';
import { protectPdf } from '../../src/pdf/encrypt/protect.js';
import { signerFromPkcs12 } from '../../src/pdf/sign/index.js';
import { decryptPdfFile } from '../../src/pdf/decrypt/index.js';
import { haveOracle, run } from '../helpers/run.js';
import {
  FIXTURES,
  P12_PASSWORD,
  PDFBOX_TOOLS_JAR,
  makeRecipients,
  pdfboxClasspath,
  type Recipients,
  type TestRecipient,
} from './pubsec-fixtures.js';

const CHECKER = fileURLToPath(new URL('../tools/pdfbox-decrypt/PdfBoxDecrypt.java', import.meta.url));
const classpath = pdfboxClasspath();
const hasQpdf = haveOracle('qpdf');
const hasOpenssl = haveOracle('openssl');

let r: Recipients;
let work: string;
beforeAll(async () => {
  r = await makeRecipients();
  work = await mkdtemp(join(tmpdir(), 'sealpost-pubsec-interop-'));
  if (classpath) {
    const c = await run('javac', ['-cp', classpath.join(':'), '-d', work, CHECKER]);
    if (c.code !== 0) throw new Error(`javac failed: ${c.stderr}`);
  }
}, 120_000);
afterAll(async () => {
  await r?.cleanup();
  if (work) await rm(work, { recursive: true, force: true });
});

const keyOf = (t: TestRecipient) => ({ privateKey: t.privateKey, certificate: t.certificate });

/** Run the PDFBox checker; its key=value lines as a record. */
async function pdfboxOpen(pdf: string, who: TestRecipient): Promise<Record<string, string>> {
  const res = await run(
    'java',
    ['-cp', [work, ...classpath!].join(':'), 'PdfBoxDecrypt', pdf, who.p12, P12_PASSWORD],
    {
      timeoutMs: 60_000,
    },
  );
  const fields = Object.fromEntries(
    res.stdout
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  if (res.code !== 0) throw new Error(`PDFBox could not open ${pdf}: ${fields.error ?? res.stderr}`);
  return fields;
}

async function qpdfCheck(pdf: string): Promise<void> {
  const res = await run('qpdf', ['--check', pdf]);
  expect(res.stdout + res.stderr).toContain('No syntax or stream encoding errors found');
  expect(res.code).toBe(0);
}

describe.skipIf(!classpath)('PDFBox opens what we encrypt', () => {
  for (const aes of [256, 128] as const) {
    for (const input of ['classic.pdf', 'objstm.pdf']) {
      it(`AES-${aes}, ${input}: every RSA recipient opens it and reads the text`, async () => {
        const out = join(work, `enc-${aes}-${input}`);
        await encryptPdfFile(join(FIXTURES, input), out, {
          aes,
          recipients: [r.rsa, r.archive, r.ec].map((t) => ({ certificate: t.certificate })),
        });
        for (const who of [r.rsa, r.archive]) {
          const seen = await pdfboxOpen(out, who);
          expect(seen).toMatchObject({
            encrypted: 'true',
            filter: 'Adobe.PubSec',
            keyBits: String(aes),
            pages: '2',
          });
          expect(seen.text).toContain('Sealpost fixture page 1\\nSealpost fixture page 2');
        }
      });
    }
  }

  it('PDFBox opens files with EncryptMetadata false (the 0xFFFFFFFF in the key derivation)', async () => {
    for (const aes of [256, 128] as const) {
      const out = join(work, `clear-metadata-${aes}.pdf`);
      await encryptPdfFile(join(FIXTURES, 'classic.pdf'), out, {
        recipients: [{ certificate: r.rsa.certificate }],
        aes,
        encryptMetadata: false,
      });
      expect((await pdfboxOpen(out, r.rsa)).text).toContain('Sealpost fixture page 1');
    }
  });

  it('PDFBox sees the permissions we grant', async () => {
    const out = join(work, 'perm.pdf');
    await encryptPdfFile(join(FIXTURES, 'classic.pdf'), out, {
      recipients: [{ certificate: r.rsa.certificate }],
      permissions: ['print'],
    });
    expect(await pdfboxOpen(out, r.rsa)).toMatchObject({
      canPrint: 'true',
      canModify: 'false',
      canExtract: 'false',
    });
  });
});

describe.skipIf(!classpath)('protect: encrypt, then sign', () => {
  it('PDFBox opens the file with each recipient key and finds the signature valid over the encrypted bytes', async () => {
    const out = join(work, 'protected.pdf');
    // The signer (here the archive holder's key as the bank's seal) needs no recipient key.
    const signer = signerFromPkcs12(await readFile(r.archive.p12), P12_PASSWORD);
    const res = await protectPdf({
      input: join(FIXTURES, 'objstm.pdf'),
      output: out,
      recipients: [{ certificate: r.rsa.certificate }, { certificate: r.archive.certificate }],
      signer,
      level: 'B-B',
    });
    expect(res.encryption).toMatchObject({ v: 5, keyBits: 256, recipients: 2 });
    for (const who of [r.rsa, r.archive]) {
      const seen = await pdfboxOpen(out, who);
      expect(seen).toMatchObject({ encrypted: 'true', signatures: '1', signatureValid: 'true', pages: '2' });
      expect(seen.text).toContain('Sealpost fixture page 1');
    }
    // One flipped byte inside the signed range: PDFBox reports the signature invalid.
    const bytes = await readFile(out);
    bytes[res.signature.byteRange[1] - 200]! ^= 0x01;
    const tampered = join(work, 'protected-tampered.pdf');
    await writeFile(tampered, bytes);
    expect(
      (await pdfboxOpen(tampered, r.rsa).catch(() => ({ signatureValid: 'false' }))).signatureValid,
    ).toBe('false');
  });
});

describe.skipIf(!classpath)('we open what PDFBox encrypts (RC2 envelopes)', () => {
  for (const keyLength of ['40', '128', '256']) {
    it(`PDFBox Encrypt -certFile -keyLength ${keyLength}: decrypted copy has the text and passes qpdf --check`, async () => {
      const enc = join(work, `pdfbox-${keyLength}.pdf`);
      const made = await run('java', [
        '-cp',
        [PDFBOX_TOOLS_JAR, ...classpath!].join(':'),
        'org.apache.pdfbox.tools.Encrypt',
        '-certFile',
        r.rsa.certPem,
        '-keyLength',
        keyLength,
        join(FIXTURES, 'classic.pdf'),
        enc,
      ]);
      expect(made.code, made.stderr).toBe(0);
      const doc = await PdfDocument.open(new BufferSource(await readFile(enc)), {
        securityHandlers: [pubSecSecurityHandler([keyOf(r.rsa)])],
      });
      expect(doc.encryption?.keyBits).toBe(Number(keyLength));
      const fields = await doc.fields();
      expect(fields.find((f) => f.name === 'holder')?.value).toMatchObject({ kind: 'string' });
      const plain = join(work, `pdfbox-${keyLength}-plain.pdf`);
      const result = await decryptPdfFile(enc, plain, { keys: [keyOf(r.rsa)] });
      expect(result.filter).toBe('Adobe.PubSec');
      const copy = await PdfDocument.openFile(plain);
      expect(copy.encryption).toBeUndefined();
      const holder = (await copy.fields()).find((f) => f.name === 'holder');
      expect(holder?.value?.kind === 'string' && holder.value.toText()).toBe('Alice Example');
      await copy.close();
      if (hasQpdf) await qpdfCheck(plain);
    });
  }
});

describe.skipIf(!hasOpenssl)('OpenSSL opens our ECDH recipient envelope', () => {
  it('the seed OpenSSL recovers gives the file key we derive', async () => {
    const out = join(work, 'ecdh.pdf');
    await encryptPdfFile(join(FIXTURES, 'classic.pdf'), out, {
      recipients: [{ certificate: r.rsa.certificate }, { certificate: r.ec.certificate }],
    });
    const doc = await PdfDocument.open(new BufferSource(await readFile(out)), {
      securityHandlers: [pubSecSecurityHandler([keyOf(r.ec)])],
    });
    const encrypt = (await doc.latest.resolveDeep(doc.trailer.get('Encrypt')!, 4)) as PdfDict;
    const filter = (encrypt.get('CF') as PdfDict).get('DefaultCryptFilter') as PdfDict;
    const envelopes = (filter.get('Recipients') as PdfArray).items.map((s) => (s as PdfString).bytes);
    const envFile = join(work, 'ec-envelope.der');
    await writeFile(envFile, envelopes[1]!);
    const seedFile = join(work, 'seed.bin');
    const opened = await run('openssl', [
      'cms',
      '-decrypt',
      '-inform',
      'DER',
      '-in',
      envFile,
      '-inkey',
      r.ec.keyPem,
      '-recip',
      r.ec.certPem,
      '-binary',
      '-out',
      seedFile,
    ]);
    expect(opened.code, opened.stderr).toBe(0);
    const seedAndPerms = await readFile(seedFile);
    expect(seedAndPerms.length).toBe(24);
    const key = pubSecFileKey({
      seed: seedAndPerms.subarray(0, 20),
      recipients: envelopes,
      encryptMetadata: true,
      method: 'AESV3',
      keyBits: 256,
    });
    expect(key.equals(doc.encryption!.fileKey)).toBe(true);
  });
});

describe.skipIf(!hasQpdf)('qpdf checks our decrypted copies', () => {
  for (const input of ['classic.pdf', 'objstm.pdf', 'linearized-objstm.pdf', 'ghostscript.pdf']) {
    it(`${input}: encrypt → decrypt → qpdf --check`, async () => {
      const enc = join(work, `q-${input}`);
      const plain = join(work, `q-plain-${input}`);
      await encryptPdfFile(join(FIXTURES, input), enc, {
        recipients: [{ certificate: r.ec.certificate }],
        aes: 128,
      });
      await decryptPdfFile(enc, plain, { keys: [keyOf(r.ec)] });
      await qpdfCheck(plain);
    });
  }
});
