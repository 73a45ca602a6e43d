import { ApiProperty, ApiPropertyOptional, PartialType, PickType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsISO31661Alpha2,
  IsISO8601,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsPositive,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { AddressDto } from '../common/address.dto.js';
import { PageQuery } from '../common/pagination.js';
import { ISO_DATE, IsOptionalNotNull } from '../common/validators.js';
import { SHIPMENT_MODES, SHIPMENT_STATUSES, type ShipmentMode, type ShipmentStatus } from './shipment-status.js';

export class CarrierDto {
  @ApiProperty({ example: 'DHL Freight' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiPropertyOptional({ example: 'DHLF', description: 'Standard Carrier Alpha Code (2 to 4 letters)' })
  @IsOptional()
  @IsString()
  @Matches(/^[A-Z]{2,4}$/, { message: 'must be 2 to 4 capital letters' })
  scac?: string | null;
}

export class PackageDto {
  @ApiPropertyOptional({ example: 'PLT-1' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  reference?: string | null;

  @ApiPropertyOptional({ example: 370 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  @Max(1e7)
  weightKg?: number | null;

  @ApiPropertyOptional({ example: 120 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  @Max(1e5)
  lengthCm?: number | null;

  @ApiPropertyOptional({ example: 80 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  @Max(1e5)
  widthCm?: number | null;

  @ApiPropertyOptional({ example: 150 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @IsPositive()
  @Max(1e5)
  heightCm?: number | null;
}

export class CreateShipmentDto {
  @ApiProperty({ example: 'SH-20017', description: 'Unique per tenant' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  shipmentNumber: string;

  @ApiPropertyOptional({ description: 'The order this shipment carries (an order has many shipments)' })
  @IsOptional()
  @IsUUID()
  orderId?: string | null;

  @ApiProperty({ type: CarrierDto })
  @IsObject()
  @ValidateNested()
  @Type(() => CarrierDto)
  carrier: CarrierDto;

  @ApiProperty({ enum: SHIPMENT_MODES })
  @IsIn(SHIPMENT_MODES)
  mode: ShipmentMode;

  @ApiPropertyOptional({ example: 'standard' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  serviceLevel?: string | null;

  @ApiPropertyOptional({ example: 'JJD0099912345' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  trackingNumber?: string | null;

  @ApiPropertyOptional({ type: AddressDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AddressDto)
  origin?: AddressDto | null;

  @ApiPropertyOptional({ type: AddressDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => AddressDto)
  destination?: AddressDto | null;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  plannedPickupAt?: string | null;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  plannedDeliveryAt?: string | null;

  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  eta?: string | null;

  @ApiPropertyOptional({ type: [PackageDto] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1000)
  @ValidateNested({ each: true })
  @Type(() => PackageDto)
  packages?: PackageDto[] | null;
}

/** The fields a PATCH may change; absent fields stay, null clears an optional one. */
export class UpdateShipmentDto extends PartialType(
  PickType(CreateShipmentDto, [
    'serviceLevel',
    'trackingNumber',
    'origin',
    'destination',
    'plannedPickupAt',
    'plannedDeliveryAt',
    'eta',
    'packages',
  ] as const),
) {
  @ApiPropertyOptional({ type: CarrierDto })
  @IsOptionalNotNull()
  @IsObject()
  @ValidateNested()
  @Type(() => CarrierDto)
  carrier?: CarrierDto;

  @ApiPropertyOptional({ enum: SHIPMENT_MODES })
  @IsOptionalNotNull()
  @IsIn(SHIPMENT_MODES)
  mode?: ShipmentMode;
}

export class ProofOfDeliveryDto {
  @ApiProperty({ example: 'M. Weber' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  signedBy: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Default: the move’s occurredAt' })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  at?: string;
}

export class ChangeShipmentStatusDto {
  @ApiProperty({ enum: SHIPMENT_STATUSES })
  @IsIn(SHIPMENT_STATUSES)
  status: ShipmentStatus;

  @ApiPropertyOptional({ example: 'Consignee closed' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reason?: string;

  @ApiPropertyOptional({
    format: 'date-time',
    description: 'When it happened (default: now); sets actualPickupAt / actualDeliveryAt',
  })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  occurredAt?: string;

  @ApiPropertyOptional({ type: ProofOfDeliveryDto, description: 'Only with status delivered' })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => ProofOfDeliveryDto)
  proofOfDelivery?: ProofOfDeliveryDto;
}

export class TrackingLocationDto {
  @ApiPropertyOptional({ example: 'Hub Nuremberg' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ example: 'Nuremberg' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  city?: string;

  @ApiPropertyOptional({ example: 'BY', description: 'State or region code' })
  @IsOptional()
  @IsString()
  @MaxLength(50)
  region?: string;

  @ApiPropertyOptional({ example: '90451' })
  @IsOptional()
  @IsString()
  @MaxLength(20)
  postalCode?: string;

  @ApiPropertyOptional({ example: 'DE' })
  @IsOptional()
  @IsISO31661Alpha2({ message: 'must be an ISO 3166-1 alpha-2 country code (e.g. DE)' })
  country?: string;
}

export class CreateTrackingEventDto {
  @ApiProperty({ example: 'ARRIVED_AT_HUB' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(50)
  code: string;

  @ApiPropertyOptional({ example: 'Arrived at hub Nuremberg' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  description?: string;

  @ApiPropertyOptional({ type: TrackingLocationDto })
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => TrackingLocationDto)
  location?: TrackingLocationDto;

  @ApiProperty({ format: 'date-time' })
  @IsISO8601(ISO_DATE)
  occurredAt: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'A new ETA: updates the shipment’s eta' })
  @IsOptional()
  @IsISO8601(ISO_DATE)
  eta?: string;
}

export class ListShipmentsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: SHIPMENT_STATUSES })
  @IsOptional()
  @IsIn(SHIPMENT_STATUSES)
  status?: ShipmentStatus;

  @ApiPropertyOptional({ description: 'Exact shipment number' })
  @IsOptional()
  @IsString()
  shipmentNumber?: string;

  @ApiPropertyOptional({ description: 'Exact tracking number' })
  @IsOptional()
  @IsString()
  trackingNumber?: string;

  @ApiPropertyOptional({ description: 'Only the shipments of this order' })
  @IsOptional()
  @IsUUID()
  orderId?: string;
}
