import { Foundation1763900000000 } from '../../migrations/1763900000000-foundation.js';
import { Webhooks1763910000000 } from '../../migrations/1763910000000-webhooks.js';

/** Listed explicitly, oldest first: globs do not survive bundling or ESM. */
export const MIGRATIONS = [Foundation1763900000000, Webhooks1763910000000];
