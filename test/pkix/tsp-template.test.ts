/**
 * The TSA signer splices variable fields into pre-encoded DER. This test builds the same TimeStampResp the slow
 * way, with @peculiar/asn1-schema objects serialised from scratch, and requires byte-identical output for random
 * inputs: proof that every spliced length and offset is right.
 */
import { createHash } from 'node:crypto';
import {
  AsnArray,
  AsnConvert,
  AsnIntegerArrayBufferConverter,
  AsnProp,
  AsnPropTypes,
  AsnType,
  AsnTypeTypes,
  OctetString,
} from '@peculiar/asn1-schema';
import {
  Attribute,
  CertificateChoices,
  CertificateSet,
  ContentInfo,
  DigestAlgorithmIdentifiers,
  EncapsulatedContent,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  SignedData,
  SignerIdentifier,
  SignerInfo,
  SignerInfos,
} from '@peculiar/asn1-cms';
import { Accuracy, MessageImprint, PKIStatusInfo, TSTInfo, TimeStampResp } from '@peculiar/asn1-tsp';
import { AlgorithmIdentifier, Certificate, GeneralName, GeneralNames, Name, Time } from '@peculiar/asn1-x509';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HashAlgorithm, KeyHandle } from '../../src/crypto/key-handle.js';
import { parseCertificate } from '../../src/pkix/certificate.js';
import { TimeStampSigner, type TimeStampAccuracy, type TimeStampRequest } from '../../src/pkix/tsp.js';
import { HAVE_OPENSSL, TSA_EXT, issue, makeRootCa, makeTempDir, type TestCert } from './ocsp-tsp-oracle.js';

// ---- RFC 5035 ESS types, declared here independently of src/pkix/ess.ts

class IssuerSerial {
  @AsnProp({ type: GeneralNames }) issuer = new GeneralNames();
  @AsnProp({ type: AsnPropTypes.Integer, converter: AsnIntegerArrayBufferConverter }) serialNumber =
    new ArrayBuffer(0);
}
class EssCertIdV2 {
  @AsnProp({ type: AlgorithmIdentifier, optional: true }) hashAlgorithm?: AlgorithmIdentifier;
  @AsnProp({ type: OctetString }) certHash = new OctetString();
  @AsnProp({ type: IssuerSerial, optional: true }) issuerSerial?: IssuerSerial;
}
@AsnType({ type: AsnTypeTypes.Sequence, itemType: EssCertIdV2 })
class EssCertIdV2List extends AsnArray<EssCertIdV2> {}
class SigningCertificateV2 {
  @AsnProp({ type: EssCertIdV2List }) certs = new EssCertIdV2List();
}
@AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })
class AttributeSet extends AsnArray<Attribute> {}

const OID = {
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  ecdsa: { sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4' },
};

const ab = (b: Uint8Array): ArrayBuffer =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
const ser = (o: unknown): Buffer => Buffer.from(AsnConvert.serialize(o));

function unsignedIntegerBytes(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const b = Buffer.from(hex, 'hex');
  return (b[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
}

/** A key whose "signature" is a deterministic function of the data, so both paths sign identically. */
function deterministicKey(spki: Buffer): KeyHandle {
  const sign = async (data: Uint8Array) => createHash('sha512').update(data).digest();
  return { algorithm: 'ec-p256', backend: 'software', spki, sign, signDigest: sign };
}

interface Case {
  signerHash: HashAlgorithm;
  imprintHash: HashAlgorithm;
  serial: bigint;
  genTime: Date;
  nonce?: Buffer;
  certReq: boolean;
  accuracy?: TimeStampAccuracy;
}

function slowPath(c: Case, cert: Buffer, chain: Buffer[], policy: string, request: TimeStampRequest): Buffer {
  const parsed = parseCertificate(cert);
  const a = c.accuracy ?? {};
  const total = (a.seconds ?? 0) * 1e6 + (a.millis ?? 0) * 1e3 + (a.micros ?? 0);
  const sub = total % 1e6 !== 0; // genTime carries milliseconds only for sub-second accuracy
  const tst = new TSTInfo({
    policy,
    messageImprint: new MessageImprint({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: OID[c.imprintHash] }),
      hashedMessage: new OctetString(request.messageImprint),
    }),
    serialNumber: ab(unsignedIntegerBytes(c.serial)),
    genTime: new Date(sub ? c.genTime.getTime() : Math.floor(c.genTime.getTime() / 1000) * 1000),
  });
  if (total > 0) {
    const acc = new Accuracy();
    delete (acc as { seconds?: number }).seconds;
    if (total >= 1e6) acc.seconds = Math.floor(total / 1e6);
    if (Math.floor(total / 1e3) % 1000) acc.millis = Math.floor(total / 1e3) % 1000;
    if (total % 1000) acc.micros = total % 1000;
    tst.accuracy = acc;
  }
  if (c.nonce) tst.nonce = ab(c.nonce);
  const tstDer = ser(tst);

  const essId = new EssCertIdV2();
  essId.certHash = new OctetString(createHash('sha256').update(cert).digest());
  essId.issuerSerial = new IssuerSerial();
  essId.issuerSerial.issuer = new GeneralNames([
    new GeneralName({ directoryName: AsnConvert.parse(parsed.issuerDer, Name) }),
  ]);
  essId.issuerSerial.serialNumber = ab(unsignedIntegerBytes(BigInt('0x' + parsed.serialHex)));
  const signingCert = new SigningCertificateV2();
  signingCert.certs = new EssCertIdV2List([essId]);

  const attr = (type: string, value: unknown) =>
    new Attribute({ attrType: type, attrValues: [ab(ser(value))] });
  const attrs = [
    new Attribute({
      attrType: OID.contentType,
      attrValues: [ab(Buffer.from('060b2a864886f70d0109100104', 'hex'))],
    }),
    attr(OID.signingTime, new Time(new Date(Math.floor(c.genTime.getTime() / 1000) * 1000))),
    attr(OID.messageDigest, new OctetString(createHash(c.signerHash).update(tstDer).digest())),
    attr(OID.signingCertificateV2, signingCert),
  ].sort((a, b) => Buffer.compare(ser(a), ser(b)));
  const signedAttrsDer = ser(new AttributeSet(attrs));

  const signerInfo = new SignerInfo({
    version: 1,
    sid: new SignerIdentifier({
      issuerAndSerialNumber: new IssuerAndSerialNumber({
        issuer: AsnConvert.parse(parsed.issuerDer, Name),
        serialNumber: ab(unsignedIntegerBytes(BigInt('0x' + parsed.serialHex))),
      }),
    }),
    digestAlgorithm: new AlgorithmIdentifier({ algorithm: OID[c.signerHash] }),
    signedAttrs: attrs,
    signatureAlgorithm: new AlgorithmIdentifier({ algorithm: OID.ecdsa[c.signerHash] }),
    signature: new OctetString(createHash('sha512').update(signedAttrsDer).digest()),
  });
  const signedData = new SignedData({
    version: 3,
    digestAlgorithms: new DigestAlgorithmIdentifiers([
      new AlgorithmIdentifier({ algorithm: OID[c.signerHash] }),
    ]),
    encapContentInfo: new EncapsulatedContentInfo({
      eContentType: OID.tstInfo,
      eContent: new EncapsulatedContent({ single: new OctetString(tstDer) }),
    }),
    signerInfos: new SignerInfos([signerInfo]),
  });
  if (c.certReq) {
    signedData.certificates = new CertificateSet(
      [cert, ...chain].map((d) => new CertificateChoices({ certificate: AsnConvert.parse(d, Certificate) })),
    );
  }
  const token = new ContentInfo({ contentType: OID.signedData, content: ab(ser(signedData)) });
  return ser(new TimeStampResp({ status: new PKIStatusInfo({ status: 0 }), timeStampToken: token }));
}

describe.skipIf(!HAVE_OPENSSL)('TimeStampSigner template output equals an asn1-schema build', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let root: TestCert;
  let tsa: TestCert;

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('sealpost-tsp-tpl-'));
    root = await makeRootCa(dir, 'root');
    tsa = await issue(dir, root, 'tsa', TSA_EXT, 'ec');
  });
  afterAll(() => cleanup?.());

  const hashArb = fc.constantFrom<HashAlgorithm>('sha256', 'sha384', 'sha512');
  const caseArb: fc.Arbitrary<Case> = fc.record(
    {
      signerHash: hashArb,
      imprintHash: hashArb,
      serial: fc.bigInt({ min: 0n, max: (1n << 160n) - 1n }),
      genTime: fc.date({
        min: new Date('1990-01-01T00:00:00Z'),
        max: new Date('2099-12-31T23:59:59Z'),
        noInvalidDate: true,
      }),
      nonce: fc
        .uint8Array({ minLength: 1, maxLength: 40 })
        .map((b) => Buffer.from([1 + ((b[0] as number) % 127), ...b.subarray(1)])),
      certReq: fc.boolean(),
      accuracy: fc.record(
        { seconds: fc.nat(100), millis: fc.nat(2500), micros: fc.nat(999) },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['signerHash', 'imprintHash', 'serial', 'genTime', 'certReq'] },
  );

  it('byte-identical for random serials, times (incl. ≥ 2050), nonces, hashes, accuracies and certReq', async () => {
    const policy = '1.3.6.1.4.1.55555.1.1';
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const signer = new TimeStampSigner({
          certificate: tsa.der,
          chain: [root.der],
          key: deterministicKey(tsa.key.spki),
          hash: c.signerHash,
          policy,
          ...(c.accuracy ? { accuracy: c.accuracy } : {}),
        });
        const imprint = createHash(c.imprintHash).update(String(c.serial)).digest();
        const request: TimeStampRequest = {
          hash: c.imprintHash,
          messageImprint: imprint,
          certReq: c.certReq,
        };
        if (c.nonce) request.nonce = c.nonce;
        const fast = await signer.sign(request, c.serial, c.genTime);
        expect(fast.toString('hex')).toBe(slowPath(c, tsa.der, [root.der], policy, request).toString('hex'));
      }),
      { numRuns: 150 },
    );
  });
});
