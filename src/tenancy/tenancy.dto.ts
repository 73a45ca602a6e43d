import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString, MaxLength } from 'class-validator';

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
