import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/util/logger.js';

function capture(): { lines: string[]; stream: { write(s: string): void } } {
  const lines: string[] = [];
  return { lines, stream: { write: (s: string) => void lines.push(s) } };
}

describe('createLogger', () => {
  it('writes one JSON object per line with level names and ISO times', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', { destination: stream, name: 'sealpost' });
    log.debug('hidden');
    log.info({ serial: '01' }, 'issued');
    expect(lines).toHaveLength(1);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'info', msg: 'issued', serial: '01', name: 'sealpost' });
    expect(entry.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('censors credentials that reach a log call', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', { destination: stream });
    log.info(
      {
        req: {
          headers: { authorization: 'Bearer sp_abc.def', cookie: 'sid=1', 'x-api-key': 'k', host: 'h' },
        },
        password: 'hunter2',
        pkcs11: { pin: '1234', module: '/lib/softhsm2.so' },
        config: { masterKey: { passphrase: 'correct horse' } },
        key: { privateKey: 'MIIE' },
      },
      'request',
    );
    const text = lines[0]!;
    for (const secret of ['sp_abc', 'sid=1', 'hunter2', '1234', 'correct horse', 'MIIE', '"k"'])
      expect(text).not.toContain(secret);
    const entry = JSON.parse(text) as {
      req: { headers: Record<string, string> };
      pkcs11: Record<string, string>;
    };
    expect(entry.req.headers.host).toBe('h');
    expect(entry.req.headers.authorization).toBe('[REDACTED]');
    expect(entry.pkcs11.module).toBe('/lib/softhsm2.so');
  });

  it('prints readable lines when pretty', () => {
    const { lines, stream } = capture();
    createLogger('info', { destination: stream, pretty: true }).warn({ queue: 3 }, 'slow');
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN {2}slow \{"queue":3\}\n$/);
  });
});
