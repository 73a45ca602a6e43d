import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../../common/ids.js';
import { CurrentTenant, PortalRule, type TenantContext } from '../../tenancy/tenant-context.js';
import { ListDeliveriesQuery } from './deliveries.dto.js';
import { DeliveriesService } from './deliveries.service.js';

@ApiTags('deliveries')
@ApiBearerAuth()
@Controller('v1/deliveries')
@PortalRule('screen')
export class DeliveriesController {
  constructor(private readonly deliveries: DeliveriesService) {}

  @Get()
  @ApiOperation({ summary: 'Deliveries, newest first (filters: webhookId, status, eventType, since)' })
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ListDeliveriesQuery) {
    return this.deliveries.list(tenant.tenantId, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One delivery with every attempt' })
  get(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.deliveries.get(tenant.tenantId, id);
  }

  @Post(':id/redeliver')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send this delivery again now (trigger manual)' })
  redeliver(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.deliveries.redeliver(tenant.tenantId, id);
  }
}
