import { readFile } from 'node:fs/promises';
import { signPdf, signerFromPkcs12 } from '../src/pdf/sign/index.js';
import { strokePng } from '../test/pdf/sign-env.js';
const signer = signerFromPkcs12(await readFile('/tmp/s.p12'), 'bench');
await signPdf({ input: 'test/pdf/fixtures/ghostscript.pdf', output: '/tmp/vis.pdf', signer, field: 'Signature1', visible: { page: 1, x: 72, y: 500, width: 200, height: 40, image: strokePng(80, 30) }, details: { reason: 'Statement', location: 'Zürich' } });
await signPdf({ input: '/tmp/vis.pdf', output: '/tmp/vis2.pdf', signer, visible: { page: 1, x: 300, y: 600, width: 220, height: 60 }, details: { reason: 'Approved' } });
