import { readFile } from 'node:fs/promises';
import { fromPem } from '../pkix/pem.js';
import type { RevocationPolicy } from '../validation/index.js';
import { CliError } from './common.js';

/** Commander collector for repeatable options (`--to a.pem --to b.pem`). */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Every certificate in the files: PEM bundles with one or more CERTIFICATE blocks, or one DER each. */
export async function loadCertificates(files: string[]): Promise<Buffer[]> {
  const all: Buffer[] = [];
  for (const file of files) {
    const bytes = await readFile(file);
    const text = bytes.toString('latin1');
    const ders = text.includes('-----BEGIN ')
      ? fromPem(text)
          .filter((b) => b.label === 'CERTIFICATE')
          .map((b) => b.der)
      : [bytes];
    if (ders.length === 0) throw new CliError(`${file}: no CERTIFICATE block found`);
    all.push(...ders);
  }
  return all;
}

export const REVOCATION_MODES = ['require', 'if-available', 'off'] as const;

/** `--revocation require|if-available|off`: require fails when status cannot be had; the others soft-fail. */
export function revocationOption(
  value: string | undefined,
  opts: { fetch?: boolean } = {},
): RevocationPolicy | undefined {
  if (value === undefined && opts.fetch === undefined) return undefined;
  if (value !== undefined && !(REVOCATION_MODES as readonly string[]).includes(value)) {
    throw new CliError(`--revocation must be one of ${REVOCATION_MODES.join(', ')}`);
  }
  const mode = (value ?? 'if-available') as RevocationPolicy['mode'];
  return {
    mode,
    onUnreachable: mode === 'require' ? 'fail' : 'soft-fail',
    ...(opts.fetch !== undefined ? { fetch: opts.fetch } : {}),
  };
}
