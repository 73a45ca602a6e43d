import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Address } from '../common/address.dto.js';
import type { ShipmentMode, ShipmentStatus } from './shipment-status.js';

export interface Carrier {
  name: string;
  scac: string | null;
}

export interface ShipmentPackage {
  reference: string | null;
  weightKg: number | null;
  lengthCm: number | null;
  widthCm: number | null;
  heightCm: number | null;
}

export interface ProofOfDelivery {
  signedBy: string;
  at: string;
}

@Entity('shipment')
export class Shipment {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  tenantId: string;

  @Column('uuid', { nullable: true })
  orderId: string | null;

  @Column('text')
  shipmentNumber: string;

  @Column('text')
  status: ShipmentStatus;

  @Column('text', { nullable: true })
  statusReason: string | null;

  @Column('jsonb')
  carrier: Carrier;

  @Column('text')
  mode: ShipmentMode;

  @Column('text', { nullable: true })
  serviceLevel: string | null;

  @Column('text', { nullable: true })
  trackingNumber: string | null;

  @Column('jsonb', { nullable: true })
  origin: Address | null;

  @Column('jsonb', { nullable: true })
  destination: Address | null;

  @Column('timestamptz', { nullable: true })
  plannedPickupAt: Date | null;

  @Column('timestamptz', { nullable: true })
  plannedDeliveryAt: Date | null;

  @Column('timestamptz', { nullable: true })
  actualPickupAt: Date | null;

  @Column('timestamptz', { nullable: true })
  actualDeliveryAt: Date | null;

  @Column('timestamptz', { nullable: true })
  eta: Date | null;

  @Column('jsonb')
  packages: ShipmentPackage[];

  @Column('jsonb', { nullable: true })
  proofOfDelivery: ProofOfDelivery | null;

  @Column('int')
  version: number;

  @Column('timestamptz')
  createdAt: Date;

  @Column('timestamptz')
  updatedAt: Date;
}
