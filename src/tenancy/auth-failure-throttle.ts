import { Inject, Injectable } from '@nestjs/common';
import { normalizeIp, ThrottlerStorage, type ThrottlerStorageService } from '@nestjs/throttler';
import { tooManyRequests } from '../common/throttling.js';
import { APP_CONFIG, type AppConfig } from '../config/config.js';

const MINUTE_MS = 60_000;

/**
 * Failed authentications per client address (wrong keys, tokens, links): past the limit in a
 * minute the address is refused for a minute, before its credentials are even looked at, so a
 * guess that happens to be right gains nothing. Kept in the throttler's storage (per instance).
 */
@Injectable()
export class AuthFailureThrottle {
  constructor(
    @Inject(ThrottlerStorage) private readonly storage: ThrottlerStorageService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private get limit(): number {
    return this.config.throttle.authFailuresPerMinute;
  }

  private key(address: string | undefined): string {
    return `auth-failures:${normalizeIp(address ?? '')}`;
  }

  /** Seconds the address must still wait, or 0. */
  blockedFor(address: string | undefined): number {
    if (this.limit === 0) return 0;
    const record = this.storage.storage.get(this.key(address));
    if (!record?.isBlocked) return 0;
    return Math.max(0, Math.ceil((record.blockExpiresAt - Date.now()) / 1000));
  }

  /** Counts one failure; answers the seconds to wait when it crossed the limit, else 0. */
  async recordFailure(address: string | undefined): Promise<number> {
    if (this.limit === 0) return 0;
    const record = await this.storage.increment(this.key(address), MINUTE_MS, this.limit, MINUTE_MS, 'auth');
    return record.isBlocked ? record.timeToBlockExpire : 0;
  }

  refusal(seconds: number) {
    return tooManyRequests(
      `too many failed authentications from this address (at most ${this.limit} a minute); retry in ${seconds} s`,
    );
  }
}
