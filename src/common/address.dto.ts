import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsISO31661Alpha2, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';

export class AddressDto {
  @ApiPropertyOptional({ example: 'Acme Store Munich' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ example: 'Marienplatz 8' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  street?: string;

  @ApiProperty({ example: 'Munich' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(100)
  city: string;

  @ApiPropertyOptional({ example: '80331' })
  @IsOptional()
  @IsString()
  @MaxLength(20)
  postalCode?: string;

  @ApiProperty({ example: 'DE', description: 'ISO 3166-1 alpha-2' })
  @IsISO31661Alpha2({ message: 'must be an ISO 3166-1 alpha-2 country code (e.g. DE)' })
  country: string;
}

export interface Address {
  name: string | null;
  street: string | null;
  city: string;
  postalCode: string | null;
  country: string;
}

/**
 * Every address field present (null when not given), in the contract's order, country
 * upper-cased. Also used on rows read back: jsonb does not keep key order.
 */
export function toAddress(value: Partial<Address> | AddressDto | null | undefined): Address | null {
  if (!value) return null;
  return {
    name: value.name ?? null,
    street: value.street ?? null,
    city: value.city!,
    postalCode: value.postalCode ?? null,
    country: value.country!.toUpperCase(),
  };
}
