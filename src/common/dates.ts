export const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);

export const toDate = (value: string | Date | null | undefined): Date | null =>
  value === null || value === undefined ? null : value instanceof Date ? value : new Date(value);
