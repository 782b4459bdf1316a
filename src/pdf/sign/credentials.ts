/** Loading a signer from a PKCS#12 file: the key as a software KeyHandle, the certificate, the chain. */
import { SoftwareKey } from '../../crypto/software-key.js';
import { parseCertificate } from '../../pkix/certificate.js';
import { parsePkcs12 } from '../../pkix/pkcs12.js';
import { PdfSignError } from './errors.js';
import type { PdfSigner } from './sign-pdf.js';

export interface LoadedSigner extends PdfSigner {
  /** Self-signed certificates found in the file: candidate trust anchors for B-LT. */
  roots: Buffer[];
}

export function signerFromPkcs12(der: Buffer, password: string): LoadedSigner {
  let contents;
  try {
    contents = parsePkcs12(der, password);
  } catch (e) {
    throw new PdfSignError(`the PKCS#12 file cannot be opened: ${(e as Error).message}`);
  }
  const isRoot = (c: Buffer): boolean => {
    const p = parseCertificate(c);
    return p.subjectDer.equals(p.issuerDer);
  };
  const others = contents.chain.filter((c) => !c.equals(contents.certificate));
  return {
    key: SoftwareKey.fromPkcs8(contents.privateKey),
    certificate: contents.certificate,
    // Embed the chain minus the root, which the relying party must trust on its own (DESIGN.md).
    chain: others.filter((c) => !isRoot(c)),
    roots: others.filter(isRoot),
  };
}
