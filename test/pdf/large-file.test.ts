import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PdfDocument } from '../../src/pdf/index.js';
import { writeStreamedPdf } from './fixtures/streamed-pdf.js';

const SIZE = 300 * 1024 * 1024;
let dir: string;
let path: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-pdf-large-'));
  path = join(dir, 'big.pdf');
  await writeStreamedPdf(path, SIZE, 'big file');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

it('opens a 300 MB PDF and reads its pages with RSS growth under 50 MB', async () => {
  const before = process.memoryUsage().rss;
  const doc = await PdfDocument.openFile(path);
  const pages = await doc.pages();
  expect(pages).toHaveLength(1);
  const [small, big] = pages[0]!.contents;
  expect((await doc.streamData(small!)).toString('latin1')).toContain('(big file)');
  expect(big!.data).toMatchObject({ kind: 'file', length: SIZE });
  expect(doc.revisions[0]!.endOffset).toBe(doc.source.size);
  const growth = (process.memoryUsage().rss - before) / (1024 * 1024);
  console.log(`300 MB PDF: RSS grew by ${growth.toFixed(1)} MB while opening and reading its page tree`);
  expect(growth).toBeLessThan(50);
  await doc.close();
});
