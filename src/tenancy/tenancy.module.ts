import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { FeedTokenStore } from '../webhooks/feed/feed-token.store.js';
import { ApiKey } from './api-key.entity.js';
import { ApiKeyCache } from './api-key-cache.js';
import { AuthFailureThrottle } from './auth-failure-throttle.js';
import { AuthGuard } from './auth.guard.js';
import { TenancyController } from './tenancy.controller.js';
import { PortalService } from './portal.service.js';
import { TenancyService } from './tenancy.service.js';
import { Tenant } from './tenant.entity.js';

@Module({
  imports: [TypeOrmModule.forFeature([Tenant, ApiKey])],
  controllers: [TenancyController],
  providers: [
    TenancyService,
    PortalService,
    ApiKeyCache,
    FeedTokenStore,
    AuthFailureThrottle,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [TenancyService, FeedTokenStore],
})
export class TenancyModule {}
