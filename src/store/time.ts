/**
 * Timestamps are stored as ISO-8601 strings in UTC with millisecond precision
 * (`2024-05-01T12:00:00.000Z`): fixed width, so SQLite and PostgreSQL order and compare them as text
 * exactly as they would as instants.
 */
export function nowIso(): string {
  return new Date().toISOString();
}

/** Convert a Date, epoch milliseconds or a parseable date string to the stored ISO form. */
export function toIso(d: Date | number | string): string {
  const date = d instanceof Date ? d : new Date(d);
  if (Number.isNaN(date.getTime())) throw new RangeError(`not a valid date: ${String(d)}`);
  return date.toISOString();
}
