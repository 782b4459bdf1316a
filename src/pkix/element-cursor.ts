import { Asn1Error } from './errors.js';

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/**
 * Walks the children of one constructed element front to back, for hand-written parsers of untrusted
 * input. Shared by the DER cursor (der-fields.ts) and the BER cursor (cms/ber.ts), which differ only
 * in how they find the children.
 */
export class ElementCursor<T extends { tag: number }> {
  private index = 0;

  constructor(
    protected readonly items: T[],
    readonly where: string,
  ) {}

  get length(): number {
    return this.items.length;
  }

  get done(): boolean {
    return this.index >= this.items.length;
  }

  peekTag(): number | undefined {
    return this.items[this.index]?.tag;
  }

  /** The next element if it has `tag`, else undefined (for OPTIONAL and DEFAULT fields). */
  optional(tag: number): T | undefined {
    const item = this.items[this.index];
    if (item?.tag !== tag) return undefined;
    this.index++;
    return item;
  }

  /** The next element, which must have `tag`. */
  take(tag: number, what: string): T {
    const item = this.items[this.index];
    if (!item) throw new Asn1Error(`${this.where}: ${what} is missing`);
    if (item.tag !== tag) {
      throw new Asn1Error(
        `${this.where}: expected ${what} (tag 0x${hex2(tag)}), found tag 0x${hex2(item.tag)}`,
      );
    }
    this.index++;
    return item;
  }

  /** The next element, whatever its tag. */
  any(what: string): T {
    const item = this.items[this.index++];
    if (!item) throw new Asn1Error(`${this.where}: ${what} is missing`);
    return item;
  }

  /** All elements not yet taken. */
  rest(): T[] {
    const out = this.items.slice(this.index);
    this.index = this.items.length;
    return out;
  }

  /** No elements may remain. */
  end(): void {
    const item = this.items[this.index];
    if (item) throw new Asn1Error(`${this.where}: unexpected element with tag 0x${hex2(item.tag)}`);
  }
}
