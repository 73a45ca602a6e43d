import { Controller, Get, Header, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentTenant, PortalRule, type TenantContext } from '../tenancy/tenant-context.js';
import { catalogEntry, EVENT_CATALOG } from './event-catalog.js';
import { isEventType } from './event-types.js';
import { ListEventsQuery } from './events.dto.js';
import { EventsService } from './events.service.js';

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1')
@PortalRule('screen')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get('event-types')
  @ApiOperation({
    summary: 'The event catalog: every type with its description, an example envelope and its JSON Schema',
  })
  catalog() {
    return { data: EVENT_CATALOG, nextCursor: null };
  }

  @Get('event-types/:type')
  catalogType(@Param('type') type: string) {
    if (!isEventType(type)) throw new NotFoundException(`no event type ${type}`);
    return catalogEntry(type);
  }

  @Get('event-types/:type/schema')
  @Header('content-type', 'application/schema+json')
  @ApiOperation({ summary: "The JSON Schema (draft 2020-12) of this type's envelope" })
  schema(@Param('type') type: string) {
    if (!isEventType(type)) throw new NotFoundException(`no event type ${type}`);
    return catalogEntry(type).schema;
  }

  @Get('events')
  @ApiOperation({ summary: "The tenant's events, newest first" })
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ListEventsQuery) {
    return this.events.list(tenant.tenantId, query);
  }

  @Get('events/:id')
  get(@CurrentTenant() tenant: TenantContext, @Param('id') id: string) {
    return this.events.get(tenant.tenantId, id);
  }
}
