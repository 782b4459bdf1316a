import { describe, expect, it } from 'vitest';
import { randomBytesPooled } from '../../src/crypto/random-pool.js';

describe('randomBytesPooled', () => {
  it('hands out fresh, distinct bytes of the asked length across pool refills, and owned copies', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const key = randomBytesPooled(32 + (i % 17)); // odd sizes walk over every refill boundary
      expect(key).toHaveLength(32 + (i % 17));
      seen.add(key.toString('hex'));
      key.fill(0); // the caller owns it: erasing it must not touch the next draw
    }
    expect(seen.size).toBe(1000);
    expect(randomBytesPooled(0)).toHaveLength(0);
    expect(randomBytesPooled(5000)).toHaveLength(5000); // larger than the pool: drawn directly
  });

  it('looks random: every byte value occurs, none dominates', () => {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 4000; i++) for (const b of randomBytesPooled(16)) counts[b]! += 1;
    expect(Math.min(...counts)).toBeGreaterThan(150); // 64,000 bytes: about 250 of each value
    expect(Math.max(...counts)).toBeLessThan(370);
  });
});
