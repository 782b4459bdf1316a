import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Pkcs11Token } from '../../src/crypto/pkcs11.js';
import {
  finishPdfSignature,
  preparePdfSignature,
  signPdf,
  signerFromPkcs12,
  type PreparedSignature,
} from '../../src/pdf/sign/index.js';
import { buildCsr } from '../../src/pkix/csr.js';
import { signData } from '../../src/pkix/cms/signed-data.js';
import { buildPkcs12 } from '../../src/pkix/pkcs12.js';
import type { SoftwareKey } from '../../src/crypto/software-key.js';
import { createSoftHsmToken, softHsmSkipReason, type SoftHsmToken } from '../helpers/softhsm.js';
import {
  createSignEnv,
  havePdfBox,
  pdfbox,
  pdfsig,
  qpdfCheck,
  requireOracle,
  type SignEnv,
} from './sign-env.js';

const execFileAsync = promisify(execFile);
const oracles = requireOracle('pdfsig') && requireOracle('qpdf') && requireOracle('pk12util') && havePdfBox();
const noHsm = softHsmSkipReason();

describe.skipIf(!oracles)(
  'PDF signers: PKCS#12, PKCS#11, two-phase, and files signed by another tool',
  () => {
    let env: SignEnv;
    let hsm: SoftHsmToken | undefined;
    beforeAll(async () => {
      env = await createSignEnv();
      if (!noHsm) hsm = await createSoftHsmToken();
    }, 60_000);
    afterAll(async () => {
      await env?.cleanup();
      await hsm?.cleanup();
    });

    it.skipIf(noHsm !== undefined)(
      'a PKCS#11 token key (SoftHSM2), RSA and ECDSA: pdfsig valid and trusted',
      async () => {
        const token = Pkcs11Token.open(hsm!.config);
        try {
          let input = join(env.fixtures, 'classic.pdf');
          for (const alg of ['rsa-2048', 'ec-p256'] as const) {
            const key = await token.generateKey(`pdf-${alg}`, alg);
            const email = `token-${alg}@pdf-test.example`;
            const csr = await buildCsr(key, { commonName: email }, [email]);
            const [issued] = await env.ctx.ca.issueUser({ email, usage: 'signing', csr, actor: 'test' });
            const issuing = env.signer.chain![0]!;
            const out = join(env.dir, `p11-${alg}.pdf`);
            await signPdf({
              input,
              output: out,
              signer: { key, certificate: issued!.certificate.der, chain: [issuing] },
            });
            input = out;
          }
          const sigs = await pdfsig(env, input);
          expect(sigs.map((s) => [s.valid, s.trusted])).toEqual([
            [true, true],
            [true, true],
          ]);
        } finally {
          token.close();
        }
      },
    );

    it('two-phase: prepare returns the attributes to sign, finish embeds the signature; or a whole CMS', async () => {
      const key = env.signer.key;
      const prepared = join(env.dir, 'prepared.pdf');
      const p = await preparePdfSignature({
        input: join(env.fixtures, 'objstm.pdf'),
        output: prepared,
        certificate: env.signer.certificate,
        chain: env.signer.chain ?? [],
        timestamp: true,
      });
      const handle = JSON.parse(JSON.stringify(p)) as PreparedSignature; // survives storage as JSON
      // The device signs the DER signed attributes (or their digest, digestToSign).
      const signature = await key.signDigest(Buffer.from(handle.digestToSign, 'base64'), 'sha256');
      await expect(
        finishPdfSignature(handle, { signature: Buffer.alloc(signature.length, 1) }),
      ).rejects.toThrow(/does not verify/);
      await finishPdfSignature(handle, { signature }, { tsa: { url: env.tsaUrl } });
      expect((await pdfsig(env, prepared)).map((s) => [s.valid, s.trusted])).toEqual([[true, true]]);
      expect((await pdfbox(env, prepared)).signatures[0]).toMatchObject({
        digestOk: true,
        signatureTimestamp: true,
      });

      // A remote service that returns a complete CMS over the document digest.
      const second = join(env.dir, 'prepared-cms.pdf');
      const q = await preparePdfSignature({
        input: prepared,
        output: second,
        certificate: env.signer.certificate,
      });
      const covered = await readFile(second);
      const [, a, b] = q.byteRange;
      const cms = await signData(Buffer.concat([covered.subarray(0, a), covered.subarray(b)]), {
        signer: key,
        certificate: env.signer.certificate,
        chain: env.signer.chain ?? [],
        signingTime: false,
        capabilities: [],
      });
      await finishPdfSignature(q, { cms });
      expect((await pdfsig(env, second)).map((s) => s.valid)).toEqual([true, true]);
      expect((await qpdfCheck(second)).ok).toBe(true);
    });

    it('a file signed by pdfsig -add-signature (NSS) stays valid after our signature from a PKCS#12', async () => {
      const p12 = buildPkcs12({
        privateKey: (env.signer.key as SoftwareKey).exportPkcs8(),
        certificate: env.signer.certificate,
        chain: [...(env.signer.chain ?? []), env.root],
        password: 'pdf-test-pass',
        legacy: true,
        friendlyName: 'nss-signer',
      });
      const p12File = join(env.dir, 'signer.p12');
      await writeFile(p12File, p12);
      await execFileAsync('pk12util', [
        '-i',
        p12File,
        '-d',
        `sql:${env.nssDir}`,
        '-W',
        'pdf-test-pass',
        '-K',
        '',
      ]);
      const byPoppler = join(env.dir, 'poppler-signed.pdf');
      const add = await execFileAsync('pdfsig', [
        '-add-signature',
        '-nssdir',
        `sql:${env.nssDir}`,
        '-nick',
        'nss-signer',
        '-reason',
        'first',
        join(env.fixtures, 'ghostscript.pdf'),
        byPoppler,
      ]).catch((e: Error) => e);
      if (add instanceof Error) throw new Error(`pdfsig -add-signature failed: ${add.message}`);
      const loaded = signerFromPkcs12(p12, 'pdf-test-pass');
      expect(loaded.roots.map((r) => r.equals(env.root))).toEqual([true]);
      const ours = join(env.dir, 'poppler-then-ours.pdf');
      await signPdf({
        input: byPoppler,
        output: ours,
        signer: loaded,
        visible: { page: 1, x: 300, y: 36, width: 200, height: 50 },
      });
      expect((await pdfsig(env, ours)).map((s) => [s.valid, s.trusted])).toEqual([
        [true, true],
        [true, true],
      ]);
      expect((await pdfbox(env, ours)).signatures.every((s) => s.digestOk && s.signatureOk)).toBe(true);
      expect((await qpdfCheck(ours)).ok).toBe(true);
    });
  },
);
