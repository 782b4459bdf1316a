/** The file scanner finds the same part ranges as parseMime, whatever falls on a window edge. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMime } from '../../../src/smime/mime/parser.js';
import { scanDelimiters } from '../../../src/smime/mime/stream-scan.js';

describe('scanDelimiters', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sealpost-scan-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  /** parseMime's child ranges against the scanner's, for one message. */
  async function agree(message: Buffer): Promise<void> {
    const root = parseMime(message);
    const path = join(dir, 'm.eml');
    await writeFile(path, message);
    const found = await scanDelimiters(path, {
      start: root.bodyRange.start,
      end: message.length,
      boundary: root.contentType.params['boundary'] as string,
      maxDelimiters: 100,
    });
    const ranges = found
      .slice(0, -1)
      .filter((d) => !d.closing)
      .map((d, i) => ({
        start: d.after,
        end: Math.max((found[i + 1] as { before: number }).before, d.after),
      }));
    expect(ranges).toEqual((root.children ?? []).map((c) => c.range));
  }

  const message = (parts: Buffer[], eol: string) =>
    Buffer.concat([
      Buffer.from(`Content-Type: multipart/signed; boundary="b1"${eol}${eol}preamble${eol}`),
      ...parts.flatMap((p) => [Buffer.from(`--b1${eol}`), p, Buffer.from(eol)]),
      Buffer.from(`--b1--${eol}`),
    ]);

  it('delimiters on and around the 1 MiB window edges, CRLF and LF', async () => {
    for (const eol of ['\r\n', '\n']) {
      for (const size of [1024 * 1024 - 200, 1024 * 1024 - 3, 1024 * 1024 + 1, 2 * 1024 * 1024 - 4096 - 5]) {
        const big = Buffer.alloc(size, 0x41);
        await agree(message([big, Buffer.from(`Content-Type: text/plain${eol}${eol}x`)], eol));
      }
    }
  });

  it('property: random part sizes and near-miss delimiter text agree with parseMime', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 1_100_000 }), fc.boolean()), {
          minLength: 1,
          maxLength: 3,
        }),
        async (specs) => {
          const parts = specs.map(([n, decoy]) =>
            Buffer.concat([
              Buffer.alloc(n, 0x61),
              Buffer.from(decoy ? '\r\n--b1x not a delimiter\r\n--b1' : ''),
            ]),
          );
          await agree(message(parts, '\r\n'));
        },
      ),
      { numRuns: 15 },
    );
  });
});
