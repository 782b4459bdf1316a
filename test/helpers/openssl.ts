import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromPem, toPem } from '../../src/pkix/pem.js';
import { run, type RunResult } from './run.js';

/** Split a chain.pem as Sealpost writes it (issuing CA first, root last) into two files in `dir`. */
export async function splitChain(chainFile: string, dir: string): Promise<{ issuing: string; root: string }> {
  const [issuing, root] = fromPem(await readFile(chainFile, 'utf8'));
  if (!issuing || !root) throw new Error(`${chainFile} does not hold two certificates`);
  const files = { issuing: join(dir, 'chain-issuing.pem'), root: join(dir, 'chain-root.pem') };
  await writeFile(files.issuing, toPem(issuing.der, 'CERTIFICATE'));
  await writeFile(files.root, toPem(root.der, 'CERTIFICATE'));
  return files;
}

/** `openssl verify` with the root as the only trust anchor and the issuing CA as untrusted intermediate. */
export function opensslVerify(p: {
  cert: string;
  root: string;
  issuing: string;
  purpose?: string;
  crl?: string;
}): Promise<RunResult> {
  return run('openssl', [
    'verify',
    ...(p.purpose ? ['-purpose', p.purpose] : []),
    ...(p.crl ? ['-crl_check', '-CRLfile', p.crl] : []),
    '-CAfile',
    p.root,
    '-untrusted',
    p.issuing,
    p.cert,
  ]);
}
