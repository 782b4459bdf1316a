import { writeFile } from 'node:fs/promises';
import { it } from 'vitest';
import { makeSigningPki, inProcessTsa, runIn } from '/work/main/test/pkix/cms/signed-fixtures.js';
import { signData, verifySignedData } from '/work/main/src/pkix/cms/signed-data.js';
it('x', async () => {
  const pki = await makeSigningPki();
  console.log(pki.dir);
  const data = Buffer.from('hello\r\nworld\r\n');
  await writeFile(pki.path('data'), data);
  for (const kind of ['rsa', 'ec', 'ed25519'] as const) {
    const s = pki.signers[kind];
    const sig = await signData(data, { signer: s.key, certificate: s.der, chain: [pki.intermediateDer], timestamp: inProcessTsa(pki.tsa), encryptionKeyPreference: pki.encryption.der });
    await writeFile(pki.path(`sig-${kind}`), sig);
    const r = await runIn(pki.dir, 'openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', `sig-${kind}`, '-content', 'data', '-CAfile', 'root.pem', '-purpose', 'any', '-out', '/dev/null']);
    console.log(kind, r.code, r.stderr);
    const v = await verifySignedData(sig, { content: data });
    console.log(JSON.stringify(v.signers.map(s=>({...s, certificates: s.certificates.length, signerCertificate: !!s.signerCertificate, timestamp: {...s.timestamp, tsaCertificate: undefined}}))));
  }
  const p = await runIn(pki.dir, 'openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', 'sig-rsa']);
  console.log(p.stdout.slice(0, 6000));
}, 60000);
