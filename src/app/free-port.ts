import { createServer } from 'node:net';

/**
 * A port that is free right now. `--port 0` asks for "any port", but the URL written into the
 * certificates issued at first run (AIA, CRLDP) must name the real port, so the port is chosen
 * before anything is issued, not by the listener afterwards.
 */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen({ host, port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error(`could not find a free port on ${host}`))));
    });
  });
}
