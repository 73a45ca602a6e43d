import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { PageQuery } from '../common/pagination.js';
import { EVENT_TYPES, type EventType } from './event-types.js';

export class ListEventsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: EVENT_TYPES })
  @IsOptional()
  @IsIn(EVENT_TYPES)
  type?: EventType;

  @ApiPropertyOptional({ description: 'Only the events of this order or shipment' })
  @IsOptional()
  @IsUUID()
  aggregateId?: string;
}
