import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { isSecretKey, REDACTED, redactSecrets, redactUrlPassword } from '../../src/util/redact.js';

describe('redact', () => {
  it('recognises secret field names in any casing style', () => {
    for (const k of [
      'password',
      'dbPassword',
      'DB_PASSWORD',
      'pin',
      'pkcs11Pin',
      'user-pin',
      'secret',
      'clientSecret',
      'passphrase',
      'masterPassphrase',
      'privateKey',
      'private_key',
      'PRIVATE-KEY',
      'apiKey',
      'authorization',
      'Cookie',
      'accessToken',
    ]) {
      expect(isSecretKey(k), k).toBe(true);
    }
    for (const k of [
      'pinFile',
      'keyFile',
      'passwordHash',
      'secretHash',
      'tokenLabel',
      'spinner',
      'shipping',
      'publicKey',
      'keyId',
      'module',
      'opinion',
    ]) {
      expect(isSecretKey(k), k).toBe(false);
    }
  });

  it('redacts deeply without touching the input', () => {
    const input = {
      user: 'a',
      pin: '1234',
      nested: [{ password: 'pw', keep: 1 }],
      when: new Date(0),
      none: null,
      pkcs11: { pin: undefined },
    };
    const out = redactSecrets(input);
    expect(out).toEqual({
      user: 'a',
      pin: REDACTED,
      nested: [{ password: REDACTED, keep: 1 }],
      when: new Date(0),
      none: null,
      pkcs11: { pin: undefined },
    });
    expect(input.pin).toBe('1234');
    const cyclic: Record<string, unknown> = { secret: 's' };
    cyclic.self = cyclic;
    const c = redactSecrets(cyclic);
    expect(c.secret).toBe(REDACTED);
    expect(c.self).toBe(c);
  });

  it('masks URL passwords only', () => {
    expect(redactUrlPassword('postgres://sp:hunter2@db:5432/sp')).toBe('postgres://sp:***@db:5432/sp');
    expect(redactUrlPassword('postgres://sp@db/sp')).toBe('postgres://sp@db/sp');
    expect(redactUrlPassword('sqlite:/var/lib/x.db')).toBe('sqlite:/var/lib/x.db');
  });

  it('never throws and never lets a secret-named string value through', () => {
    fc.assert(
      fc.property(fc.anything(), fc.string(), (value, secret) => {
        const out = redactSecrets({ value, password: secret === '' ? 'x' : secret });
        expect(out.password).toBe(REDACTED);
      }),
      { numRuns: 300 },
    );
  });
});
