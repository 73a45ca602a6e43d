import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../../common/ids.js';
import { CurrentTenant, PortalRule, type TenantContext } from '../../tenancy/tenant-context.js';
import { ListDeliveriesQuery } from './deliveries.dto.js';
import { DeliveriesService } from './deliveries.service.js';
import { ApiAnswer, ApiErrors } from '../../common/openapi.js';
import { DELIVERY, DELIVERY_PAGE, DELIVERY_SUMMARY } from './deliveries.schemas.js';

@ApiTags('deliveries')
@Controller('v1/deliveries')
@PortalRule('screen')
export class DeliveriesController {
  constructor(private readonly deliveries: DeliveriesService) {}

  @Get()
  @ApiOperation({ summary: 'Deliveries, newest first (filters: webhookId, status, eventType, since)' })
  @ApiAnswer(200, 'A page of deliveries', DELIVERY_PAGE)
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ListDeliveriesQuery) {
    return this.deliveries.list(tenant.tenantId, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One delivery with every attempt' })
  @ApiAnswer(200, 'The delivery', DELIVERY)
  get(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.deliveries.get(tenant.tenantId, id);
  }

  @Post(':id/redeliver')
  @HttpCode(202)
  @ApiOperation({ summary: 'Send this delivery again now (trigger manual)' })
  @ApiAnswer(202, 'The delivery, queued', DELIVERY_SUMMARY)
  @ApiErrors([409, 'An attempt is on the wire, the subscription was deleted, or it is a pull feed'])
  redeliver(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.deliveries.redeliver(tenant.tenantId, id);
  }
}
