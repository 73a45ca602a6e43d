import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Address } from '../common/address.dto.js';
import type { OrderStatus } from './order-status.js';

export interface Customer {
  name: string;
  ref: string | null;
}

export interface OrderLine {
  sku: string;
  description: string | null;
  quantity: number;
  unit: string;
  weightKg: number | null;
}

@Entity('order')
export class Order {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  tenantId: string;

  @Column('text')
  orderNumber: string;

  @Column('text', { nullable: true })
  externalRef: string | null;

  @Column('jsonb')
  customer: Customer;

  @Column('jsonb', { nullable: true })
  shipFrom: Address | null;

  @Column('jsonb', { nullable: true })
  shipTo: Address | null;

  @Column('timestamptz', { nullable: true })
  requestedPickupAt: Date | null;

  @Column('timestamptz', { nullable: true })
  requestedDeliveryAt: Date | null;

  @Column('jsonb')
  lines: OrderLine[];

  @Column('text', { nullable: true })
  notes: string | null;

  @Column('text')
  status: OrderStatus;

  @Column('int')
  version: number;

  @Column('timestamptz')
  createdAt: Date;

  @Column('timestamptz')
  updatedAt: Date;
}
