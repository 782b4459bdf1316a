/**
 * Opening public-key-encrypted PDFs with recipient keys held in a PKCS#11 token (SoftHSM2): RSA v1.5
 * through CKM_RSA_PKCS and ECDH through CKM_ECDH1_DERIVE, with the keys imported the way an escrowed
 * encryption key is (softhsm2-util --import).
 */
import pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pkcs11Config } from '../../src/crypto/pkcs11.js';
import { BufferSource, PdfDocument } from '../../src/pdf/index.js';
import { PUBSEC_CANNOT_DECRYPT, PdfRecipientError } from '../../src/pdf/crypt/pubsec.js';
import { encryptPdf } from '../../src/pdf/encrypt/index.js';
import { decryptPdf } from '../../src/pdf/decrypt/index.js';
import { Pkcs11Decryptor } from '../../src/crypto/pkcs11-decrypt.js';
import { Pkcs11TokenError } from '../../src/crypto/pkcs11.js';
import {
  SOFTHSM_USER_PIN,
  createSoftHsmToken,
  softHsmSkipReason,
  type SoftHsmToken,
} from '../helpers/softhsm.js';
import { run } from '../helpers/run.js';
import { buildPdf, makeRecipients, type Recipients } from './pubsec-fixtures.js';

const skip = softHsmSkipReason();

/** softhsm2-util imports EC keys without CKA_DERIVE; an HSM admin would set it for an ECDH decryption key. */
function allowDerive(config: Pkcs11Config, label: string): void {
  const lib = new pkcs11js.PKCS11();
  lib.load(config.module);
  lib.C_Initialize();
  try {
    const slot = lib
      .C_GetSlotList(true)
      .find((s) => lib.C_GetTokenInfo(s).label.trim() === config.tokenLabel)!;
    const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
    lib.C_Login(session, pkcs11js.CKU_USER, config.pin);
    lib.C_FindObjectsInit(session, [
      { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
      { type: pkcs11js.CKA_LABEL, value: label },
    ]);
    const [key] = lib.C_FindObjects(session, 1);
    lib.C_FindObjectsFinal(session);
    lib.C_SetAttributeValue(session, key!, [{ type: pkcs11js.CKA_DERIVE, value: true }]);
    lib.C_CloseSession(session);
  } finally {
    lib.C_Finalize();
  }
}

describe.skipIf(!!skip)('PubSec decryption with a PKCS#11 token key', () => {
  let r: Recipients;
  let token: SoftHsmToken;
  let enc: Buffer;
  const decryptors: Pkcs11Decryptor[] = [];

  beforeAll(async () => {
    r = await makeRecipients();
    token = await createSoftHsmToken();
    for (const [label, id, key] of [
      ['customer-enc', '01', r.rsa.keyPem],
      ['archive-enc', '02', r.archive.keyPem],
      ['ec-enc', '03', r.ec.keyPem],
    ] as const) {
      const res = await run('softhsm2-util', [
        '--import',
        key,
        '--token',
        token.config.tokenLabel,
        '--label',
        label,
        '--id',
        id,
        '--pin',
        SOFTHSM_USER_PIN,
      ]);
      if (res.code !== 0) throw new Error(`softhsm2-util --import failed: ${res.stderr}`);
    }
    allowDerive(token.config, 'ec-enc');
    enc = await encryptPdf(buildPdf(Buffer.from('BT (balance 1,234.56) Tj ET')), {
      recipients: [{ certificate: r.rsa.certificate }, { certificate: r.ec.certificate }],
    });
  }, 120_000);

  afterAll(async () => {
    for (const d of decryptors) d.close();
    await token?.cleanup();
    await r?.cleanup();
  });

  const open = (label: string): Pkcs11Decryptor => {
    const d = Pkcs11Decryptor.open(token.config, label);
    decryptors.push(d);
    return d;
  };

  it('decrypts with the RSA key in the token (CKM_RSA_PKCS)', async () => {
    const { pdf } = await decryptPdf(enc, {
      keys: [{ privateKey: open('customer-enc'), certificate: r.rsa.certificate }],
    });
    const doc = await PdfDocument.open(new BufferSource(pdf));
    const [page] = await doc.pages();
    expect((await doc.latest.pageContent(page!)).toString()).toContain('balance 1,234.56');
  });

  it('decrypts with the EC key in the token (CKM_ECDH1_DERIVE)', async () => {
    const { result } = await decryptPdf(enc, {
      keys: [{ privateKey: open('ec-enc'), certificate: r.ec.certificate }],
    });
    expect(result.filter).toBe('Adobe.PubSec');
  });

  it('a token key that does not match the certificate fails like a damaged envelope', async () => {
    const err = await decryptPdf(enc, {
      keys: [{ privateKey: open('archive-enc'), certificate: r.rsa.certificate }],
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PdfRecipientError);
    expect((err as Error).message).toBe(PUBSEC_CANNOT_DECRYPT);
  });

  it('a missing key label is a clear token error', () => {
    expect(() => Pkcs11Decryptor.open(token.config, 'nobody')).toThrow(Pkcs11TokenError);
    expect(() => Pkcs11Decryptor.open(token.config, 'nobody')).toThrow(/no private key labelled "nobody"/);
  });
});
