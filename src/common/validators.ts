import { ValidateIf, type ValidationOptions } from 'class-validator';

/** Absent is fine; null is not (for PATCH fields that cannot be cleared). */
export const IsOptionalNotNull = (options?: ValidationOptions) =>
  ValidateIf((_object, value) => value !== undefined, options);

export const ISO_DATE = { strict: true, strictSeparator: true } as const;
