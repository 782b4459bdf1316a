/** Streaming: a 200 MB content is hashed as it flows; memory stays flat while signing and verifying it. */
import { expect, it } from 'vitest';
import { signData, verifySignedData } from '../../../src/pkix/cms/signed-data.js';
import { hierarchy, issue } from '../fixtures.js';

const TOTAL = 200 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/**
 * 200 MB of content from four pre-allocated chunks, pulled one at a time. Reusing the chunks keeps the
 * producer's own garbage (which V8 lets reach ~64 MB of external memory before collecting) out of the figure,
 * so the RSS growth measured is what signData/verifySignedData themselves hold.
 */
const CHUNKS = [0, 1, 2, 3].map((i) => Buffer.alloc(CHUNK, 0x41 + i));
async function* bigStream(): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < TOTAL; sent += CHUNK) yield CHUNKS[(sent / CHUNK) % CHUNKS.length] as Buffer;
}

/** Run `fn` and return the largest RSS growth seen over the baseline while it ran, in MB. */
async function peakRssGrowth(fn: () => Promise<void>): Promise<number> {
  globalThis.gc?.();
  const baseline = process.memoryUsage.rss();
  let peak = baseline;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  return (peak - baseline) / 1024 / 1024;
}

it('signs and verifies a 200 MB stream with RSS growth under 64 MB', async () => {
  const h = await hierarchy('ec-p256');
  const alice = await issue(
    { commonName: 'Alice' },
    { profile: 'smime-signing', emails: ['alice@bank.example'] },
    'ec-p256',
    h.issuing,
  );
  let signature: Buffer = Buffer.alloc(0);
  const signGrowth = await peakRssGrowth(async () => {
    signature = await signData(bigStream(), {
      signer: alice.key,
      certificate: alice.cert.der,
      chain: [h.issuing.cert.der],
    });
  });
  let valid = false;
  const verifyGrowth = await peakRssGrowth(async () => {
    const check = (await verifySignedData(signature, { content: bigStream() })).signers[0]!;
    valid = check.signatureValid && check.digestMatches;
  });
  console.log(
    `200 MB stream: RSS growth while signing ${signGrowth.toFixed(1)} MB, while verifying ${verifyGrowth.toFixed(1)} MB`,
  );
  expect(valid).toBe(true);
  expect(signGrowth).toBeLessThan(64);
  expect(verifyGrowth).toBeLessThan(64);
});
