import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsNotEmpty, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

export class CreateTenantDto {
  @ApiProperty({ example: 'Acme Logistics' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;
}

export class CreateApiKeyDto {
  @ApiProperty({ example: 'ERP integration' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;
}

export class CreatePortalSessionDto {
  @ApiProperty({
    required: false,
    default: false,
    description: 'A read-only session shows everything and changes nothing (403).',
  })
  @IsOptional()
  @IsBoolean()
  readOnly?: boolean;

  @ApiProperty({
    required: false,
    default: 3600,
    minimum: 60,
    maximum: 86400,
    description: 'How long the link and the session last.',
  })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(86400)
  ttlSeconds?: number;
}

export class RedeemPortalSessionDto {
  @ApiProperty({ description: 'The `portal` parameter of the one-time link.' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  code: string;
}
