/**
 * Random bytes for the many small secrets made per message (content keys, IVs, MIME boundaries), drawn from a
 * pool refilled by the CSPRNG: each synchronous randomBytes call is a native job costing several microseconds,
 * which on a 10 KB message is a visible share of the whole encryption. Node's randomUUID pools the same way.
 * Bytes handed out are copied and then erased from the pool, so no secret lingers in it after use.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** `length` fresh random bytes (a new Buffer the caller owns). */
export function randomBytesPooled(length: number): Buffer {
  if (length > POOL_BYTES / 4) return randomFillSync(Buffer.alloc(length));
  if (offset + length > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + length));
  pool.fill(0, offset, offset + length);
  offset += length;
  return out;
}
