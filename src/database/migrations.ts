import { Foundation1763900000000 } from '../../migrations/1763900000000-foundation.js';

/** Listed explicitly, oldest first: globs do not survive bundling or ESM. */
export const MIGRATIONS = [Foundation1763900000000];
