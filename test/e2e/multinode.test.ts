import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createPgTestDatabase } from '../helpers/databases.js';
import { sealpost, sealpostCommand } from '../helpers/run.js';
import { buildOcspRequest, parseOcspResponse } from '../../src/pkix/ocsp.js';
import { pemOrDer } from '../../src/pkix/pem.js';

interface Node {
  child: ChildProcess;
  url: string;
}

/** Two `sealpost serve` processes on one PostgreSQL database: the deployment DESIGN.md calls "many nodes". */
describe('two nodes on one PostgreSQL database', () => {
  let dir: string;
  let pg: { url: string; drop(): Promise<void> } | undefined;
  const nodes: Node[] = [];
  let admin = '';
  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    SEALPOST_DATABASE_URL: pg?.url ?? '',
    SEALPOST_MASTER_PASSPHRASE: 'multi-node test passphrase',
    SEALPOST_LOG_LEVEL: 'warn',
  });

  async function startNode(name: string): Promise<Node> {
    const { cmd, args } = sealpostCommand();
    const child = spawn(cmd, [...args, 'serve', '--data', join(dir, name), '--port', '0', '--json'], {
      env: env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${name} did not start: ${stderr}`)), 30_000);
      lines.on('line', (line) => {
        if (!line.startsWith('{')) return;
        const parsed = JSON.parse(line) as { url?: string };
        if (parsed.url) {
          clearTimeout(timer);
          resolve(parsed.url);
        }
      });
      child.on('exit', (code) => reject(new Error(`node ${name} exited with ${code}: ${stderr}`)));
    });
    return { child, url };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-multi-'));
    pg = await createPgTestDatabase();
    const init = await sealpost(['init', '--org', 'Multi Node Bank', '--data', join(dir, 'a'), '--json'], {
      env: env(),
    });
    expect(init.code, init.stderr).toBe(0);
    admin = (await readFile(JSON.parse(init.stdout).adminKeyFile, 'utf8')).trim();
    nodes.push(await startNode('a'), await startNode('b'));
  }, 120_000);

  afterAll(async () => {
    for (const n of nodes) {
      n.child.kill('SIGTERM');
      await new Promise((r) => n.child.once('exit', r));
    }
    await pg?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const issue = async (node: Node, email: string) => {
    const res = await fetch(`${node.url}/v1/certificates`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({
        email,
        usage: 'signing',
        pkcs12Password: 'multi-node-pw',
        keyAlgorithm: 'ec-p256',
      }),
    });
    expect(res.status).toBe(201);
    return (
      ((await res.json()) as { certificates: { serial: string; pem: string }[] }).certificates[0] ?? {
        serial: '',
        pem: '',
      }
    );
  };

  it('both nodes issue, serials never collide', async () => {
    const issued = await Promise.all(
      Array.from({ length: 10 }, (_, i) => issue(nodes[i % 2] as Node, `user${i}@bank.example`)),
    );
    expect(new Set(issued.map((c) => c.serial)).size).toBe(10);
  });

  it('exactly one node is the CRL leader', async () => {
    let leaders = 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      const states = await Promise.all(
        nodes.map(
          async (n) => ((await (await fetch(`${n.url}/healthz`)).json()) as { crlLeader: boolean }).crlLeader,
        ),
      );
      leaders = states.filter(Boolean).length;
      if (leaders === 1) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(leaders).toBe(1);
  });

  it("a revocation on one node shows in the other node's OCSP answers", async () => {
    const [a, b] = nodes as [Node, Node];
    const cert = await issue(a, 'moving@bank.example');
    const issuing = pemOrDer(await (await fetch(`${b.url}/ca/issuing.pem`)).text(), 'CERTIFICATE');
    const ask = async () => {
      const req = buildOcspRequest({ issuerCertificate: issuing, serialHex: cert.serial });
      const res = await fetch(`${b.url}/ocsp`, {
        method: 'POST',
        headers: { 'content-type': 'application/ocsp-request' },
        body: req,
      });
      return parseOcspResponse(Buffer.from(await res.arrayBuffer())).answers[0]?.status.status;
    };
    expect(await ask()).toBe('good'); // now cached on node b
    const revoked = await fetch(`${a.url}/v1/certificates/${cert.serial}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({ reason: 'superseded' }),
    });
    expect(revoked.status).toBe(200);
    let status = await ask();
    for (let i = 0; i < 40 && status !== 'revoked'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = await ask();
    }
    expect(status).toBe('revoked');
  });
});
