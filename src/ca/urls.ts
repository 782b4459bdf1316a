/**
 * Where the public PKI endpoints live. The same paths are served by src/api and written into every
 * certificate (AIA, CRLDP), so they are defined once here.
 */
export const PKI_PATHS = {
  ocsp: '/ocsp',
  tsa: '/tsa',
  caCertificate: (authorityId: string) => `/ca/${authorityId}.crt`,
  crl: (authorityId: string) => `/crl/${authorityId}.crl`,
} as const;

export class PkiUrls {
  private base: string;

  constructor(publicUrl: string) {
    this.base = publicUrl.replace(/\/+$/, '');
  }

  /**
   * A server started on port 0 learns its address only after listening; the URLs it writes into
   * certificates must name the real port.
   */
  bindListeningAddress(address: string): void {
    if (/:0$/.test(this.base)) this.base = address.replace(/\/+$/, '');
  }

  get publicUrl(): string {
    return this.base;
  }
  get ocsp(): string {
    return this.base + PKI_PATHS.ocsp;
  }
  get tsa(): string {
    return this.base + PKI_PATHS.tsa;
  }
  caIssuers(authorityId: string): string {
    return this.base + PKI_PATHS.caCertificate(authorityId);
  }
  crl(authorityId: string): string {
    return this.base + PKI_PATHS.crl(authorityId);
  }
}
