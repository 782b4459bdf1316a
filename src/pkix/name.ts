/** Distinguished names: building (RFC 5280 §4.1.2.4) and RFC 4514 string form. */
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName } from '@peculiar/asn1-x509';
import { ia5String, oid, printableString, sequence, serialize, setOf, utf8String } from './der.js';
import { OID_AT } from './oids.js';

export interface NameSpec {
  commonName?: string;
  organization?: string;
  organizationalUnit?: string;
  country?: string;
  email?: string;
  serialNumber?: string;
  givenName?: string;
  surname?: string;
  organizationIdentifier?: string;
  locality?: string;
  state?: string;
}

type Encoding = 'printable' | 'ia5' | 'utf8';

/** The order RDNs are written in (most general first), the OID, and the string type X.520/PKCS#9 prescribe. */
const FIELDS: { key: keyof NameSpec; oid: string; encoding: Encoding; maxLength: number }[] = [
  { key: 'country', oid: OID_AT.country, encoding: 'printable', maxLength: 2 },
  { key: 'state', oid: OID_AT.state, encoding: 'utf8', maxLength: 128 },
  { key: 'locality', oid: OID_AT.locality, encoding: 'utf8', maxLength: 128 },
  { key: 'organization', oid: OID_AT.organization, encoding: 'utf8', maxLength: 64 },
  { key: 'organizationalUnit', oid: OID_AT.organizationalUnit, encoding: 'utf8', maxLength: 64 },
  { key: 'organizationIdentifier', oid: OID_AT.organizationIdentifier, encoding: 'utf8', maxLength: 64 },
  { key: 'surname', oid: OID_AT.surname, encoding: 'utf8', maxLength: 64 },
  { key: 'givenName', oid: OID_AT.givenName, encoding: 'utf8', maxLength: 64 },
  { key: 'serialNumber', oid: OID_AT.serialNumber, encoding: 'printable', maxLength: 64 },
  { key: 'commonName', oid: OID_AT.commonName, encoding: 'utf8', maxLength: 64 },
  { key: 'email', oid: OID_AT.emailAddress, encoding: 'ia5', maxLength: 255 },
];

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]+$/;
const IA5 = /^[\x20-\x7e]+$/;

/**
 * Build a Name with one attribute per RDN in the order C, ST, L, O, OU, organizationIdentifier, SN, GN,
 * serialNumber, CN, emailAddress. Country and serialNumber are PrintableString, emailAddress IA5String
 * (PKCS#9), everything else UTF8String (RFC 5280 §4.1.2.4). Throws RangeError for values that do not fit.
 */
export function buildName(spec: NameSpec): Name {
  const rdns: RelativeDistinguishedName[] = [];
  for (const field of FIELDS) {
    const value = spec[field.key];
    if (value === undefined || value === '') continue;
    if (field.key === 'country' && !/^[A-Z]{2}$/.test(value)) {
      throw new RangeError('country must be a two-letter ISO 3166 code in capitals, e.g. "DE"');
    }
    if ([...value].length > field.maxLength) {
      throw new RangeError(`name attribute ${field.key} is longer than ${field.maxLength} characters`);
    }
    if (field.encoding === 'printable' && !PRINTABLE.test(value)) {
      throw new RangeError(
        `name attribute ${field.key} must use PrintableString characters only (A-Z, a-z, 0-9 …)`,
      );
    }
    if (field.encoding === 'ia5' && !IA5.test(value)) {
      throw new RangeError(`name attribute ${field.key} must be printable ASCII`);
    }
    const attrValue =
      field.encoding === 'printable'
        ? new AttributeValue({ printableString: value })
        : field.encoding === 'ia5'
          ? new AttributeValue({ ia5String: value })
          : new AttributeValue({ utf8String: value });
    rdns.push(
      new RelativeDistinguishedName([new AttributeTypeAndValue({ type: field.oid, value: attrValue })]),
    );
  }
  return new Name(rdns);
}

/** Short names RFC 4514 §3 defines, plus the ones OpenSSL prints, so strings match `openssl x509 -subject`. */
const SHORT_NAMES: Record<string, string> = {
  [OID_AT.commonName]: 'CN',
  [OID_AT.country]: 'C',
  [OID_AT.locality]: 'L',
  [OID_AT.state]: 'ST',
  [OID_AT.street]: 'STREET',
  [OID_AT.organization]: 'O',
  [OID_AT.organizationalUnit]: 'OU',
  [OID_AT.domainComponent]: 'DC',
  [OID_AT.userId]: 'UID',
  [OID_AT.surname]: 'SN',
  [OID_AT.givenName]: 'GN',
  [OID_AT.serialNumber]: 'serialNumber',
  [OID_AT.title]: 'title',
  [OID_AT.pseudonym]: 'pseudonym',
  [OID_AT.organizationIdentifier]: 'organizationIdentifier',
  [OID_AT.emailAddress]: 'emailAddress',
};

/** RFC 4514 §2.4 escaping of an attribute value. */
function escapeValue(value: string): string {
  let out = value.replace(/[\\"+,;<>]/g, (c) => `\\${c}`).replace(/\0/g, '\\00');
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

function attributeValueString(atv: AttributeTypeAndValue): string {
  const v = atv.value;
  const text =
    v.utf8String ?? v.printableString ?? v.ia5String ?? v.bmpString ?? v.teletexString ?? v.universalString;
  if (text !== undefined) return escapeValue(text);
  // Unknown value type: RFC 4514 §2.4 hex form of the BER encoding.
  return `#${Buffer.from(v.anyValue ?? new ArrayBuffer(0)).toString('hex')}`;
}

/** RFC 4514 string: last RDN first, RDNs joined with ",", multi-valued RDNs with "+". */
export function nameToString(name: Name): string {
  return [...name]
    .reverse()
    .map((rdn) =>
      [...rdn].map((atv) => `${SHORT_NAMES[atv.type] ?? atv.type}=${attributeValueString(atv)}`).join('+'),
    )
    .join(',');
}

/** The first value of an attribute type in a name (e.g. the CN), or undefined. */
export function nameAttribute(name: Name, type: string): string | undefined {
  for (const rdn of name) for (const atv of rdn) if (atv.type === type) return atv.value.toString();
  return undefined;
}

/**
 * DER of a Name, written directly for the string types we issue (UTF8, Printable, IA5) and through
 * asn1-schema for anything else; the hot path of certificate issuance.
 */
export function nameDer(name: Name): Buffer {
  const rdns: Buffer[] = [];
  for (const rdn of name) {
    const atvs: Buffer[] = [];
    for (const atv of rdn) {
      const v = atv.value;
      const value =
        v.utf8String !== undefined
          ? utf8String(v.utf8String)
          : v.printableString !== undefined
            ? printableString(v.printableString)
            : v.ia5String !== undefined
              ? ia5String(v.ia5String)
              : undefined;
      if (value === undefined) return serialize(name);
      atvs.push(sequence(oid(atv.type), value));
    }
    rdns.push(setOf(...atvs));
  }
  return sequence(...rdns);
}
