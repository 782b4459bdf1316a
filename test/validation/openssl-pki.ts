/**
 * A test PKI made by the OpenSSL CLI (an independent producer): root → intermediate (an `openssl ca` with
 * index.txt) → leaves for S/MIME, TSA, document signing and a delegated OCSP responder, plus an expired leaf,
 * a revoked leaf on an `openssl ca -gencrl` CRL, a wrong-EKU leaf and a leaf with an unknown critical extension.
 * Leaves point (AIA OCSP and caIssuers, CRLDP) at a real `openssl ocsp` responder and a node:http CRL server on 127.0.0.1.
 */
import { freePort as freePortOn } from '../../src/app/free-port.js';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromPem } from '../../src/pkix/pem.js';

const execFileAsync = promisify(execFile);

export const LEAVES = [
  'alice',
  'bob',
  'carol',
  'web',
  'tsa',
  'doc',
  'responder',
  'crit',
  'dead',
  'eve',
] as const;
export type Leaf = (typeof LEAVES)[number];

export interface OpensslPki {
  dir: string;
  file: (name: string) => string;
  der: (name: 'root' | 'int' | 'other-root' | Leaf) => Buffer;
  crlDer: Buffer;
  ocspUrl: string;
  crlUrl: string;
  /** How many times the CRL server was asked. */
  crlRequests: () => number;
  startOcspResponder: () => Promise<void>;
  close: () => Promise<void>;
}

/** A port that was free a moment ago (openssl ocsp cannot listen on port 0 and report it). */
export const freePort = (): Promise<number> => freePortOn('127.0.0.1');

/**
 * Wait until the responder says it accepts connections. Probing the port instead would hang it: OpenSSL's
 * responder serves one connection at a time and waits for a request on a probe that sends none.
 */
function waitForReady(child: ChildProcess, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`openssl ocsp did not start: ${seen}`)), ms);
    const onData = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes('ACCEPT')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => reject(new Error(`openssl ocsp exited (${code}): ${seen}`)));
  });
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed: ${(e as { stderr?: string }).stderr ?? String(e)}`, {
      cause: e,
    });
  }
}

function config(dir: string, ocspPort: number, crlPort: number, deadPort: number): string {
  const links = (port: number, crl: number) =>
    `authorityInfoAccess = OCSP;URI:http://127.0.0.1:${port}/,caIssuers;URI:http://127.0.0.1:${crl}/int.crt\ncrlDistributionPoints = URI:http://127.0.0.1:${crl}/int.crl`;
  const leaf = (extra: string) =>
    `basicConstraints = CA:FALSE\nsubjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n${extra}`;
  return `
[ ca ]
default_ca = int_ca
[ int_ca ]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/int.pem
private_key = $dir/int.key
default_md = sha256
default_days = 365
default_crl_days = 7
policy = policy_any
unique_subject = no
copy_extensions = none
[ policy_any ]
commonName = supplied
emailAddress = optional
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_int ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ alice ]
${leaf('keyUsage = critical,digitalSignature,nonRepudiation\nextendedKeyUsage = emailProtection\nsubjectAltName = email:alice@bank.example')}
${links(ocspPort, crlPort)}
[ bob ]
${leaf('keyUsage = critical,digitalSignature\nextendedKeyUsage = emailProtection\nsubjectAltName = email:bob@bank.example')}
${links(ocspPort, crlPort)}
[ carol ]
${leaf('keyUsage = critical,digitalSignature\nextendedKeyUsage = emailProtection\nsubjectAltName = email:carol@bank.example')}
[ eve ]
${leaf('keyUsage = critical,keyAgreement\nextendedKeyUsage = emailProtection\nsubjectAltName = email:Eve@Bank.Example')}
${links(ocspPort, crlPort)}
[ web ]
${leaf('keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:www.bank.example')}
[ tsa ]
${leaf('keyUsage = critical,digitalSignature\nextendedKeyUsage = critical,timeStamping')}
[ doc ]
${leaf('keyUsage = critical,nonRepudiation\nextendedKeyUsage = 1.3.6.1.5.5.7.3.36')}
[ responder ]
${leaf('keyUsage = critical,digitalSignature\nextendedKeyUsage = OCSPSigning\nnoCheck = ignored')}
[ crit ]
${leaf('keyUsage = critical,digitalSignature\nextendedKeyUsage = emailProtection\n1.3.6.1.4.1.55555.9 = critical,ASN1:NULL')}
[ dead ]
${leaf('keyUsage = critical,digitalSignature\nextendedKeyUsage = emailProtection\nsubjectAltName = email:dead@bank.example')}
${links(deadPort, deadPort)}
`;
}

export async function makeOpensslPki(): Promise<OpensslPki> {
  const dir = await mkdtemp(join(tmpdir(), 'sealpost-validation-'));
  const file = (name: string) => join(dir, name);
  let crlCount = 0;
  let crlBody = Buffer.alloc(0);
  let intDer: Buffer = Buffer.alloc(0);
  const crlServer: Server = createServer((req, res) => {
    if (req.url === '/int.crt') {
      res.writeHead(200, { 'content-type': 'application/pkix-cert' }).end(intDer);
      return;
    }
    crlCount++;
    if (req.url !== '/int.crl') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/pkix-crl', 'content-length': crlBody.length });
    res.end(crlBody);
  });
  await new Promise<void>((resolve) => crlServer.listen(0, '127.0.0.1', resolve));
  const crlPort = (crlServer.address() as AddressInfo).port;
  const ocspPort = await freePort();
  const deadPort = await freePort();

  await mkdir(file('newcerts'));
  await writeFile(file('index.txt'), '');
  await writeFile(file('serial'), '1000\n');
  await writeFile(file('crlnumber'), '01\n');
  await writeFile(file('openssl.cnf'), config(dir, ocspPort, crlPort, deadPort));
  const cnf = file('openssl.cnf');
  const ecKey = (name: string) =>
    openssl(
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(`${name}.key`)],
      dir,
    );

  const selfSigned = async (name: string, cn: string) => {
    await ecKey(name);
    await openssl(
      [
        'req',
        '-config',
        cnf,
        '-new',
        '-x509',
        '-key',
        file(`${name}.key`),
        '-subj',
        `/CN=${cn}`,
        '-days',
        '3650',
        '-extensions',
        'v3_root',
        '-sha256',
        '-out',
        file(`${name}.pem`),
      ],
      dir,
    );
  };
  await selfSigned('root', 'Test Root CA');
  await selfSigned('other-root', 'Other Root CA');
  await ecKey('int');
  await openssl(
    [
      'req',
      '-config',
      cnf,
      '-new',
      '-key',
      file('int.key'),
      '-subj',
      '/CN=Test Issuing CA',
      '-out',
      file('int.csr'),
    ],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      file('int.csr'),
      '-CA',
      file('root.pem'),
      '-CAkey',
      file('root.key'),
      '-set_serial',
      '100',
      '-days',
      '3650',
      '-sha256',
      '-extfile',
      cnf,
      '-extensions',
      'v3_int',
      '-out',
      file('int.pem'),
    ],
    dir,
  );
  for (const name of LEAVES) {
    await ecKey(name);
    await openssl(
      [
        'req',
        '-config',
        cnf,
        '-new',
        '-key',
        file(`${name}.key`),
        '-subj',
        `/CN=${name}`,
        '-out',
        file(`${name}.csr`),
      ],
      dir,
    );
    const dates = name === 'carol' ? ['-startdate', '20200101000000Z', '-enddate', '20210101000000Z'] : [];
    await openssl(
      [
        'ca',
        '-batch',
        '-config',
        cnf,
        '-notext',
        '-extensions',
        name,
        '-in',
        file(`${name}.csr`),
        '-out',
        file(`${name}.pem`),
        ...dates,
      ],
      dir,
    );
  }
  await openssl(['ca', '-config', cnf, '-revoke', file('bob.pem'), '-crl_reason', 'keyCompromise'], dir);
  await openssl(['ca', '-config', cnf, '-gencrl', '-out', file('int.crl')], dir);
  await openssl(['crl', '-in', file('int.crl'), '-outform', 'DER', '-out', file('int.crl.der')], dir);
  crlBody = await readFile(file('int.crl.der'));

  const ders = new Map<string, Buffer>();
  for (const name of ['root', 'int', 'other-root', ...LEAVES]) {
    const block = fromPem(await readFile(file(`${name}.pem`), 'latin1'))[0];
    if (!block) throw new Error(`${name}.pem has no certificate`);
    ders.set(name, block.der);
  }

  intDer = ders.get('int') as Buffer;

  let responder: ChildProcess | undefined;
  return {
    dir,
    file,
    der: (name) => ders.get(name) as Buffer,
    crlDer: crlBody,
    ocspUrl: `http://127.0.0.1:${ocspPort}/`,
    crlUrl: `http://127.0.0.1:${crlPort}/int.crl`,
    crlRequests: () => crlCount,
    async startOcspResponder() {
      if (responder) return;
      responder = spawn(
        'openssl',
        [
          'ocsp',
          '-index',
          file('index.txt'),
          '-port',
          String(ocspPort),
          '-rsigner',
          file('responder.pem'),
          '-rkey',
          file('responder.key'),
          '-CA',
          file('int.pem'),
          '-ndays',
          '1',
          '-ignore_err',
          '-timeout',
          '5',
        ],
        { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      await waitForReady(responder);
    },
    async close() {
      if (responder?.pid) responder.kill('SIGTERM');
      await new Promise((resolve) => crlServer.close(resolve));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Run the openssl CLI as an oracle: exit code and stdout+stderr, never throwing on a non-zero exit. */
export async function opensslOracle(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await execFileAsync('openssl', args);
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === 'number' ? err.code : -1,
      out: `${err.stdout ?? ''}${err.stderr ?? ''}`,
    };
  }
}
