import { it } from 'vitest';
import { makeOpensslPki } from '/work/main/test/validation/openssl-pki.js';
import { run } from '/work/main/test/helpers/run.js';
import { fetchOcspResponse } from '/work/main/src/net/ocsp-client.js';
it('dbg', async () => {
  const pki = await makeOpensslPki();
  await pki.startOcspResponder();
  const r = await run('openssl', ['ocsp', '-url', pki.ocspUrl, '-issuer', pki.file('int.pem'), '-cert', pki.file('alice.pem'), '-CAfile', pki.file('root.pem'), '-untrusted', pki.file('int.pem'), '-timeout', '3']);
  console.log(r.stdout, r.stderr);
  const t = Date.now();
  try { const x = await fetchOcspResponse({ url: pki.ocspUrl, issuerCertificate: pki.der('int'), serialHex: '1000', timeoutMs: 3000 }); console.log(x.der.length); } catch (e) { console.log('ERR', e, Date.now() - t); }
  await pki.close();
}, 60000);
