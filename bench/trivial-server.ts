/**
 * The baseline for bench/pki-http.ts: a Fastify app doing no work beyond HTTP itself. POST /trivial takes a
 * binary body (like an OCSP or TSP request) and answers with a constant small binary body. Prints one JSON
 * line with its URL, like `sealpost serve --json`, and stops on SIGTERM/SIGINT.
 */
import Fastify from 'fastify';

const REPLY = Buffer.alloc(512, 0x5a);

const app = Fastify({ logger: false });
app.addContentTypeParser(
  'application/octet-stream',
  { parseAs: 'buffer', bodyLimit: 16 * 1024 },
  (_req, body, done) => done(null, body),
);
app.post('/trivial', async (_request, reply) => reply.type('application/octet-stream').send(REPLY));
app.get('/trivial', async (_request, reply) => reply.type('application/octet-stream').send(REPLY));

const url = await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) });
process.stdout.write(JSON.stringify({ url }) + '\n');
const stop = () => void app.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
