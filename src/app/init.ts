import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sealpost } from './context.js';
import type { SoftwareKey } from '../crypto/software-key.js';

export interface InitResult {
  created: boolean;
  orgName: string;
  /** Where the first admin API key was written (only on the run that created the installation). */
  adminKeyFile?: string;
}

export const ADMIN_KEY_FILE = 'admin-api-key';
export const DEFAULT_ORG = 'Sealpost Demo Bank';

/**
 * Create the CA hierarchy and service certificates, and a first admin API key written to a 0600
 * file in the data directory (never printed: terminals and CI logs are not secret stores).
 * Running it again changes nothing.
 */
export interface ImportedCa {
  issuingCertificate: Buffer;
  issuingKey: SoftwareKey;
  rootCertificate: Buffer;
}

export async function initialise(
  ctx: Sealpost,
  p: { orgName?: string; country?: string; actor: string; importCa?: ImportedCa },
): Promise<InitResult> {
  const cfg = ctx.config;
  const orgName = p.orgName ?? cfg.ca.orgName ?? (await ctx.settings.get('org_name')) ?? DEFAULT_ORG;
  const services = {
    orgName,
    serviceKeyAlgorithm: 'ec-p256' as const,
    tsaKeyAlgorithm: cfg.tsa.keyAlgorithm,
    backend: cfg.caKeyBackend,
    actor: p.actor,
  };
  const { created } = p.importCa
    ? await ctx.ca.importIssuingCa({ ...services, ...p.importCa })
    : await ctx.ca.initialise({
        ...services,
        ...(p.country ? { country: p.country } : {}),
        caKeyAlgorithm: cfg.ca.keyAlgorithm,
      });
  if (!created) return { created, orgName: (await ctx.settings.get('org_name')) ?? orgName };
  await ctx.settings.set('org_name', orgName);
  const { token } = await ctx.apiKeys.create({ name: 'initial admin', scopes: ['admin'], actor: p.actor });
  const adminKeyFile = join(cfg.dataDir, ADMIN_KEY_FILE);
  await writeFile(adminKeyFile, token + '\n', { mode: 0o600, flag: 'wx' });
  return { created, orgName, adminKeyFile };
}
