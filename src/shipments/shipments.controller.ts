import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { ParseIdPipe } from '../common/ids.js';
import { CurrentTenant, type TenantContext } from '../tenancy/tenant-context.js';
import {
  ChangeShipmentStatusDto,
  CreateShipmentDto,
  CreateTrackingEventDto,
  ListShipmentsQuery,
  UpdateShipmentDto,
} from './shipments.dto.js';
import { ShipmentsService } from './shipments.service.js';
import { ApiAnswer, ApiErrors } from '../common/openapi.js';
import { SHIPMENT, SHIPMENT_PAGE, TRACKING_EVENT } from './shipments.schemas.js';

@ApiTags('shipments')
@Controller('v1/shipments')
export class ShipmentsController {
  constructor(private readonly shipments: ShipmentsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a shipment (emits shipment.created); a new shipment is planned' })
  @ApiAnswer(201, 'The shipment', SHIPMENT)
  @ApiErrors([409, 'A shipment with this shipmentNumber exists'])
  create(@CurrentTenant() tenant: TenantContext, @Body() body: CreateShipmentDto) {
    return this.shipments.create(tenant.tenantId, body);
  }

  @Get()
  @ApiOperation({ summary: 'Shipments, newest first (without their tracking events)' })
  @ApiAnswer(200, 'A page of shipments', SHIPMENT_PAGE)
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ListShipmentsQuery) {
    return this.shipments.list(tenant.tenantId, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'A shipment with its tracking events' })
  @ApiAnswer(200, 'The shipment', SHIPMENT)
  get(@CurrentTenant() tenant: TenantContext, @Param('id', ParseIdPipe) id: string) {
    return this.shipments.get(tenant.tenantId, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change fields (emits shipment.updated; a new eta also shipment.tracking_updated)' })
  @ApiAnswer(200, 'The shipment', SHIPMENT)
  update(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: UpdateShipmentDto,
  ) {
    return this.shipments.update(tenant.tenantId, id, body);
  }

  @Post(':id/status')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Move the shipment (emits shipment.status_changed, and .delivered / .exception); 409 names the allowed moves',
  })
  @ApiAnswer(200, 'The shipment', SHIPMENT)
  @ApiErrors([409, 'The move is not allowed (the message names the allowed ones)'])
  changeStatus(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: ChangeShipmentStatusDto,
  ) {
    return this.shipments.changeStatus(tenant.tenantId, id, body);
  }

  @Post(':id/tracking-events')
  @ApiOperation({ summary: 'Record a tracking event, optionally with a new eta (emits shipment.tracking_updated)' })
  @ApiAnswer(201, 'The tracking event', TRACKING_EVENT)
  addTrackingEvent(
    @CurrentTenant() tenant: TenantContext,
    @Param('id', ParseIdPipe) id: string,
    @Body() body: CreateTrackingEventDto,
  ) {
    return this.shipments.addTrackingEvent(tenant.tenantId, id, body);
  }
}
