/** Unit checks for the small building blocks: PEM, names, DER, RC2, algorithm identifiers, serials. */
import { describe, expect, it } from 'vitest';
import { AsnConvert } from '@peculiar/asn1-schema';
import { SoftwareKey } from '../../src/crypto/software-key.js';
import {
  digestAlgorithmId,
  hashFromOid,
  keyAlgorithmOfSpki,
  signatureAlgorithmId,
  verifySignature,
} from '../../src/pkix/algorithms.js';
import { randomSerial } from '../../src/pkix/certificate.js';
import { DerCache, decodeOid, integer, oid, time } from '../../src/pkix/der.js';
import { Asn1Error } from '../../src/pkix/errors.js';
import { buildName, nameToString } from '../../src/pkix/name.js';
import { fromPem, pemOrDer, toPem } from '../../src/pkix/pem.js';
import { rc2DecryptBlock } from '../../src/pkix/rc2.js';

const hex = (s: string) => Buffer.from(s, 'hex');

describe('pem', () => {
  it('writes 64-column base64 with a trailing newline and reads it back', () => {
    const der = Buffer.alloc(100, 0xab);
    const pem = toPem(der, 'CERTIFICATE');
    const lines = pem.split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines[1]).toHaveLength(64);
    expect(pem.endsWith('-----END CERTIFICATE-----\n')).toBe(true);
    expect(fromPem(`junk\r\n${pem.replace(/\n/g, '\r\n')}more`)).toEqual([{ label: 'CERTIFICATE', der }]);
  });
  it('pemOrDer picks the labelled block, passes DER through, and explains a missing label', () => {
    const a = Buffer.from([0x30, 0x00]);
    const b = Buffer.from([0x30, 0x01, 0x05]);
    const text = toPem(a, 'PRIVATE KEY') + toPem(b, 'CERTIFICATE');
    expect(pemOrDer(text, 'CERTIFICATE')).toEqual(b);
    expect(pemOrDer(Buffer.from(text))).toEqual(a);
    expect(pemOrDer(b)).toEqual(b);
    expect(() => pemOrDer(text, 'X509 CRL')).toThrow(Asn1Error);
    expect(() => pemOrDer(text, 'X509 CRL')).toThrow(/BEGIN X509 CRL/);
  });

  it('stays fast on hostile text (many BEGIN lines without END)', () => {
    const hostile = '-----BEGIN CERTIFICATE-----\n'.repeat(200_000);
    const t = Date.now();
    expect(fromPem(hostile)).toEqual([]);
    expect(Date.now() - t).toBeLessThan(2000);
  });
});

describe('names', () => {
  it('orders RDNs C, O, CN and prints RFC 4514 with escaping', () => {
    const name = buildName({
      commonName: 'Müller, Hans+1',
      organization: 'Bank "A"',
      country: 'DE',
      email: 'h@bank.example',
    });
    expect(nameToString(name)).toBe('emailAddress=h@bank.example,CN=Müller\\, Hans\\+1,O=Bank \\"A\\",C=DE');
    const der = Buffer.from(AsnConvert.serialize(name));
    expect(der.includes(Buffer.from([0x13, 0x02, 0x44, 0x45]))).toBe(true); // C as PrintableString
  });
  it('rejects a country that is not two capital letters', () => {
    expect(() => buildName({ country: 'Germany' })).toThrow(/two-letter/);
  });
});

describe('DerCache', () => {
  it('keeps inputs that share length, head and tail apart, and notices a buffer edited after use', () => {
    const cache = new DerCache<string>(8);
    const a = Buffer.alloc(200, 0x41);
    const b = Buffer.from(a);
    b[100] = 0x42; // same fingerprint, different bytes
    expect(cache.get(a, () => 'a')).toBe('a');
    expect(cache.get(b, () => 'b')).toBe('b');
    expect(cache.get(Buffer.from(a), () => 'again')).toBe('a');
    expect(cache.get(Buffer.from(b), () => 'again')).toBe('b');
    a[100] = 0x42; // the caller edits its buffer: it now has b's bytes
    expect(cache.get(a, () => 'again')).toBe('b');
  });

  it('holds about its limit, and what is used keeps its place while the rest is dropped', () => {
    const cache = new DerCache<number>(8);
    const input = (i: number) => Buffer.alloc(100, i);
    let computed = 0;
    const get = (i: number) => cache.get(input(i), () => (computed++, i));
    for (let i = 0; i < 100; i++) {
      get(i);
      expect(get(0)).toBe(0); // used all along
    }
    computed = 0;
    get(0);
    expect(computed).toBe(0);
    for (let i = 0; i < 100; i++) get(i);
    expect(computed).toBeGreaterThanOrEqual(90); // at most about 8 of the 100 were still there
  });
});

describe('der', () => {
  it('encodes times per RFC 5280 (UTCTime to 2049, GeneralizedTime after, no fractions)', () => {
    expect(time(new Date('2049-12-31T23:59:59.999Z')).toString('latin1', 2)).toBe('491231235959Z');
    expect(time(new Date('2050-01-01T00:00:00Z')).toString('latin1', 2)).toBe('20500101000000Z');
  });
  it('encodes minimal positive integers and OIDs', () => {
    expect(integer(128).toString('hex')).toBe('02020080');
    expect(integer(0).toString('hex')).toBe('020100');
    expect(oid('1.2.840.113549.1.1.11').toString('hex')).toBe('06092a864886f70d01010b');
    expect(decodeOid(hex('2a864886f70d01010b'))).toBe('1.2.840.113549.1.1.11');
  });
});

describe('rc2 (RFC 2268 §5 test vectors)', () => {
  it.each([
    ['0000000000000000', 63, 'ebb773f993278eff', '0000000000000000'],
    ['ffffffffffffffff', 64, '278b27e42e2f0d49', 'ffffffffffffffff'],
    ['3000000000000000', 64, '30649edf9be7d2c2', '1000000000000001'],
    ['88bca90e90875a7f0f79c384627bafb2', 128, '2269552ab0f85ca6', '0000000000000000'],
  ])('key %s / %d bits', (key, bits, ct, pt) => {
    expect(rc2DecryptBlock(hex(key), bits, hex(ct)).toString('hex')).toBe(pt);
  });
});

describe('algorithms', () => {
  it('writes the parameter forms RFC 4055/5758/8410 require', () => {
    const der = (k: Parameters<typeof signatureAlgorithmId>[0], pss = false) =>
      Buffer.from(AsnConvert.serialize(signatureAlgorithmId(k, 'sha256', { pss }))).toString('hex');
    expect(der('rsa-2048')).toBe('300d06092a864886f70d01010b0500');
    expect(der('ec-p256')).toBe('300a06082a8648ce3d040302');
    expect(der('ed25519')).toBe('300506032b6570');
    expect(der('rsa-2048', true)).toContain('06092a864886f70d01010a');
    expect(Buffer.from(AsnConvert.serialize(digestAlgorithmId('sha384'))).toString('hex')).toBe(
      '300b0609608648016503040202',
    );
    expect(hashFromOid('2.16.840.1.101.3.4.2.1')).toBe('sha256');
    expect(hashFromOid('1.3.14.3.2.26')).toBeUndefined();
  });
  it('verifies PSS and v1.5 signatures and refuses mismatched keys', async () => {
    const rsa = await SoftwareKey.generate('rsa-2048');
    const ec = await SoftwareKey.generate('ec-p256');
    const data = Buffer.from('hello');
    const pss = await rsa.sign(data, 'sha384', { pss: true });
    expect(
      verifySignature(rsa.spki, signatureAlgorithmId('rsa-2048', 'sha384', { pss: true }), data, pss),
    ).toBe(true);
    expect(verifySignature(rsa.spki, signatureAlgorithmId('rsa-2048', 'sha384'), data, pss)).toBe(false);
    const sig = await ec.sign(data, 'sha256');
    expect(verifySignature(ec.spki, signatureAlgorithmId('ec-p256', 'sha256'), data, sig)).toBe(true);
    expect(verifySignature(rsa.spki, signatureAlgorithmId('ec-p256', 'sha256'), data, sig)).toBe(false);
    expect(verifySignature(Buffer.from('junk'), signatureAlgorithmId('ec-p256', 'sha256'), data, sig)).toBe(
      false,
    );
    expect(keyAlgorithmOfSpki(ec.spki)).toBe('ec-p256');
    expect(() => keyAlgorithmOfSpki(Buffer.from([0x30, 0x00]))).toThrow(Asn1Error);
  });
});

describe('randomSerial', () => {
  it('is 16 bytes, positive, minimal and different each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const s = randomSerial();
      expect(s).toHaveLength(16);
      expect(s[0]! & 0x80).toBe(0);
      expect(s[0]).not.toBe(0);
      seen.add(s.toString('hex'));
    }
    expect(seen.size).toBe(500);
  });
});
