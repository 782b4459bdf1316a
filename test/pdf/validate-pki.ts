/** TEST-ONLY PKI for the PDF validation tests, made by the OpenSSL CLI: root → signer, TSA, and a CRL. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SoftwareKey } from '../../src/crypto/software-key.js';
import { fromPem } from '../../src/pkix/pem.js';
import { run } from '../helpers/run.js';

export interface ValidatePki {
  dir: string;
  rootDer: Buffer;
  rootPath: string;
  signer: { der: Buffer; key: SoftwareKey; certPath: string; keyPath: string };
  other: { der: Buffer; key: SoftwareKey };
  tsa: { der: Buffer; key: SoftwareKey };
  crlDer: Buffer;
  /** A later CRL on which `other` is revoked. */
  revokedCrlDer: Buffer;
  cleanup: () => Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const r = await run('openssl', args, { cwd: dir });
  if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

const der = async (path: string): Promise<Buffer> => fromPem(await readFile(path, 'latin1'))[0]!.der;

export async function makeValidatePki(): Promise<ValidatePki> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-pdf-validate-'));
  await writeFile(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = CA',
      '[CA]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'certificate = $dir/root.pem',
      'private_key = $dir/root.key',
      'default_md = sha256',
      'default_crl_days = 30',
      'crlnumber = $dir/crlnumber',
      '[req]',
      'distinguished_name = dn',
      '[dn]',
      '[ee]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature,nonRepudiation',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
      '[tsa]',
      'basicConstraints = CA:FALSE',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = critical,timeStamping',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid',
    ].join('\n'),
  );
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'crlnumber'), '01\n');
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'root.key',
    '-out',
    'root.pem',
    '-days',
    '30',
    '-subj',
    '/O=Example Bank/CN=Validation Test Root',
    '-config',
    'ca.cnf',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-addext',
    'subjectKeyIdentifier=hash',
  ]);
  const leaf = async (name: string, alg: string[], ext: string, subj: string, serial: number) => {
    await openssl(dir, [
      'req',
      '-new',
      '-newkey',
      ...alg,
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      subj,
      '-config',
      'ca.cnf',
    ]);
    await openssl(dir, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'root.pem',
      '-CAkey',
      'root.key',
      '-set_serial',
      String(serial),
      '-days',
      '20',
      '-sha256',
      '-extfile',
      'ca.cnf',
      '-extensions',
      ext,
      '-out',
      `${name}.pem`,
    ]);
    await openssl(dir, [
      'pkcs8',
      '-topk8',
      '-nocrypt',
      '-in',
      `${name}.key`,
      '-outform',
      'DER',
      '-out',
      `${name}.p8`,
    ]);
    return {
      der: await der(join(dir, `${name}.pem`)),
      key: SoftwareKey.fromPkcs8(await readFile(join(dir, `${name}.p8`))),
    };
  };
  const signer = await leaf(
    'signer',
    ['rsa:2048'],
    'ee',
    '/O=Example Bank/CN=Statement Seal/emailAddress=seal@bank.example',
    101,
  );
  const other = await leaf(
    'other',
    ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    'ee',
    '/O=Example Bank/CN=Second Signer',
    102,
  );
  const tsa = await leaf(
    'tsa',
    ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    'tsa',
    '/O=Example Bank/CN=Test TSA',
    103,
  );
  await openssl(dir, ['ca', '-gencrl', '-config', 'ca.cnf', '-out', 'root.crl']);
  await openssl(dir, ['crl', '-in', 'root.crl', '-outform', 'DER', '-out', 'root.crl.der']);
  await openssl(dir, ['ca', '-config', 'ca.cnf', '-revoke', 'other.pem', '-crl_reason', 'keyCompromise']);
  await openssl(dir, ['ca', '-gencrl', '-config', 'ca.cnf', '-out', 'revoked.crl']);
  await openssl(dir, ['crl', '-in', 'revoked.crl', '-outform', 'DER', '-out', 'revoked.crl.der']);
  return {
    dir,
    rootDer: await der(join(dir, 'root.pem')),
    rootPath: join(dir, 'root.pem'),
    signer: { ...signer, certPath: join(dir, 'signer.pem'), keyPath: join(dir, 'signer.key') },
    other,
    tsa,
    crlDer: await readFile(join(dir, 'root.crl.der')),
    revokedCrlDer: await readFile(join(dir, 'revoked.crl.der')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
