import { Injectable } from '@nestjs/common';
import type { TenantContext } from './tenant-context.js';

/** Who a presented credential of one kind is, or undefined when it is unknown or no longer alive. */
export type CredentialCheck = (presented: string) => Promise<TenantContext | undefined>;

/**
 * Bearer credentials other modules issue (a pull feed's token), each recognised by its prefix.
 * Tenancy authenticates API keys and settings sessions itself and asks the module that issued
 * any other kind, so it imports none of them: they register here when they start.
 */
@Injectable()
export class BearerCredentials {
  private readonly kinds = new Map<string, CredentialCheck>();

  register(prefix: string, check: CredentialCheck): void {
    if (this.kinds.has(prefix)) throw new Error(`bearer credentials starting with ${prefix} are already registered`);
    this.kinds.set(prefix, check);
  }

  /** The check for a presented credential's kind, or undefined when no module issues that kind. */
  checkFor(presented: string): CredentialCheck | undefined {
    for (const [prefix, check] of this.kinds) if (presented.startsWith(prefix)) return check;
    return undefined;
  }
}
