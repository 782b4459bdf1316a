/**
 * PDF validation benchmark (issue 4, "Validation: documents per second for a one-signature 1 MB PDF
 * (revocation from the DSS)"). One ~1 MB PDF is signed once at PAdES B-LT with the organisation seal of an
 * in-process Sealpost (its TSA, OCSP and CRL fill the DSS); the server is then stopped and validatePdf runs
 * with revocation required from the DSS only, so no network is in the loop.
 *
 * Baseline, measured in the same run: the raw cost bound of the work no validator can skip — SHA-256 over
 * the file, one verification of the signer's signature and the verifications of its chain (seal ← issuing
 * ← root), all with node:crypto directly.
 */
import { X509Certificate, createHash, randomBytes, verify, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openSealpost } from '../src/app/context.js';
import { freePort } from '../src/app/free-port.js';
import { initialise } from '../src/app/init.js';
import { startServer } from '../src/app/runtime.js';
import { loadConfig } from '../src/config/config.js';
import { signPdf } from '../src/pdf/sign/index.js';
import { formatReport, validatePdf, type PdfValidationOptions } from '../src/pdf/validate/index.js';
import { createLogger } from '../src/util/logger.js';
import { figure, rate, report, type Figure } from './harness.js';

const verifyAsync = promisify(verify);
const FILE_SIZE = 1024 * 1024;
const HOST = '127.0.0.1';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/**
 * A one-page PDF (classic xref) padded to about `size` bytes by an uncompressed, unreferenced stream of
 * random bytes, so every byte of it has to be hashed and none can be skipped by a clever reader.
 */
function onePagePdf(size: number): Buffer {
  const content = 'BT /F1 24 Tf 72 720 Td (Account statement) Tj ET';
  const bodies = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  const padding = randomBytes(Math.max(0, size - 1500));
  const parts: Buffer[] = [Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let at = parts[0]!.length;
  const offsets: number[] = [];
  const push = (b: Buffer): void => {
    parts.push(b);
    at += b.length;
  };
  const object = (n: number, body: Buffer): void => {
    offsets.push(at);
    push(Buffer.concat([Buffer.from(`${n} 0 obj\n`), body, Buffer.from('\nendobj\n')]));
  };
  bodies.forEach((body, i) => object(i + 1, Buffer.from(body, 'latin1')));
  object(
    bodies.length + 1,
    Buffer.concat([
      Buffer.from(`<< /Length ${padding.length} >>\nstream\n`),
      padding,
      Buffer.from('\nendstream'),
    ]),
  );
  const xref = at;
  const id = randomBytes(16).toString('hex');
  let tail = `xref\n0 ${offsets.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) tail += `${String(o).padStart(10, '0')} 00000 n \n`;
  tail += `trailer\n<< /Size ${offsets.length + 1} /Root 1 0 R /ID [<${id}> <${id}>] >>\nstartxref\n${xref}\n%%EOF\n`;
  push(Buffer.from(tail, 'latin1'));
  return Buffer.concat(parts);
}

/** What the raw bound verifies: one signature by the seal, and each certificate of its chain. */
interface RawBound {
  message: Buffer;
  signature: Buffer;
  signerKey: KeyObject;
  /** [certificate, issuer's public key] for seal ← issuing ← root (the root is self-signed). */
  chain: [X509Certificate, KeyObject][];
}

/** SHA-256 over the file, the signer's signature and the chain's signatures, with node:crypto only. */
async function rawValidation(path: string, b: RawBound): Promise<void> {
  createHash('sha256')
    .update(await readFile(path))
    .digest();
  if (!(await verifyAsync('sha256', b.message, b.signerKey, b.signature)))
    throw new Error('baseline: the seal signature does not verify');
  for (const [cert, issuerKey] of b.chain)
    if (!cert.verify(issuerKey)) throw new Error(`baseline: ${cert.subject} does not verify`);
}

export async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-bench-pdf-validate-'));
  try {
    // The port is chosen first: the certificates issued at initialisation name it in AIA and CRLDP.
    const port = await freePort(HOST);
    const config = loadConfig({ dataDir: join(dir, 'data'), env: {}, overrides: { port, host: HOST } });
    const ctx = await openSealpost(config, createLogger('silent'), { createMasterKey: true });
    try {
      await initialise(ctx, { orgName: 'Bench Bank', actor: 'bench' });
      const server = await startServer(ctx, {
        roles: ['ca', 'ocsp', 'tsa', 'api'],
        host: HOST,
        port,
        pollMs: 200,
      });
      const seal = await ctx.ca.serviceCredentials('seal');
      const [issuing, root] = seal.chain;
      if (!issuing || !root) throw new Error('the seal certificate has no issuing CA and root');

      const input = join(dir, 'statement.pdf');
      const signed = join(dir, 'statement-b-lt.pdf');
      await writeFile(input, onePagePdf(FILE_SIZE));
      try {
        await signPdf({
          input,
          output: signed,
          signer: { key: seal.key.handle, certificate: seal.certificate.der, chain: [issuing.der] },
          level: 'B-LT',
          tsa: { url: `${server.url}/tsa` },
          ltv: { trustAnchors: [root.der] },
        });
      } finally {
        // Stopped before measuring: validation below can only use what the DSS holds.
        await server.close();
      }
      const size = (await readFile(signed)).length;

      const options: PdfValidationOptions = {
        trustAnchors: [root.der],
        revocation: { mode: 'require', onUnreachable: 'fail', fetch: false },
      };
      const check = await validatePdf(signed, options);
      const sig = check.signatures[0];
      if (
        !check.ok ||
        check.signatures.length !== 1 ||
        sig?.ltv.level !== 'B-LT' ||
        !sig.ltv.revocationFromDss
      )
        throw new Error(
          `the benchmark input does not validate as one B-LT signature from the DSS:\n${formatReport(check)}`,
        );
      const validateOnce = async (): Promise<void> => {
        const r = await validatePdf(signed, options);
        if (!r.ok) throw new Error(`validation failed during the benchmark:\n${formatReport(r)}`);
      };

      const x509 = (der: Buffer): X509Certificate => new X509Certificate(der);
      const [sealX, issuingX, rootX] = [x509(seal.certificate.der), x509(issuing.der), x509(root.der)];
      // A message the size of a CAdES signedAttrs set; the verification cost does not depend on its content.
      const message = randomBytes(200);
      const bound: RawBound = {
        message,
        signature: await seal.key.handle.sign(message, 'sha256'),
        signerKey: sealX.publicKey,
        chain: [
          [sealX, issuingX.publicKey],
          [issuingX, rootX.publicKey],
          [rootX, rootX.publicKey],
        ],
      };

      const loadBefore = loadavg()[0]!;
      const figures: Figure[] = [];
      for (const concurrency of [1, 4]) {
        // Alternate the two measurements and keep each one's best round, so a burst of load from
        // elsewhere on the machine does not land on one side only.
        let ours = { perSecond: 0, p50Ms: 0, p99Ms: 0, count: 0 };
        let raw = { ...ours };
        for (let round = 0; round < ROUNDS; round++) {
          const o = await rate(validateOnce, { concurrency, ms: 2000, warmup: round ? 2 : 20 });
          if (o.perSecond > ours.perSecond) ours = o;
          const r = await rate(() => rawValidation(signed, bound), { concurrency, ms: 1000 });
          if (r.perSecond > raw.perSecond) raw = r;
        }
        figures.push(
          figure({
            name: `validate ${Math.round(size / 1024)} KB B-LT PDF, DSS revocation, concurrency ${concurrency}`,
            unit: 'docs/s',
            value: ours.perSecond,
            baselineName: 'SHA-256 + signature + chain, node:crypto',
            baseline: raw.perSecond,
            p50Ms: ours.p50Ms,
            p99Ms: ours.p99Ms,
          }),
        );
      }
      await report('pdf-validate', figures, [
        `one approval signature by the seal (${seal.key.handle.algorithm}) at B-LT: signature timestamp from our TSA, DSS with OCSP/CRL; the server is stopped before measuring`,
        "revocation { mode: 'require', onUnreachable: 'fail', fetch: false }: every status comes from the DSS",
        `best of ${ROUNDS} alternating rounds (2 s ours, 1 s baseline) per concurrency`,
        `1-minute load average ${loadBefore.toFixed(1)} before measuring, ${loadavg()[0]!.toFixed(1)} after (other work on this ${cpus().length}-core machine skews p99)`,
        'the baseline leaves out the timestamp token and the OCSP/CRL signatures, which the validator also verifies, so the ratio understates us',
      ]);
    } finally {
      await ctx.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
