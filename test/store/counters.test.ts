import { describe, expect, it } from 'vitest';
import { dialects, type TestDialect } from '../helpers/databases.js';
import { runStoreWorker } from '../helpers/store-worker.js';
import { openStore, inTransaction } from '../../src/store/database.js';
import { CounterError, currentCounter, nextCounter } from '../../src/store/counters.js';

/** Every value in [first, first+count) for each reservation; asserts no two reservations overlap. */
function expectDisjoint(reservations: { first: bigint; count: bigint }[]): bigint[] {
  const values = reservations.flatMap(({ first, count }) =>
    Array.from({ length: Number(count) }, (_, i) => first + BigInt(i)),
  );
  expect(new Set(values).size).toBe(values.length);
  return values.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

describe.each(dialects)('$name', (d: TestDialect) => {
  it('starts at 1 and hands out consecutive values and blocks', async () => {
    const store = await d.open();
    try {
      expect(await currentCounter(store, 'crl:root')).toBe(0n);
      expect(await nextCounter(store, 'crl:root')).toBe(1n);
      expect(await nextCounter(store, 'crl:root')).toBe(2n);
      expect(await nextCounter(store, 'tsa:serials', 1000n)).toBe(1n);
      expect(await nextCounter(store, 'tsa:serials', 1000n)).toBe(1001n);
      expect(await nextCounter(store, 'crl:root')).toBe(3n);
      expect(await currentCounter(store, 'tsa:serials')).toBe(2000n);
      await expect(nextCounter(store, 'x', 0n)).rejects.toBeInstanceOf(CounterError);
      await expect(nextCounter(store, '', 1n)).rejects.toBeInstanceOf(CounterError);
    } finally {
      await store.cleanup();
    }
  });

  it('counts past 2^53 exactly', async () => {
    const store = await d.open();
    try {
      await store.db.insertInto('counters').values({ name: 'big', value: '9007199254740993' }).execute();
      expect(await nextCounter(store, 'big', 2n)).toBe(9007199254740994n);
      expect(await currentCounter(store, 'big')).toBe(9007199254740995n);
    } finally {
      await store.cleanup();
    }
  });

  it('gives the reservation back when the surrounding transaction rolls back', async () => {
    const store = await d.open();
    try {
      await nextCounter(store, 'c');
      await expect(
        inTransaction(store, async (trx) => {
          expect(await nextCounter(trx, 'c')).toBe(2n);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await nextCounter(store, 'c')).toBe(2n);
    } finally {
      await store.cleanup();
    }
  });

  it('never hands out a value twice to two stores hammering one counter', async () => {
    const a = await d.open();
    const b = await openStore(a.connectionUrl);
    try {
      const calls = Array.from({ length: 300 }, (_, i) => {
        const count = BigInt((i % 5) + 1);
        return nextCounter(i % 2 ? a : b, 'shared', count).then((first) => ({ first, count }));
      });
      const values = expectDisjoint(await Promise.all(calls));
      // Nothing skipped either: the reservations tile 1..total.
      expect(values[0]).toBe(1n);
      expect(values[values.length - 1]).toBe(BigInt(values.length));
    } finally {
      await b.close();
      await a.cleanup();
    }
  });

  it('never hands out a value twice across processes', async () => {
    const store = await d.open();
    try {
      const outputs = await Promise.all([
        runStoreWorker(['counter', store.connectionUrl, 'mp', '150']),
        runStoreWorker(['counter', store.connectionUrl, 'mp', '150']),
        (async () => {
          const mine: string[] = [];
          for (let i = 0; i < 150; i++) mine.push((await nextCounter(store, 'mp', 3n)).toString());
          return JSON.stringify(mine);
        })(),
      ]);
      const firsts = outputs.flatMap((o) => JSON.parse(o) as string[]).map(BigInt);
      const values = expectDisjoint(firsts.map((first) => ({ first, count: 3n })));
      expect(values).toHaveLength(1350);
      expect(await currentCounter(store, 'mp')).toBe(1350n);
    } finally {
      await store.cleanup();
    }
  });
});
