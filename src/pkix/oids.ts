/** Object identifiers used by Sealpost, by name. Sources: RFC 5280, 5480, 8017, 8410, 7292, 2985, 6960, 9336, CA/B Forum S/MIME BR. */

// Attribute types (X.520, PKCS#9)
export const OID_AT = {
  commonName: '2.5.4.3',
  surname: '2.5.4.4',
  serialNumber: '2.5.4.5',
  country: '2.5.4.6',
  locality: '2.5.4.7',
  state: '2.5.4.8',
  street: '2.5.4.9',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  title: '2.5.4.12',
  givenName: '2.5.4.42',
  pseudonym: '2.5.4.65',
  organizationIdentifier: '2.5.4.97',
  domainComponent: '0.9.2342.19200300.100.1.25',
  userId: '0.9.2342.19200300.100.1.1',
  emailAddress: '1.2.840.113549.1.9.1',
} as const;

// Certificate and CRL extensions (RFC 5280 §4.2, §5.2, §5.3; RFC 6960 §4.2.2.2.1)
export const OID_EXT = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  issuerAltName: '2.5.29.18',
  basicConstraints: '2.5.29.19',
  cRLNumber: '2.5.29.20',
  cRLReason: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  nameConstraints: '2.5.29.30',
  cRLDistributionPoints: '2.5.29.31',
  certificatePolicies: '2.5.29.32',
  policyConstraints: '2.5.29.36',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  inhibitAnyPolicy: '2.5.29.54',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  subjectInfoAccess: '1.3.6.1.5.5.7.1.11',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5',
} as const;

// Access methods (RFC 5280 §4.2.2.1)
export const OID_AD = {
  ocsp: '1.3.6.1.5.5.7.48.1',
  caIssuers: '1.3.6.1.5.5.7.48.2',
  timeStamping: '1.3.6.1.5.5.7.48.3',
} as const;

// Extended key usages
export const OID_KP = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  /** RFC 9336 id-kp-documentSigning. */
  documentSigning: '1.3.6.1.5.5.7.3.36',
  /** Microsoft "Document Signing" (szOID_KP_DOCUMENT_SIGNING), what Adobe and Windows look for. */
  msDocumentSigning: '1.3.6.1.4.1.311.10.3.12',
  anyExtendedKeyUsage: '2.5.29.37.0',
} as const;

// Certificate policies
export const OID_POLICY = {
  anyPolicy: '2.5.29.32.0',
  /** CA/B Forum S/MIME BR §7.1.6.1: 2.23.140.1.5.{validation}.{generation}. */
  smimeMailboxLegacy: '2.23.140.1.5.1.1',
  smimeMailboxMultipurpose: '2.23.140.1.5.1.2',
  smimeMailboxStrict: '2.23.140.1.5.1.3',
  smimeOrganizationMultipurpose: '2.23.140.1.5.2.2',
  smimeOrganizationStrict: '2.23.140.1.5.2.3',
  smimeSponsorMultipurpose: '2.23.140.1.5.3.2',
  smimeSponsorStrict: '2.23.140.1.5.3.3',
  smimeIndividualMultipurpose: '2.23.140.1.5.4.2',
  smimeIndividualStrict: '2.23.140.1.5.4.3',
} as const;

// Public key and signature algorithms (RFC 8017, 5480, 5758, 8410, 4055)
export const OID_ALG = {
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  sha1WithRSAEncryption: '1.2.840.113549.1.1.5',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  ecPublicKey: '1.2.840.10045.2.1',
  secp256r1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  ed25519: '1.3.101.112',
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  hmacWithSHA1: '1.2.840.113549.2.7',
  hmacWithSHA256: '1.2.840.113549.2.9',
  hmacWithSHA384: '1.2.840.113549.2.10',
  hmacWithSHA512: '1.2.840.113549.2.11',
  aes128Cbc: '2.16.840.1.101.3.4.1.2',
  aes192Cbc: '2.16.840.1.101.3.4.1.22',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  desEde3Cbc: '1.2.840.113549.3.7',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbes2: '1.2.840.113549.1.5.13',
} as const;

// PKCS#7 / CMS content types (RFC 5652)
export const OID_CT = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  envelopedData: '1.2.840.113549.1.7.3',
  encryptedData: '1.2.840.113549.1.7.6',
} as const;

// PKCS#9 attributes (RFC 2985)
export const OID_PKCS9 = {
  emailAddress: '1.2.840.113549.1.9.1',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  challengePassword: '1.2.840.113549.1.9.7',
  extensionRequest: '1.2.840.113549.1.9.14',
  smimeCapabilities: '1.2.840.113549.1.9.15',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  x509Certificate: '1.2.840.113549.1.9.22.1',
} as const;

// PKCS#12 (RFC 7292)
export const OID_PKCS12 = {
  pbeWithSHAAnd128BitRC4: '1.2.840.113549.1.12.1.1',
  pbeWithSHAAnd3KeyTripleDesCbc: '1.2.840.113549.1.12.1.3',
  pbeWithSHAAnd2KeyTripleDesCbc: '1.2.840.113549.1.12.1.4',
  pbeWithSHAAnd128BitRC2Cbc: '1.2.840.113549.1.12.1.5',
  pbeWithSHAAnd40BitRC2Cbc: '1.2.840.113549.1.12.1.6',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  crlBag: '1.2.840.113549.1.12.10.1.4',
  secretBag: '1.2.840.113549.1.12.10.1.5',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
} as const;
