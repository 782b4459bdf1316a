/**
 * CMS SignedData behaviour that needs no oracle: what the signed attributes say, DER order, the options, the
 * errors a caller gets, BER input, and tampering with each part. Interop is in signed-{openssl,nss,gpgsm}.
 */
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KeyAlgorithm } from '../../../src/crypto/key-handle.js';
import {
  CmsSignedDataError,
  readCmsSignedData,
  signData,
  verifySignedData,
  type SignOptions,
} from '../../../src/pkix/cms/signed-data.js';
import { OID_SIGNATURE_TIMESTAMP_TOKEN } from '../../../src/pkix/cms/signed-attributes.js';
import { DEFAULT_SMIME_CAPABILITIES, smimeCapabilityName } from '../../../src/pkix/cms/smime-capabilities.js';
import { TAG, encodeLength, oid, readTlv, utf8String } from '../../../src/pkix/der.js';
import { OID_PKCS9 } from '../../../src/pkix/oids.js';
import { hierarchy, issue, type Hierarchy, type Issued } from '../fixtures.js';
import { inProcessTsa } from './signed-fixtures.js';

const CONTENT = Buffer.from('Content-Type: text/plain\r\n\r\nHello Bob.\r\n');

let h: Hierarchy;
const signers = {} as Record<KeyAlgorithm, Issued>;
let encryption: Issued;
let tsa: Issued;

beforeAll(async () => {
  h = await hierarchy('ec-p256');
  for (const alg of ['rsa-2048', 'ec-p256', 'ec-p384', 'ed25519'] as const) {
    signers[alg] = await issue(
      { commonName: `Alice ${alg}`, email: 'alice@bank.example' },
      { profile: 'smime-signing', emails: ['alice@bank.example'] },
      alg,
      h.issuing,
    );
  }
  encryption = await issue(
    { commonName: 'Alice (encryption)' },
    { profile: 'smime-encryption', emails: ['alice@bank.example'] },
    'rsa-2048',
    h.issuing,
  );
  tsa = await issue({ commonName: 'Bank TSA' }, { profile: 'tsa' }, 'ec-p256', h.issuing);
});

function options(alg: KeyAlgorithm, extra: Partial<SignOptions> = {}): SignOptions {
  const s = signers[alg];
  return { signer: s.key, certificate: s.cert.der, chain: [h.issuing.cert.der], ...extra };
}

/** Flip one bit of `der` at `index`. */
function flip(der: Buffer, index: number): Buffer {
  const out = Buffer.from(der);
  out[index] = (out[index] as number) ^ 0x01;
  return out;
}

describe('signData → verifySignedData', () => {
  for (const alg of ['rsa-2048', 'ec-p256', 'ec-p384', 'ed25519'] as const) {
    it(`${alg}: every S/MIME attribute reads back, and the timestamp token covers the signature`, async () => {
      const signingTime = new Date('2031-05-06T07:08:09.999Z');
      const der = await signData(
        CONTENT,
        options(alg, { signingTime, encryptionKeyPreference: encryption.cert.der, timestamp: tsaFor(tsa) }),
      );
      const {
        signers: [check],
        encapsulatedContent,
      } = await verifySignedData(der, { content: CONTENT });
      expect(encapsulatedContent).toBeUndefined();
      expect(check!.problems).toEqual([]);
      expect(check).toMatchObject({
        signatureValid: true,
        digestMatches: true,
        digestAlgorithm: alg === 'ed25519' ? 'sha512' : alg === 'ec-p384' ? 'sha384' : 'sha256',
        signingTime: new Date('2031-05-06T07:08:09.000Z'), // UTCTime has whole seconds
        encryptionKeyPreference: {
          serialHex: encryption.cert.serialHex,
          issuer: encryption.cert.issuerString,
        },
      });
      expect(check!.signerIdentifier).toBe(
        `issuer=${signers[alg].cert.issuerString}, serial=${signers[alg].cert.serialHex}`,
      );
      expect(check!.capabilities?.map(smimeCapabilityName)).toEqual([
        'aes256-gcm',
        'aes256-cbc',
        'aes128-cbc',
        'rsaes-oaep',
      ]);
      expect(check!.capabilities).toEqual(DEFAULT_SMIME_CAPABILITIES); // with the OAEP parameters
      expect(check!.signerCertificate?.equals(signers[alg].cert.der)).toBe(true);
      expect(check!.certificates).toHaveLength(2); // signer + intermediate, never the root
      expect(check!.timestamp).toMatchObject({ valid: true });
      expect(check!.timestamp?.tsaCertificate?.equals(tsa.cert.der)).toBe(true);
      expect(Math.abs(check!.timestamp!.genTime!.getTime() - Date.now())).toBeLessThan(60_000);
    });
  }

  it('opaque signing encapsulates the content; SubjectKeyIdentifier names the signer', async () => {
    const der = await signData(
      CONTENT,
      options('ec-p256', { detached: false, identifier: 'subjectKeyIdentifier' }),
    );
    const result = await verifySignedData(der);
    expect(result.encapsulatedContent?.equals(CONTENT)).toBe(true);
    expect(result.signers[0]).toMatchObject({ signatureValid: true, digestMatches: true, problems: [] });
    expect(result.signers[0]!.signerIdentifier).toBe(
      `ski=${signers['ec-p256'].cert.subjectKeyId!.toString('hex')}`,
    );
  });

  it('streams: an async iterable and a Readable give the same verdict as a Buffer', async () => {
    const der = await signData(
      Readable.from([CONTENT.subarray(0, 7), CONTENT.subarray(7)]),
      options('rsa-2048', { pss: true }),
    );
    async function* chunks() {
      for (const b of CONTENT) yield Uint8Array.of(b);
    }
    const check = (await verifySignedData(der, { content: chunks() })).signers[0]!;
    expect(check).toMatchObject({
      signatureValid: true,
      digestMatches: true,
      signatureAlgorithm: 'rsassaPss',
    });
  });

  it('signed attributes are a DER SET OF in X.690 §11.6 order, hashed exactly as carried', async () => {
    const der = await signData(CONTENT, options('ec-p256', { encryptionKeyPreference: encryption.cert.der }));
    const si = readCmsSignedData(der).signers[0]!;
    const attrs = si.signedAttrs!;
    expect(attrs[0]).toBe(TAG.SET);
    const encodings: Buffer[] = [];
    for (let p = readTlv(attrs, 0).contentStart; p < attrs.length;) {
      const t = readTlv(attrs, p);
      encodings.push(attrs.subarray(t.start, t.contentEnd));
      p = t.contentEnd;
    }
    expect(encodings.length).toBe(6);
    expect([...encodings].sort(Buffer.compare)).toEqual(encodings);
  });

  it('PAdES-style options: no signing time, no capabilities, an extra signed attribute', async () => {
    const extra = { type: '1.2.840.113549.1.9.16.2.15', value: utf8String('policy placeholder') };
    const der = await signData(
      CONTENT,
      options('ec-p256', { signingTime: false, capabilities: [], extraSignedAttributes: [extra] }),
    );
    const si = readCmsSignedData(der).signers[0]!;
    expect(si.signedAttributes!.has(OID_PKCS9.signingTime)).toBe(false);
    expect(si.signedAttributes!.has(OID_PKCS9.smimeCapabilities)).toBe(false);
    expect(si.signedAttributes!.get(extra.type)).toEqual([extra.value]);
    expect(si.signedAttributes!.has('1.2.840.113549.1.9.16.2.47')).toBe(true); // signingCertificateV2 always
    const check = (await verifySignedData(der, { content: CONTENT })).signers[0]!;
    expect(check).toMatchObject({ signatureValid: true, digestMatches: true, problems: [] });
    expect(check.signingTime).toBeUndefined();
  });

  it('reads BER: indefinite lengths and a chunked eContent OCTET STRING', async () => {
    const der = await signData(CONTENT, options('rsa-2048', { detached: false }));
    const result = await verifySignedData(toIndefiniteBer(der));
    expect(result.encapsulatedContent?.equals(CONTENT)).toBe(true);
    expect(result.signers[0]).toMatchObject({ signatureValid: true, digestMatches: true, problems: [] });
  });
});

describe('tampering', () => {
  it('a flipped content byte: digest mismatch, the signature over the attributes still holds', async () => {
    const der = await signData(CONTENT, options('ec-p256'));
    const check = (await verifySignedData(der, { content: flip(CONTENT, 3) })).signers[0]!;
    expect(check).toMatchObject({ digestMatches: false, signatureValid: true });
    expect(check.problems).toEqual([
      'the message digest does not match the content: the content was altered after signing',
    ]);
  });

  it('a flipped byte in the encapsulated content of an opaque signature is caught', async () => {
    const der = await signData(CONTENT, options('rsa-2048', { detached: false }));
    const at = der.indexOf(CONTENT);
    const check = (await verifySignedData(flip(der, at + 12))).signers[0]!;
    expect(check.digestMatches).toBe(false);
  });

  it('a flipped signed-attribute byte (inside signingTime) breaks the signature', async () => {
    const der = await signData(
      CONTENT,
      options('rsa-2048', { signingTime: new Date('2030-01-01T00:00:00Z') }),
    );
    const at = der.indexOf(Buffer.from('300101000000Z', 'latin1'));
    expect(at).toBeGreaterThan(0);
    const check = (await verifySignedData(flip(der, at + 3), { content: CONTENT })).signers[0]!;
    expect(check).toMatchObject({ signatureValid: false, digestMatches: true });
  });

  it('a flipped signature byte breaks the signature', async () => {
    const der = await signData(CONTENT, options('ed25519', { capabilities: [] }));
    const check = (await verifySignedData(flip(der, der.length - 5), { content: CONTENT })).signers[0]!;
    expect(check.signatureValid).toBe(false);
    expect(check.problems.join()).toContain('does not verify');
  });

  it('a damaged timestamp token is reported on the timestamp, the signature stays valid', async () => {
    const der = await signData(CONTENT, options('ec-p256', { timestamp: tsaFor(tsa) }));
    // The token is the last element of the SignerInfo, its TSA signature the last bytes of the whole structure.
    const check = (await verifySignedData(flip(der, der.length - 2), { content: CONTENT })).signers[0]!;
    expect(check.signatureValid).toBe(true);
    expect(check.timestamp).toMatchObject({ valid: false });
    expect(check.timestamp?.error).toMatch(/signature/);
    expect(readCmsSignedData(der).signers[0]!.unsignedAttributes.has(OID_SIGNATURE_TIMESTAMP_TOKEN)).toBe(
      true,
    );
  });
});

describe('errors say what to do', () => {
  it('refuses a key that does not match the certificate', async () => {
    await expect(
      signData(CONTENT, { ...options('ec-p256'), signer: signers['ec-p384'].key }),
    ).rejects.toThrow(CmsSignedDataError);
  });
  it('refuses Ed25519 with a digest other than SHA-512 (RFC 8419)', async () => {
    await expect(signData(CONTENT, options('ed25519', { hash: 'sha256' }))).rejects.toThrow(/SHA-512/);
  });
  it('refuses PSS with an EC key, and opaque signing of a stream', async () => {
    await expect(signData(CONTENT, options('ec-p256', { pss: true }))).rejects.toThrow(/RSA key/);
    await expect(signData(Readable.from([CONTENT]), options('ec-p256', { detached: false }))).rejects.toThrow(
      /Buffer/,
    );
  });
  it("embeds a callback token after checking only its imprint (its signature is the TSA client's and the verifier's job)", async () => {
    const damaged = async (signature: Buffer) => {
      const token = await tsaFor(tsa)(signature);
      return flip(token, token.length - 2); // inside the TSA signature, the last element
    };
    const der = await signData(CONTENT, options('ec-p256', { timestamp: damaged }));
    const check = (await verifySignedData(der, { content: CONTENT })).signers[0]!;
    expect(check.signatureValid).toBe(true);
    expect(check.timestamp).toMatchObject({ valid: false });
  });
  it('refuses a timestamp token over other data', async () => {
    const wrong = inProcessTsaOver(tsa, Buffer.from('something else'));
    await expect(signData(CONTENT, options('ec-p256', { timestamp: wrong }))).rejects.toThrow(
      /timestamp token is not usable/,
    );
  });
  it('verify: detached without content, opaque with content, and non-SignedData', async () => {
    const detached = await signData(CONTENT, options('ec-p256'));
    await expect(verifySignedData(detached)).rejects.toThrow(/pass the signed content/);
    const opaque = await signData(CONTENT, options('ec-p256', { detached: false }));
    await expect(verifySignedData(opaque, { content: CONTENT })).rejects.toThrow(/without passing content/);
    const enveloped = Buffer.concat([
      Buffer.from([0x30, 0x0d]),
      oid('1.2.840.113549.1.7.3'),
      Buffer.from([0xa0, 0x00]),
    ]);
    await expect(verifySignedData(enveloped, { content: CONTENT })).rejects.toThrow(/not SignedData/);
  });
});

function tsaFor(t: Issued): (sig: Buffer) => Promise<Buffer> {
  return inProcessTsa({ der: t.cert.der, key: t.key } as Parameters<typeof inProcessTsa>[0]);
}

function inProcessTsaOver(t: Issued, data: Buffer): (sig: Buffer) => Promise<Buffer> {
  const real = tsaFor(t);
  return () => real(data);
}

/**
 * Re-encode ContentInfo, SignedData and encapContentInfo with indefinite lengths, and the eContent as a
 * constructed OCTET STRING of 5-byte segments, as BER producers (NSS, gpgsm) do.
 */
function toIndefiniteBer(der: Buffer): Buffer {
  const indefinite = (tag: number, ...parts: Buffer[]) =>
    Buffer.concat([Buffer.from([tag, 0x80]), ...parts, Buffer.from([0, 0])]);
  const kids = (buf: Buffer) => {
    const t = readTlv(buf, 0);
    const out: Buffer[] = [];
    for (let p = t.contentStart; p < t.contentEnd;) {
      const c = readTlv(buf, p);
      out.push(buf.subarray(c.start, c.contentEnd));
      p = c.contentEnd;
    }
    return out;
  };
  const [type, wrapper] = kids(der) as [Buffer, Buffer];
  const sdParts = kids(kids(wrapper)[0] as Buffer);
  const [eType, eWrapper] = kids(sdParts[2] as Buffer) as [Buffer, Buffer];
  const content = kids(eWrapper)[0]!; // the primitive OCTET STRING
  const value = content.subarray(readTlv(content, 0).contentStart);
  const segments: Buffer[] = [];
  for (let i = 0; i < value.length; i += 5) {
    const seg = value.subarray(i, i + 5);
    segments.push(Buffer.concat([Buffer.from([TAG.OCTET_STRING]), encodeLength(seg.length), seg]));
  }
  const encap = indefinite(TAG.SEQUENCE, eType, indefinite(0xa0, indefinite(0x24, ...segments)));
  const signedData = indefinite(TAG.SEQUENCE, sdParts[0]!, sdParts[1]!, encap, ...sdParts.slice(3));
  return indefinite(TAG.SEQUENCE, type, indefinite(0xa0, signedData));
}
