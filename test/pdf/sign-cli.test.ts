import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildPkcs12 } from '../../src/pkix/pkcs12.js';
import type { SoftwareKey } from '../../src/crypto/software-key.js';
import { sealpost } from '../helpers/run.js';
import {
  createSignEnv,
  havePdfBox,
  pdfbox,
  pdfsig,
  qpdfCheck,
  requireOracle,
  strokePng,
  type SignEnv,
} from './sign-env.js';

const oracles = requireOracle('pdfsig') && requireOracle('qpdf') && havePdfBox();

describe.skipIf(!oracles)('sealpost pdf sign | extend | timestamp', () => {
  let env: SignEnv;
  let p12: string;
  let passwordFile: string;
  beforeAll(async () => {
    env = await createSignEnv();
    p12 = join(env.dir, 'seal.p12');
    passwordFile = join(env.dir, 'pw');
    await writeFile(passwordFile, 'cli-test-pass\n');
    await writeFile(
      p12,
      buildPkcs12({
        privateKey: (env.signer.key as SoftwareKey).exportPkcs8(),
        certificate: env.signer.certificate,
        chain: [...(env.signer.chain ?? []), env.root],
        password: 'cli-test-pass',
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await env?.cleanup();
  });

  it('signs B-LTA, visible and certifying, then extends and timestamps; oracles accept every file', async () => {
    await writeFile(join(env.dir, 'sig.png'), strokePng());
    const signed = join(env.dir, 'cli-signed.pdf');
    const r = await sealpost([
      'pdf',
      'sign',
      '--in',
      join(env.fixtures, 'ghostscript.pdf'),
      '--out',
      signed,
      '--key',
      p12,
      '--password-file',
      passwordFile,
      '--level',
      'B-LTA',
      '--tsa',
      env.tsaUrl,
      '--trust',
      env.chainPem,
      '--visible',
      '1,36,36,200,60',
      '--image',
      join(env.dir, 'sig.png'),
      '--certify',
      '2',
      '--reason',
      'Monthly statement',
      '--location',
      'Geneva',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ level: 'B-LTA', field: 'Signature2' });
    const ps = await pdfsig(env, signed);
    expect(ps.map((s) => [s.valid, s.trusted])).toEqual([[true, true]]);
    const box = await pdfbox(env, signed);
    expect(box.signatures.map((s) => [s.type, s.digestOk, s.signatureOk])).toEqual([
      ['signature', true, true],
      ['timestamp', true, true],
    ]);
    expect(box.dss?.vri).toHaveLength(2);

    const ts = join(env.dir, 'cli-ts.pdf');
    const t = await sealpost(['pdf', 'timestamp', '--in', join(env.fixtures, 'classic.pdf'), '--out', ts], {
      env: { SEALPOST_TSA_URL: env.tsaUrl },
    });
    expect(t.code).toBe(0);
    expect((await qpdfCheck(ts)).ok).toBe(true);
    const ext = join(env.dir, 'cli-ext.pdf');
    const e = await sealpost([
      'pdf',
      'extend',
      '--in',
      ts,
      '--out',
      ext,
      '--level',
      'B-LTA',
      '--tsa',
      env.tsaUrl,
      '--trust',
      env.chainPem,
    ]);
    expect(e.code).toBe(0);
    expect((await pdfbox(env, ext)).signatures.map((s) => s.digestOk && s.signatureOk)).toEqual([true, true]);
  });

  it('bad arguments get one clear line', async () => {
    const r = await sealpost([
      'pdf',
      'sign',
      '--in',
      join(env.fixtures, 'classic.pdf'),
      '--out',
      join(env.dir, 'x.pdf'),
      '--key',
      p12,
      '--password-file',
      passwordFile,
      '--visible',
      '1,36',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^sealpost: --visible must be page,x,y,width,height/);
    const t = await sealpost(
      [
        'pdf',
        'sign',
        '--in',
        join(env.fixtures, 'classic.pdf'),
        '--out',
        join(env.dir, 'y.pdf'),
        '--key',
        p12,
        '--password-file',
        passwordFile,
        '--level',
        'B-T',
      ],
      {
        env: { SEALPOST_TSA_URL: '', SEALPOST_DATA: join(env.dir, 'nowhere') },
      },
    );
    expect(t.code).toBe(1);
    expect(t.stderr).toMatch(/B-T needs a timestamp authority/);
  });
});
