/**
 * RC2 decryption (RFC 2268), CBC mode. Only to *read* PKCS#12 files that `openssl pkcs12 -export -legacy` and
 * older Windows/NSS exports write with pbeWithSHAAnd40BitRC2-CBC; Node's OpenSSL 3 has RC2 only in the legacy
 * provider, which is not loaded. We never encrypt with RC2.
 */

/** PITABLE, RFC 2268 §2: a permutation of 0..255 derived from the digits of pi. */
const PITABLE = Buffer.from(
  'd978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2179a59f587b34f1361456d8d09817d32' +
    'bd8f40eb86b77b0bf09521225c6b4e8254d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626' +
    '6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed708e8eade8052eef784aa72ac354d6a2a' +
    '961ad2715a1549744b9fd05e0418a4ecc2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731' +
    '2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a90d38341bab33ffb0bb480c5fb9b1cd2e' +
    'c5f3db47e5a59c770aa62068fe7fc1ad',
  'hex',
);

/** Key expansion (RFC 2268 §2): 64 16-bit subkeys for `effectiveBits` of effective key length. */
function expandKey(key: Uint8Array, effectiveBits: number): Uint16Array {
  const t = key.length;
  if (t < 1 || t > 128) throw new RangeError('RC2 key must be 1 to 128 bytes');
  const l = new Uint8Array(128);
  l.set(key);
  for (let i = t; i < 128; i++)
    l[i] = PITABLE[((l[i - 1] as number) + (l[i - t] as number)) & 0xff] as number;
  const t8 = (effectiveBits + 7) >> 3;
  const tm = 0xff >> (8 * t8 - effectiveBits);
  l[128 - t8] = PITABLE[(l[128 - t8] as number) & tm] as number;
  for (let i = 127 - t8; i >= 0; i--) l[i] = PITABLE[(l[i + 1] as number) ^ (l[i + t8] as number)] as number;
  const k = new Uint16Array(64);
  for (let i = 0; i < 64; i++) k[i] = (l[2 * i] as number) | ((l[2 * i + 1] as number) << 8);
  return k;
}

const ROTATE = [1, 2, 3, 5];

/** Decrypt one 8-byte block in place: 5 mixing, mash, 6 mixing, mash, 5 mixing rounds, all inverted (§4). */
function decryptBlock(k: Uint16Array, block: Uint8Array): void {
  const r = new Uint16Array(4);
  for (let i = 0; i < 4; i++) r[i] = (block[2 * i] as number) | ((block[2 * i + 1] as number) << 8);
  let j = 63;
  const at = (i: number): number => r[i & 3] as number;
  const mixRound = (): void => {
    for (let i = 3; i >= 0; i--) {
      const s = ROTATE[i] as number;
      const v = at(i);
      const rotated = ((v >>> s) | (v << (16 - s))) & 0xffff;
      r[i] = rotated - (k[j--] as number) - (at(i - 1) & at(i - 2)) - (~at(i - 1) & at(i - 3));
    }
  };
  const mashRound = (): void => {
    for (let i = 3; i >= 0; i--) r[i] = at(i) - (k[at(i - 1) & 63] as number);
  };
  for (let n = 0; n < 5; n++) mixRound();
  mashRound();
  for (let n = 0; n < 6; n++) mixRound();
  mashRound();
  for (let n = 0; n < 5; n++) mixRound();
  for (let i = 0; i < 4; i++) {
    block[2 * i] = (r[i] as number) & 0xff;
    block[2 * i + 1] = (r[i] as number) >> 8;
  }
}

/** Raw single-block decryption, for the RFC 2268 §5 test vectors. */
export function rc2DecryptBlock(key: Uint8Array, effectiveBits: number, block: Uint8Array): Buffer {
  const out = Buffer.from(block);
  decryptBlock(expandKey(key, effectiveBits), out);
  return out;
}

/** RC2-CBC decryption with PKCS#7 padding removed; throws RangeError on a bad length or padding. */
export function rc2CbcDecrypt(
  key: Uint8Array,
  effectiveBits: number,
  iv: Uint8Array,
  data: Uint8Array,
): Buffer {
  if (data.length === 0 || data.length % 8 !== 0 || iv.length !== 8)
    throw new RangeError('bad RC2-CBC input length');
  const k = expandKey(key, effectiveBits);
  const out = Buffer.alloc(data.length);
  let previous = Buffer.from(iv);
  for (let offset = 0; offset < data.length; offset += 8) {
    const cipherBlock = Buffer.from(data.subarray(offset, offset + 8));
    const block = Buffer.from(cipherBlock);
    decryptBlock(k, block);
    for (let i = 0; i < 8; i++) out[offset + i] = (block[i] as number) ^ (previous[i] as number);
    previous = cipherBlock;
  }
  const pad = out[out.length - 1] as number;
  if (pad < 1 || pad > 8 || !out.subarray(out.length - pad).every((b) => b === pad)) {
    throw new RangeError('bad RC2-CBC padding');
  }
  return out.subarray(0, out.length - pad);
}
