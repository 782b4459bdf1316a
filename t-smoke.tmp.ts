import { readFileSync, writeFileSync } from 'node:fs';
import { createPrivateKey } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { pemOrDer } from './src/pkix/pem.js';
import { encryptEnvelopedData, decryptEnvelopedData } from './src/pkix/cms/enveloped-data.js';
const d = '/tmp/xt/';
const rsa = pemOrDer(readFileSync(d + 'r.pem', 'latin1'), 'CERTIFICATE');
const ec = pemOrDer(readFileSync(d + 'e.pem', 'latin1'), 'CERTIFICATE');
const keys = [{ certificate: rsa, privateKey: createPrivateKey(readFileSync(d + 'r.key')) }, { certificate: ec, privateKey: createPrivateKey(readFileSync(d + 'e.key')) }];
for (const [name, p, cert, key] of [
  ['rsa cbc', { recipients: [{ certificate: rsa }] }, 'r.pem', 'r.key'],
  ['rsa oaep gcm', { recipients: [{ certificate: rsa, keyTransport: 'rsa-oaep-sha256' }], cipher: 'aes-256-gcm' }, 'r.pem', 'r.key'],
  ['ec', { recipients: [{ certificate: ec }] , cipher: 'aes-128-cbc'}, 'e.pem', 'e.key'],
  ['ec ukm', { recipients: [{ certificate: ec }], ukm: true }, 'e.pem', 'e.key'],
] as const) {
  const der = await encryptEnvelopedData(Buffer.from('hello ' + name), p as never);
  writeFileSync(d + 'o.der', der);
  try { console.log(name, JSON.stringify(execFileSync('openssl', ['cms', '-decrypt', '-inform', 'DER', '-in', d + 'o.der', '-recip', d + cert, '-inkey', d + key]).toString())); } catch (e) { console.log(name, 'FAIL', (e as Error).message); }
  const back = await decryptEnvelopedData(der, keys);
  console.log(' self', back.content.toString(), back.recipient.keyTransport, back.cipher);
}
for (const args of [['-aes256'], ['-aes-256-gcm'], ['-des3'], ['-aes256', '-keyopt', 'rsa_padding_mode:oaep', '-keyopt', 'rsa_oaep_md:sha256'], ['-aes256', '-keyid'], ['-aes256','-stream'], ['-aes-128-gcm', '-stream']]) {
  for (const c of ['r.pem', 'e.pem']) {
    const extra = c === 'e.pem' && args.includes('-keyopt') ? [] : c === 'e.pem' ? ['-keyopt', 'ecdh_kdf_md:sha256'] : [];
    try {
      const out = execFileSync('openssl', ['cms', '-encrypt', '-binary', '-outform', 'DER', ...args, '-recip', d + c, ...extra], { input: 'from openssl' });
      const back = await decryptEnvelopedData(out, keys);
      console.log(args.join(' '), c, back.content.toString(), back.recipient.keyTransport, back.cipher);
    } catch (e) { console.log(args.join(' '), c, 'ERR', (e as Error).message); }
  }
}
