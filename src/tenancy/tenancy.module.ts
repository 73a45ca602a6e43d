import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ApiKey } from './api-key.entity.js';
import { ApiKeyCache } from './api-key-cache.js';
import { AuthFailureThrottle } from './auth-failure-throttle.js';
import { AuthGuard } from './auth.guard.js';
import { BearerCredentials } from './bearer-credentials.js';
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
    BearerCredentials,
    AuthFailureThrottle,
    { provide: APP_GUARD, useClass: AuthGuard },
  ],
  exports: [TenancyService, BearerCredentials],
})
export class TenancyModule {}
