import { Controller, Get, Header, NotFoundException, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentTenant, PortalRule, type TenantContext } from '../tenancy/tenant-context.js';
import { catalogEntry, EVENT_CATALOG } from './event-catalog.js';
import { isEventType } from './event-types.js';
import { ListEventsQuery } from './events.dto.js';
import { EventsService } from './events.service.js';
import { ApiAnswer, ApiErrors } from '../common/openapi.js';
import { ENVELOPE, ENVELOPE_PAGE, EVENT_SCHEMA, EVENT_TYPE, EVENT_TYPE_PAGE } from './events.schemas.js';

@ApiTags('events')
@Controller('v1')
@PortalRule('screen')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get('event-types')
  @ApiOperation({
    summary: 'The event catalog: every type with its description, an example envelope and its JSON Schema',
  })
  @ApiAnswer(200, 'Every type (one page)', EVENT_TYPE_PAGE)
  catalog() {
    return { data: EVENT_CATALOG, nextCursor: null };
  }

  @Get('event-types/:type')
  @ApiOperation({ summary: 'One catalog entry' })
  @ApiAnswer(200, 'The entry', EVENT_TYPE)
  @ApiErrors([404, 'No such type'])
  catalogType(@Param('type') type: string) {
    if (!isEventType(type)) throw new NotFoundException(`no event type ${type}`);
    return catalogEntry(type);
  }

  @Get('event-types/:type/schema')
  @Header('content-type', 'application/schema+json')
  @ApiOperation({ summary: "The JSON Schema (draft 2020-12) of this type's envelope" })
  @ApiAnswer(200, 'The JSON Schema', EVENT_SCHEMA, 'application/schema+json')
  @ApiErrors([404, 'No such type'])
  schema(@Param('type') type: string) {
    if (!isEventType(type)) throw new NotFoundException(`no event type ${type}`);
    return catalogEntry(type).schema;
  }

  @Get('events')
  @ApiOperation({ summary: "The tenant's events, newest first" })
  @ApiAnswer(200, 'A page of events', ENVELOPE_PAGE)
  list(@CurrentTenant() tenant: TenantContext, @Query() query: ListEventsQuery) {
    return this.events.list(tenant.tenantId, query);
  }

  @Get('events/:id')
  @ApiOperation({ summary: 'One event, as its envelope' })
  @ApiAnswer(200, 'The event', ENVELOPE)
  @ApiErrors([404, 'No such event'])
  get(@CurrentTenant() tenant: TenantContext, @Param('id') id: string) {
    return this.events.get(tenant.tenantId, id);
  }
}
