import { ApiProperty, ApiPropertyOptional, PartialType, PickType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsIn,
  IsISO8601,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsPositive,
  IsString,
  Max,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { AddressDto } from '../common/address.dto.js';
import { PageQuery } from '../common/pagination.js';
import { ISO_DATE, IsOptionalNotNull } from '../common/validators.js';
import { ORDER_STATUSES, type OrderStatus } from './order-status.js';

export class CustomerDto {
  @ApiProperty({ example: 'Acme Retail GmbH' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiPropertyOptional({ example: 'C-42', description: "The customer's number in the ERP" })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  ref?: string | null;
}

export class OrderLineDto {
  @ApiProperty({ example: 'PAL-EUR-01' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  sku: string;

  @ApiPropertyOptional({ example: 'Euro pallet, mixed goods' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string | null;

  @ApiProperty({ example: 4, minimum: 0, description: 'Greater than 0' })
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  @Max(1e9)
  quantity: number;

  @ApiProperty({ example: 'PLT' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(20)
  unit: string;

  @ApiPropertyOptional({ example: 1480 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  @Max(1e9)
  weightKg?: number | null;
}

export class CreateOrderDto {
  @ApiProperty({ example: 'SO-10042', description: 'Unique per tenant' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  orderNumber: string;

  @ApiPropertyOptional({ example: 'PO-88231', description: "The ERP's or customer's PO / sales order number" })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  externalRef?: string | null;

  @ApiProperty({ type: CustomerDto })
  @IsObject()
  @ValidateNested()
  @Type(() => CustomerDto)
  customer: CustomerDto;

  @ApiPropertyOptional({ type: AddressDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AddressDto)
  shipFrom?: AddressDto | null;

  @ApiPropertyOptional({ type: AddressDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AddressDto)
  shipTo?: AddressDto | null;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  requestedPickupAt?: string | null;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  requestedDeliveryAt?: string | null;

  @ApiProperty({ type: [OrderLineDto], minItems: 1 })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => OrderLineDto)
  lines: OrderLineDto[];

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MaxLength(4000)
  notes?: string | null;
}

/** Every field but the order number may change; absent fields stay as they are, null clears an optional one. */
export class UpdateOrderDto extends PartialType(
  PickType(CreateOrderDto, [
    'externalRef',
    'shipFrom',
    'shipTo',
    'requestedPickupAt',
    'requestedDeliveryAt',
    'notes',
  ] as const),
) {
  @ApiPropertyOptional({ type: CustomerDto })
  @IsOptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => CustomerDto)
  customer?: CustomerDto;

  @ApiPropertyOptional({ type: [OrderLineDto], minItems: 1 })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => OrderLineDto)
  lines?: OrderLineDto[];
}

export class ChangeOrderStatusDto {
  @ApiProperty({ enum: ORDER_STATUSES })
  @IsIn(ORDER_STATUSES)
  status: OrderStatus;

  @ApiPropertyOptional({ example: 'Customer cancelled by phone' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'When it happened (default: now)' })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  occurredAt?: string;
}

export class ListOrdersQuery extends PageQuery {
  @ApiPropertyOptional({ enum: ORDER_STATUSES })
  @IsOptional()
  @IsIn(ORDER_STATUSES)
  status?: OrderStatus;

  @ApiPropertyOptional({ description: 'Exact order number' })
  @IsOptional()
  @IsString()
  orderNumber?: string;

  @ApiPropertyOptional({ description: 'Exact external reference' })
  @IsOptional()
  @IsString()
  externalRef?: string;
}
