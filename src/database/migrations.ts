import { Foundation1763900000000 } from '../../migrations/1763900000000-foundation.js';
import { Webhooks1763910000000 } from '../../migrations/1763910000000-webhooks.js';
import { PayloadFormats1763920000000 } from '../../migrations/1763920000000-payload-formats.js';
import { ErpConnectivity1763930000000 } from '../../migrations/1763930000000-erp-connectivity.js';
import { PortalSessions1763940000000 } from '../../migrations/1763940000000-portal-sessions.js';
import { OrderedFollowers1764000000000 } from '../../migrations/1764000000000-ordered-followers.js';
import { AttemptRowRoom1764000000001 } from '../../migrations/1764000000001-attempt-row-room.js';
import { FeedTokenLifeCycle1764100000000 } from '../../migrations/1764100000000-feed-token-life-cycle.js';
import { EncryptionKeys1764100000001 } from '../../migrations/1764100000001-encryption-keys.js';
import { AttemptReasons1764200000000 } from '../../migrations/1764200000000-attempt-reasons.js';
import { MaintenanceWindows1764210000000 } from '../../migrations/1764210000000-maintenance-windows.js';
import { DeliveryLogIndexes1764300000000 } from '../../migrations/1764300000000-delivery-log-indexes.js';
import { StalePlanGuard1764700000000 } from '../../migrations/1764700000000-stale-plan-guard.js';
import { DeliveryClaimRoom1764900000000 } from '../../migrations/1764900000000-delivery-claim-room.js';
import { AttemptOutcomeInPlace1765000000000 } from '../../migrations/1765000000000-attempt-outcome-in-place.js';
import { WebhookLogByStatus1765000000001 } from '../../migrations/1765000000001-webhook-log-by-status.js';

/** Listed explicitly, oldest first: globs do not survive bundling or ESM. */
export const MIGRATIONS = [
  Foundation1763900000000,
  Webhooks1763910000000,
  PayloadFormats1763920000000,
  ErpConnectivity1763930000000,
  PortalSessions1763940000000,
  OrderedFollowers1764000000000,
  AttemptRowRoom1764000000001,
  FeedTokenLifeCycle1764100000000,
  EncryptionKeys1764100000001,
  AttemptReasons1764200000000,
  MaintenanceWindows1764210000000,
  DeliveryLogIndexes1764300000000,
  StalePlanGuard1764700000000,
  DeliveryClaimRoom1764900000000,
  AttemptOutcomeInPlace1765000000000,
  WebhookLogByStatus1765000000001,
];
