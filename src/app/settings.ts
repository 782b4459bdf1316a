import type { Store } from '../store/database.js';

/** Installation-wide settings every node reads from the database (owns the `settings` table). */
export class SettingsService {
  constructor(private readonly store: Store) {}

  async get(name: string): Promise<string | undefined> {
    const row = await this.store.db
      .selectFrom('settings')
      .select('value')
      .where('name', '=', name)
      .executeTakeFirst();
    return row?.value;
  }

  /** Insert unless another node got there first; the first writer wins. */
  async setIfAbsent(name: string, value: string): Promise<void> {
    await this.store.db
      .insertInto('settings')
      .values({ name, value })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
  }

  async set(name: string, value: string): Promise<void> {
    await this.store.db
      .insertInto('settings')
      .values({ name, value })
      .onConflict((oc) => oc.column('name').doUpdateSet({ value }))
      .execute();
  }
}
