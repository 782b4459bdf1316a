/**
 * Where the public PKI endpoints live. The same paths are served by src/api and written into every
 * certificate (AIA, CRLDP), so they are defined once here.
 */
export interface PkiUrls {
  ocsp: string;
  caIssuers(authorityId: string): string;
  crl(authorityId: string): string;
  tsa: string;
}

export const PKI_PATHS = {
  ocsp: '/ocsp',
  tsa: '/tsa',
  caCertificate: (authorityId: string) => `/ca/${authorityId}.crt`,
  crl: (authorityId: string) => `/crl/${authorityId}.crl`,
} as const;

export function pkiUrls(publicUrl: string): PkiUrls {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    ocsp: base + PKI_PATHS.ocsp,
    tsa: base + PKI_PATHS.tsa,
    caIssuers: (id) => base + PKI_PATHS.caCertificate(id),
    crl: (id) => base + PKI_PATHS.crl(id),
  };
}
