import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { hasScope, type ApiKeyInfo, type ApiKeyService, type Scope } from './api-keys.js';
import { HttpError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKeyInfo;
  }
}

/** Deny by default: a route that is not public names the scope it needs, and this hook enforces it. */
export function requireScope(apiKeys: ApiKeyService, scope: Scope): preHandlerAsyncHookHandler {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (!token)
      throw new HttpError(401, 'unauthenticated', 'missing API key: send "Authorization: Bearer sp_…"');
    const info = await apiKeys.authenticate(token);
    if (!info) throw new HttpError(401, 'unauthenticated', 'invalid or revoked API key');
    if (!hasScope(info, scope))
      throw new HttpError(403, 'forbidden', `this API key lacks the "${scope}" scope`);
    request.apiKey = info;
  };
}

export function actorOf(request: FastifyRequest): string {
  return request.apiKey ? `apikey:${request.apiKey.id}` : 'anonymous';
}
