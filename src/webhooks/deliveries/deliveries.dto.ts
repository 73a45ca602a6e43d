import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional, IsUUID } from 'class-validator';
import { PageQuery } from '../../common/pagination.js';
import { ISO_DATE } from '../../common/validators.js';
import { EVENT_TYPES } from '../../events/event-types.js';

import { DELIVERY_STATUSES, type DeliveryStatus } from './delivery-status.js';

export class ListDeliveriesQuery extends PageQuery {
  @ApiPropertyOptional()
  @IsOptional()
  @IsUUID()
  webhookId?: string;

  @ApiPropertyOptional({ enum: DELIVERY_STATUSES })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: DeliveryStatus;

  @ApiPropertyOptional({ enum: EVENT_TYPES })
  @IsOptional()
  @IsIn(EVENT_TYPES)
  eventType?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Only deliveries created at or after this time' })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  since?: string;
}
