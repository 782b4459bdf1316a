import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { createPrivateKey, sign as cryptoSign } from 'node:crypto';
import { join } from 'node:path';
import { createSignEnv, pdfsig, qpdfCheck, requireOracle, type SignEnv } from '../pdf/sign-env.js';
import { toPem } from '../../src/pkix/pem.js';
import { decryptPdf } from '../../src/pdf/decrypt/index.js';
import { pubSecSecurityHandler } from '../../src/pdf/crypt/pubsec.js';
import { formatReport, validatePdf } from '../../src/pdf/validate/index.js';

const oracles = requireOracle('pdfsig') && requireOracle('qpdf');

/** The eSigning HTTP API a bank's systems call: seal signing, verification, batches, two-phase signing. */
describe.skipIf(!oracles)('eSigning API over HTTP', () => {
  let env: SignEnv;
  let base: string;
  let key: string;
  let statement: Buffer;

  beforeAll(async () => {
    env = await createSignEnv();
    base = env.server.url;
    key = (
      await env.ctx.apiKeys.create({ name: 'billing', scopes: ['pdf:sign', 'pdf:verify'], actor: 'test' })
    ).token;
    statement = await readFile(join(env.fixtures, 'ghostscript.pdf'));
  }, 120_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  const post = (path: string, body: Buffer | string, type: string, token = key) =>
    fetch(`${base}${path}`, {
      method: 'POST',
      headers: { 'content-type': type, authorization: `Bearer ${token}` },
      body,
    });

  it('signs a statement with the seal at B-T; pdfsig and our verifier agree it is valid', async () => {
    const res = await post(
      '/v1/pdf/sign?level=B-T&reason=Monthly%20statement&visible=1,36,36,200,60',
      statement,
      'application/pdf',
    );
    expect(res.status, await res.clone().text()).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    const signed = Buffer.from(await res.arrayBuffer());
    expect(signed.subarray(0, statement.length).equals(statement)).toBe(true); // incremental: earlier bytes untouched
    const file = join(env.dir, 'api-signed.pdf');
    await writeFile(file, signed);
    expect((await qpdfCheck(file)).ok).toBe(true);
    const sigs = await pdfsig(env, file);
    expect(sigs.map((s) => s.valid)).toEqual([true]);

    const verify = await post('/v1/pdf/verify', signed, 'application/pdf');
    expect(verify.status).toBe(200);
    const report = (await verify.json()) as {
      ok: boolean;
      signatures: { verdict: string; ltv: { level: string } }[];
    };
    expect(report.ok).toBe(true);
    expect(report.signatures[0]?.ltv.level).toBe('B-T');

    // One flipped byte inside the signed range: both say it is broken.
    const tampered = Buffer.from(signed);
    tampered[200] = (tampered[200] ?? 0) ^ 0x01;
    const bad = (await (await post('/v1/pdf/verify', tampered, 'application/pdf')).json()) as { ok: boolean };
    expect(bad.ok).toBe(false);
  });

  it('signs at B-LTA: DSS and a document timestamp, long-term validation from the DSS', async () => {
    const res = await post('/v1/pdf/sign?level=B-LTA', statement, 'application/pdf');
    expect(res.status, await res.clone().text()).toBe(200);
    const signed = Buffer.from(await res.arrayBuffer());
    const report = (await (await post('/v1/pdf/verify', signed, 'application/pdf')).json()) as {
      ok: boolean;
      signatures: { kind: string; ltv: { level: string; dss: boolean } }[];
    };
    expect(report.ok).toBe(true);
    expect(report.signatures.map((s) => s.kind)).toEqual(
      expect.arrayContaining(['approval', 'document-timestamp']),
    );
    expect(report.signatures.find((s) => s.kind === 'approval')?.ltv).toMatchObject({
      level: 'B-LTA',
      dss: true,
    });
  });

  it('two-phase signing: the user signs the digest with a key the server never sees', async () => {
    const [user] = await env.ctx.ca.issueUser({
      email: 'teller@bank.example',
      name: 'Terry Teller',
      usage: 'signing',
      keyAlgorithm: 'ec-p256',
      actor: 'test',
    });
    if (!user?.generatedKey) throw new Error('no key');
    const userKey = createPrivateKey({ key: user.generatedKey.exportPkcs8(), format: 'der', type: 'pkcs8' });
    const issuing = (await env.ctx.ca.authority('issuing')).certificate.der;
    const prep = await post(
      '/v1/pdf/prepare',
      JSON.stringify({
        pdf: statement.toString('base64'),
        certificate: toPem(user.certificate.der, 'CERTIFICATE'),
        chain: [toPem(issuing, 'CERTIFICATE')],
        reason: 'Approved',
      }),
      'application/json',
    );
    expect(prep.status, await prep.clone().text()).toBe(200);
    const prepared = (await prep.json()) as { id: string; signedAttributes: string; hash: string };
    // What a token or remote signing service does: sign the DER signed attributes.
    const signature = cryptoSign('sha256', Buffer.from(prepared.signedAttributes, 'base64'), {
      key: userKey,
      dsaEncoding: 'der',
    });
    const fin = await post(
      '/v1/pdf/finish',
      JSON.stringify({ id: prepared.id, signature: signature.toString('base64') }),
      'application/json',
    );
    expect(fin.status, await fin.clone().text()).toBe(200);
    const signed = Buffer.from(await fin.arrayBuffer());
    const file = join(env.dir, 'two-phase.pdf');
    await writeFile(file, signed);
    expect((await pdfsig(env, file)).map((s) => [s.valid, s.trusted])).toEqual([[true, true]]);
    // The pending state is gone after finishing.
    const again = await post(
      '/v1/pdf/finish',
      JSON.stringify({ id: prepared.id, signature: signature.toString('base64') }),
      'application/json',
    );
    expect(again.status).toBe(404);
  });

  it('a batch signs each document and reports failures one by one', async () => {
    const res = await post(
      '/v1/pdf/batch',
      JSON.stringify({
        documents: [
          { id: 'a', pdf: statement.toString('base64'), level: 'B-B' },
          { id: 'b', pdf: Buffer.from('not a pdf').toString('base64') },
        ],
      }),
      'application/json',
    );
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as {
      results: { id: string; ok: boolean; pdf?: string; error?: string }[];
    };
    expect(results.map((r) => [r.id, r.ok])).toEqual([
      ['a', true],
      ['b', false],
    ]);
    expect(results[1]?.error).toBeTruthy();
    const file = join(env.dir, 'batch-a.pdf');
    await writeFile(file, Buffer.from(results[0]?.pdf ?? '', 'base64'));
    expect((await pdfsig(env, file)).map((s) => s.valid)).toEqual([true]);
  });

  it('encrypts for a customer by mailbox and protects (encrypt, then seal): only the customer opens it, the seal stays valid', async () => {
    const [customer] = await env.ctx.ca.issueUser({
      email: 'customer@example.com',
      usage: 'encryption',
      keyAlgorithm: 'rsa-2048',
      actor: 'test',
    });
    if (!customer?.generatedKey) throw new Error('no key');
    const keys = [{ privateKey: customer.generatedKey.keyObject, certificate: customer.certificate.der }];

    const enc = await post(
      '/v1/pdf/encrypt',
      JSON.stringify({ pdf: statement.toString('base64'), to: ['customer@example.com'] }),
      'application/json',
    );
    expect(enc.status, await enc.clone().text()).toBe(200);
    const encrypted = Buffer.from(await enc.arrayBuffer());
    await expect(decryptPdf(encrypted, {})).rejects.toThrow();
    const { pdf: plain } = await decryptPdf(encrypted, { keys });
    const plainFile = join(env.dir, 'decrypted.pdf');
    await writeFile(plainFile, plain);
    expect((await qpdfCheck(plainFile)).ok).toBe(true);

    const unknown = await post(
      '/v1/pdf/encrypt',
      JSON.stringify({ pdf: statement.toString('base64'), to: ['nobody@example.com'] }),
      'application/json',
    );
    expect(unknown.status).toBe(422);

    const prot = await post(
      '/v1/pdf/protect',
      JSON.stringify({ pdf: statement.toString('base64'), to: ['customer@example.com'], level: 'B-T' }),
      'application/json',
    );
    expect(prot.status, await prot.clone().text()).toBe(200);
    const protectedFile = join(env.dir, 'protected.pdf');
    await writeFile(protectedFile, Buffer.from(await prot.arrayBuffer()));
    // Our validator opens the encrypted file with the customer's key and checks the seal over the encrypted bytes.
    const report = await validatePdf(protectedFile, {
      trustAnchors: [env.root],
      securityHandlers: [pubSecSecurityHandler(keys)],
    });
    expect(report.file.encrypted).toBe(true);
    expect(report.ok, formatReport(report)).toBe(true);
    expect(report.signatures[0]?.ltv.level).toBe('B-T');
  });

  it('refuses what it cannot sign, with reasons and the right status codes', async () => {
    expect((await post('/v1/pdf/sign', 'hello', 'application/pdf')).status).toBe(400);
    expect(
      (
        await post(
          '/v1/pdf/sign',
          statement,
          'application/pdf',
          'sp_0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
        )
      ).status,
    ).toBe(401);
    const reader = (await env.ctx.apiKeys.create({ name: 'reader', scopes: ['pdf:verify'], actor: 'test' }))
      .token;
    expect((await post('/v1/pdf/sign', statement, 'application/pdf', reader)).status).toBe(403);
    expect((await post('/v1/pdf/sign?level=B-Z', statement, 'application/pdf')).status).toBe(400);
    // A damaged PDF (right header, broken body) is the caller's problem: 400 with the reason, never 500.
    const damaged = Buffer.concat([statement.subarray(0, 400), Buffer.from('\n%%EOF garbage\n')]);
    for (const path of ['/v1/pdf/sign', '/v1/pdf/verify']) {
      const res = await post(path, damaged, 'application/pdf');
      expect(res.status, path).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('bad_pdf');
    }
    await env.ctx.ca.issueUser({ email: 'reader@example.com', usage: 'encryption', actor: 'test' });
    const badEncrypt = await post(
      '/v1/pdf/encrypt',
      JSON.stringify({ pdf: damaged.toString('base64'), to: ['reader@example.com'] }),
      'application/json',
    );
    expect(badEncrypt.status).toBe(400);
    const audit = await env.ctx.audit.list({ action: 'pdf.sign' });
    expect(audit.length).toBeGreaterThanOrEqual(3);
  });
});
