import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PdfDocument } from '../../src/pdf/index.js';

const SIZE = 300 * 1024 * 1024;
let dir: string;
let path: string;

/** Write a PDF whose page carries a 300 MB uncompressed stream, 1 MB at a time. */
async function writeBigPdf(file: string): Promise<void> {
  const out = createWriteStream(file);
  let offset = 0;
  const offsets: number[] = [];
  const write = async (b: Buffer | string): Promise<void> => {
    const buf = typeof b === 'string' ? Buffer.from(b, 'latin1') : b;
    offset += buf.length;
    if (!out.write(buf)) await once(out, 'drain');
  };
  const obj = async (body: string): Promise<void> => {
    offsets.push(offset);
    await write(`${offsets.length} 0 obj\n${body}\nendobj\n`);
  };
  await write('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n');
  await obj('<< /Type /Catalog /Pages 2 0 R >>');
  await obj('<< /Type /Pages /Kids [3 0 R] /Count 1 >>');
  await obj('<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents [5 0 R 4 0 R] >>');
  offsets.push(offset);
  await write(`4 0 obj\n<< /Length ${SIZE} >>\nstream\n`);
  const chunk = Buffer.alloc(1024 * 1024, '% filler line of a very large content stream\n');
  for (let done = 0; done < SIZE; done += chunk.length) await write(chunk);
  await write('\nendstream\nendobj\n');
  await obj('<< /Length 22 >>\nstream\nBT (big file) Tj ET  \nendstream');
  const xref = offset;
  let table = `xref\n0 ${offsets.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) table += `${String(o).padStart(10, '0')} 00000 n \n`;
  await write(`${table}trailer\n<< /Size ${offsets.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`);
  out.end();
  await once(out, 'finish');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealpost-pdf-large-'));
  path = join(dir, 'big.pdf');
  await writeBigPdf(path);
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
