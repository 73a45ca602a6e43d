import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

export interface TrackingLocation {
  name: string | null;
  city: string | null;
  region: string | null;
  postalCode: string | null;
  country: string | null;
}

@Entity('tracking_event')
export class TrackingEvent {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column('uuid')
  tenantId: string;

  @Column('uuid')
  shipmentId: string;

  @Column('text')
  code: string;

  @Column('text', { nullable: true })
  description: string | null;

  @Column('jsonb', { nullable: true })
  location: TrackingLocation | null;

  @Column('timestamptz')
  occurredAt: Date;

  @Column('timestamptz', { nullable: true })
  eta: Date | null;

  @Column('timestamptz')
  createdAt: Date;
}
