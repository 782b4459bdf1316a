import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../../audit/audit-log.js';
import type { ApiKeyService } from '../api-keys.js';
import { requireScope } from '../auth.js';

/** Read access to the tamper-evident audit log, and an on-demand chain check. */
export async function auditRoutes(
  app: FastifyInstance,
  opts: { audit: AuditLog; apiKeys: ApiKeyService },
): Promise<void> {
  const { audit, apiKeys } = opts;
  const security = [{ apiKey: [] }];
  app.get<{ Querystring: { after?: string; limit?: number; action?: string } }>(
    '/v1/audit',
    {
      preHandler: requireScope(apiKeys, 'audit:read'),
      schema: {
        summary: 'Audit records in order',
        tags: ['audit'],
        security,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            after: { type: 'string', pattern: '^[0-9]{1,19}$' },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            action: { type: 'string', maxLength: 64 },
          },
        },
      },
    },
    async (request) => {
      const q = request.query;
      const records = await audit.list({
        ...(q.after ? { afterSeq: BigInt(q.after) } : {}),
        limit: q.limit ?? 100,
        ...(q.action ? { action: q.action } : {}),
      });
      return { records: records.map((r) => ({ ...r, seq: r.seq.toString() })) };
    },
  );
  app.post(
    '/v1/audit/verify',
    {
      preHandler: requireScope(apiKeys, 'audit:read'),
      schema: { summary: 'Verify the audit hash chain', tags: ['audit'], security },
    },
    async () => audit.verify(),
  );
}
