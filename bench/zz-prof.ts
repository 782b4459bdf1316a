import { readFile } from 'node:fs/promises';
import { signPdf, signerFromPkcs12 } from '../src/pdf/sign/index.js';
const signer = signerFromPkcs12(await readFile('/tmp/s.p12'), 'bench');
for (let i = 0; i < 50; i++) await signPdf({ input: '/tmp/bb.pdf', output: '/tmp/o.pdf', signer });
const t = performance.now();
for (let i = 0; i < 1000; i++) await signPdf({ input: '/tmp/bb.pdf', output: '/tmp/o.pdf', signer });
console.log((performance.now() - t) / 300);
