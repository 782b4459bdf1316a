import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BufferSource,
  PdfDocument,
  PdfEncryptionError,
  PdfError,
  PdfUnsupportedError,
} from '../../src/pdf/index.js';
import {
  PUBSEC_CANNOT_DECRYPT,
  PdfRecipientError,
  createPubSecEncryption,
  openPubSec,
  permissionNames,
  pubSecSecurityHandler,
} from '../../src/pdf/crypt/pubsec.js';
import { PdfArray, PdfDict, PdfName, PdfString } from '../../src/pdf/objects.js';
import { encryptPdf } from '../../src/pdf/encrypt/index.js';
import { decryptPdf } from '../../src/pdf/decrypt/index.js';
import type { DecryptionKey } from '../../src/pkix/cms/enveloped-data.js';
import { buildPdf, fixture, makeRecipients, type Recipients, type TestRecipient } from './pubsec-fixtures.js';

let r: Recipients;
beforeAll(async () => {
  r = await makeRecipients();
});
afterAll(async () => r?.cleanup());

const keyOf = (t: TestRecipient): DecryptionKey => ({ privateKey: t.privateKey, certificate: t.certificate });

async function openWith(pdf: Buffer, ...keys: DecryptionKey[]): Promise<PdfDocument> {
  return PdfDocument.open(new BufferSource(pdf), { securityHandlers: [pubSecSecurityHandler(keys)] });
}

async function firstPageText(doc: PdfDocument): Promise<string> {
  const [page] = await doc.pages();
  return (await doc.latest.pageContent(page!)).toString('latin1');
}

describe('PDF public-key encryption (Adobe.PubSec) round trips', () => {
  it('encrypts with AES-256 by default for several recipients, each of whom can open it', async () => {
    const input = await fixture('classic.pdf');
    const enc = await encryptPdf(input, {
      recipients: [
        { certificate: r.rsa.certificate },
        { certificate: r.archive.certificate },
        { certificate: r.ec.certificate },
      ],
    });
    // The form field's value is a plain string in the input and must not be readable in the output.
    expect(input.includes('Alice Example')).toBe(true);
    expect(enc.includes('Alice Example')).toBe(false);
    for (const who of [r.rsa, r.archive, r.ec]) {
      const doc = await openWith(enc, keyOf(who));
      expect(doc.encryption).toMatchObject({
        filter: 'Adobe.PubSec',
        subFilter: 'adbe.pkcs7.s5',
        v: 5,
        keyBits: 256,
      });
      expect(doc.encryption!.streamMethod).toBe('AESV3');
      expect(doc.version).toBe('1.7');
      expect((await doc.catalog()).get('Extensions')).toBeDefined();
      expect(await firstPageText(doc)).toContain('Sealpost fixture page 1');
      const holder = (await doc.fields()).find((f) => f.name === 'holder');
      expect(holder?.value?.kind === 'string' && holder.value.toText()).toBe('Alice Example');
    }
  });

  it('writes AES-128 (/V 4, AESV2) on request', async () => {
    const enc = await encryptPdf(await fixture('classic.pdf'), {
      recipients: [{ certificate: r.rsa.certificate }],
      aes: 128,
    });
    const doc = await openWith(enc, keyOf(r.rsa));
    expect(doc.encryption).toMatchObject({
      v: 4,
      keyBits: 128,
      streamMethod: 'AESV2',
      stringMethod: 'AESV2',
    });
    expect(await firstPageText(doc)).toContain('Sealpost fixture page 1');
  });

  it('encrypts an object stream as a whole and keeps its objects addressable', async () => {
    const enc = await encryptPdf(await fixture('objstm.pdf'), {
      recipients: [{ certificate: r.ec.certificate }],
    });
    const doc = await openWith(enc, keyOf(r.ec));
    expect(doc.revisions.at(-1)!.sections[0]!.kind).toBe('stream'); // compressed entries need an xref stream
    const fields = await doc.fields();
    expect(fields.map((f) => f.name)).toEqual(['holder', 'Signature1']);
    expect(await firstPageText(doc)).toContain('Sealpost fixture page 1');
  });

  it('carries the permissions in the envelope', async () => {
    const enc = await encryptPdf(buildPdf(Buffer.from('BT ET')), {
      recipients: [{ certificate: r.rsa.certificate }],
      permissions: ['print', 'fill-forms'],
    });
    const doc = await openWith(enc, keyOf(r.rsa));
    expect(permissionNames(doc.encryption!.permissions)).toEqual(['print', 'fill-forms']);
  });

  it('leaves the XMP metadata readable with encryptMetadata false, and encrypts it otherwise', async () => {
    const input = await fixture('classic.pdf');
    const recipients = [{ certificate: r.rsa.certificate }];
    const clear = await encryptPdf(input, { recipients, encryptMetadata: false });
    const hidden = await encryptPdf(input, { recipients });
    expect(clear.includes('xmpmeta')).toBe(true);
    expect(hidden.includes('xmpmeta')).toBe(false);
    const doc = await openWith(clear, keyOf(r.rsa));
    expect(doc.encryption!.encryptMetadata).toBe(false);
    const metadata = await doc.latest.resolve((await doc.catalog()).get('Metadata'));
    expect(metadata?.kind === 'stream' && (await doc.streamData(metadata)).toString()).toContain('xmpmeta');
    expect(await firstPageText(doc)).toContain('Sealpost fixture page 1');
  });

  it('streams large stream data through in chunks, byte for byte', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 5);
    const enc = await encryptPdf(buildPdf(big), { recipients: [{ certificate: r.rsa.certificate }] });
    const doc = await openWith(enc, keyOf(r.rsa));
    const [page] = await doc.pages();
    expect((await doc.streamRaw(page!.contents[0]!)).equals(big)).toBe(true);
    const { pdf } = await decryptPdf(enc, { keys: [keyOf(r.rsa)] });
    const plain = await PdfDocument.open(new BufferSource(pdf));
    expect(plain.encryption).toBeUndefined();
    const [p2] = await plain.pages();
    expect((await plain.streamRaw(p2!.contents[0]!)).equals(big)).toBe(true);
  });

  it('writes a decrypted copy with the strings and streams in the clear', async () => {
    const enc = await encryptPdf(await fixture('objstm.pdf'), {
      recipients: [{ certificate: r.archive.certificate }],
    });
    const { pdf, result } = await decryptPdf(enc, { keys: [keyOf(r.archive)] });
    expect(result.filter).toBe('Adobe.PubSec');
    const doc = await PdfDocument.open(new BufferSource(pdf));
    expect(doc.encryption).toBeUndefined();
    expect(doc.trailer.get('Encrypt')).toBeUndefined();
    expect(await firstPageText(doc)).toContain('Sealpost fixture page 2'.slice(0, 20));
    const holder = (await doc.fields()).find((f) => f.name === 'holder');
    expect(holder?.value?.kind === 'string' && holder.value.toText()).toBe('Alice Example');
  });

  it('decrypts password-encrypted files and re-encrypts them for certificates', async () => {
    const input = await fixture('aes256-objstm.pdf');
    const { pdf } = await decryptPdf(input, { password: 'user' });
    expect(await firstPageText(await PdfDocument.open(new BufferSource(pdf)))).toContain(
      'Sealpost fixture page 1',
    );
    const enc = await encryptPdf(input, {
      recipients: [{ certificate: r.rsa.certificate }],
      open: { password: 'owner' },
    });
    expect(await firstPageText(await openWith(enc, keyOf(r.rsa)))).toContain('Sealpost fixture page 1');
  });
});

describe('PDF public-key encryption: bad keys and bad input', () => {
  let enc: Buffer;
  beforeAll(async () => {
    enc = await encryptPdf(buildPdf(Buffer.from('BT (secret) Tj ET')), {
      recipients: [{ certificate: r.rsa.certificate }, { certificate: r.ec.certificate }],
    });
  });

  it('names the recipients when no given key is one of them', async () => {
    const err = await openWith(enc, keyOf(r.archive)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PdfRecipientError);
    expect((err as Error).message).toMatch(/none of the given keys is a recipient.*CN=customer/);
  });

  it('asks for a key when none is given', async () => {
    await expect(openWith(enc)).rejects.toThrow(/give the recipient key and certificate/);
    await expect(PdfDocument.open(new BufferSource(enc))).rejects.toBeInstanceOf(PdfUnsupportedError);
  });

  it('gives one message for a wrong private key and for a damaged envelope', async () => {
    const wrongRsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const wrongKey = await openWith(enc, { privateKey: wrongRsa, certificate: r.rsa.certificate }).catch(
      (e: unknown) => e,
    );
    const wrongEc = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const wrongEcKey = await openWith(enc, { privateKey: wrongEc, certificate: r.ec.certificate }).catch(
      (e: unknown) => e,
    );
    const built = await createPubSecEncryption({ recipients: [{ certificate: r.rsa.certificate }] });
    const damaged = await openPubSec(
      withRecipients(built.encryptDict, (b) => flipLastByte(b)),
      [keyOf(r.rsa)],
    ).catch((e: unknown) => e);
    for (const e of [wrongKey, wrongEcKey, damaged]) {
      expect(e).toBeInstanceOf(PdfRecipientError);
      expect((e as Error).message).toBe(PUBSEC_CANNOT_DECRYPT);
    }
  });

  it('rejects a malformed envelope and an unknown handler with PdfErrors', async () => {
    const built = await createPubSecEncryption({ recipients: [{ certificate: r.rsa.certificate }] });
    const garbage = withRecipients(built.encryptDict, () => Buffer.from('not DER'));
    await expect(openPubSec(garbage, [keyOf(r.rsa)])).rejects.toBeInstanceOf(PdfEncryptionError);
    const s4 = new PdfDict(
      new Map([...built.encryptDict.entries, ['SubFilter', new PdfName('adbe.x509.rsa_sha1')]]),
    );
    await expect(openPubSec(s4, [keyOf(r.rsa)])).rejects.toBeInstanceOf(PdfUnsupportedError);
    const foreign = Buffer.from(enc.toString('latin1').replace('/Adobe.PubSec', '/Foo.Crypt123'), 'latin1');
    await expect(openWith(foreign, keyOf(r.rsa))).rejects.toThrow(
      /security handler \/Foo.Crypt123 is not supported/,
    );
  });

  it('refuses to decrypt a file whose stream data is cut short', async () => {
    const big = await encryptPdf(buildPdf(randomBytes(200_000)), {
      recipients: [{ certificate: r.rsa.certificate }],
    });
    // Cut 100 KB out of the middle of the stream: the xref still points past it.
    const cut = Buffer.concat([big.subarray(0, 50_000), big.subarray(150_000)]);
    const err = await decryptPdf(cut, { keys: [keyOf(r.rsa)] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PdfError);
  });

  it('refuses to "decrypt" a PDF that is not encrypted', async () => {
    await expect(decryptPdf(buildPdf(Buffer.from('x')), { keys: [keyOf(r.rsa)] })).rejects.toThrow(
      /not encrypted/,
    );
  });
});

function withRecipients(encrypt: PdfDict, change: (b: Buffer) => Buffer): PdfDict {
  const cf = encrypt.get('CF') as PdfDict;
  const filter = cf.get('DefaultCryptFilter') as PdfDict;
  const recipients = (filter.get('Recipients') as PdfArray).items.map(
    (s) => new PdfString(change((s as PdfString).bytes), true),
  );
  const newFilter = new PdfDict(new Map([...filter.entries, ['Recipients', new PdfArray(recipients)]]));
  return new PdfDict(
    new Map([...encrypt.entries, ['CF', new PdfDict(new Map([['DefaultCryptFilter', newFilter]]))]]),
  );
}

function flipLastByte(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c[c.length - 1]! ^= 0x01;
  return c;
}
