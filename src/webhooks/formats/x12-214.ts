/**
 * ANSI ASC X12 004010 214 (Transportation Carrier Shipment Status Message), one interchange per
 * event: ISA/GS/ST, B10, L11 references, N1/N3/N4 ship-from and ship-to, LX/AT7 status with date
 * and time, MS1 location and AT8 weight where known, K1 for an exception's reason, SE/GE/IEA.
 */
import type { ShipmentEnvelope } from './shipment-envelope.js';

export interface X12Options {
  senderId: string;
  senderQualifier: string;
  receiverId: string;
  receiverQualifier: string;
  usageIndicator: 'T' | 'P';
  elementSeparator?: string;
  segmentTerminator?: string;
}

/** Shipment status → AT701 shipment status code (X12 code list 1650). */
export const X12_STATUS_CODES: Record<string, string> = {
  booked: 'XB',
  picked_up: 'AF',
  in_transit: 'X6',
  out_for_delivery: 'OD',
  delivered: 'D1',
  cancelled: 'CA',
  returned: 'A3',
  exception: 'SD',
};
/** A tracking event that carries a new ETA is reported as AG (estimated delivery). */
export const X12_ETA_CODE = 'AG';
export const X12_EVENT_TYPES = ['shipment.status_changed', 'shipment.tracking_updated'];

const ID = /^[A-Za-z0-9 .-]{1,15}$/;
const QUALIFIER = /^[A-Za-z0-9]{2}$/;

export function x12OptionsProblems(options: unknown): Array<{ field: string; message: string }> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return [
      {
        field: 'payloadOptions',
        message:
          'must be { senderId, senderQualifier, receiverId, receiverQualifier, usageIndicator, elementSeparator?, segmentTerminator? }',
      },
    ];
  }
  const o = options as Record<string, unknown>;
  const problems: Array<{ field: string; message: string }> = [];
  const known = [
    'senderId',
    'senderQualifier',
    'receiverId',
    'receiverQualifier',
    'usageIndicator',
    'elementSeparator',
    'segmentTerminator',
  ];
  for (const key of Object.keys(o))
    if (!known.includes(key)) problems.push({ field: `payloadOptions.${key}`, message: 'is not a known field' });
  for (const key of ['senderId', 'receiverId']) {
    if (typeof o[key] !== 'string' || !ID.test(o[key] as string))
      problems.push({
        field: `payloadOptions.${key}`,
        message: 'must be 1 to 15 letters, digits, spaces, dots or dashes',
      });
  }
  for (const key of ['senderQualifier', 'receiverQualifier']) {
    if (typeof o[key] !== 'string' || !QUALIFIER.test(o[key] as string))
      problems.push({ field: `payloadOptions.${key}`, message: 'must be a 2-character ID qualifier such as ZZ or 02' });
  }
  if (o.usageIndicator !== 'T' && o.usageIndicator !== 'P')
    problems.push({ field: 'payloadOptions.usageIndicator', message: 'must be T (test) or P (production)' });
  const separators = [o.elementSeparator ?? '*', o.segmentTerminator ?? '~'];
  for (const [i, key] of ['elementSeparator', 'segmentTerminator'].entries()) {
    const value = separators[i];
    if (typeof value !== 'string' || value.length !== 1 || /[A-Za-z0-9 ]/.test(value))
      problems.push({
        field: `payloadOptions.${key}`,
        message: 'must be one character that is not a letter, digit or space',
      });
  }
  if (separators[0] === separators[1])
    problems.push({ field: 'payloadOptions.segmentTerminator', message: 'must differ from the element separator' });
  return problems;
}

const pad = (value: string, width: number) => value.slice(0, width).padEnd(width, ' ');
const digits = (n: number, width: number) => String(n).padStart(width, '0');
const yymmdd = (d: Date) => d.toISOString().slice(2, 10).replaceAll('-', '');
const ccyymmdd = (d: Date) => d.toISOString().slice(0, 10).replaceAll('-', '');
const hhmm = (d: Date) => d.toISOString().slice(11, 16).replace(':', '');

/**
 * The 214 for one shipment envelope. `controlNumber` is the subscription's next interchange
 * number (ISA13/IEA02, GS06/GE02); `now` dates the interchange.
 */
export function renderX12214(
  envelope: ShipmentEnvelope,
  options: X12Options,
  controlNumber: number,
  now: Date,
): string {
  const e = options.elementSeparator ?? '*';
  const t = options.segmentTerminator ?? '~';
  const clean = (value: unknown) =>
    String(value ?? '')
      .replaceAll(e, ' ')
      .replaceAll(t, ' ')
      .replaceAll('>', ' ')
      .trim();
  const data = envelope.data;
  const segments: string[][] = [];
  const add = (...elements: unknown[]) => segments.push(elements.map(clean));

  add('ST', '214', '0001');
  add('B10', data.trackingNumber ?? data.shipmentNumber, data.shipmentNumber, data.carrier?.scac ?? '');
  if (data.order?.orderNumber) add('L11', data.order.orderNumber, 'PO');
  if (data.order?.externalRef) add('L11', data.order.externalRef, 'CR');
  if (data.trackingNumber) add('L11', data.trackingNumber, 'CN');
  for (const [code, address] of [
    ['SF', data.origin],
    ['ST', data.destination],
  ] as const) {
    if (!address) continue;
    add('N1', code, address.name ?? address.city);
    if (address.street) add('N3', address.street);
    add('N4', address.city, '', address.postalCode ?? '', address.country);
  }
  add('LX', '1');
  const tracking = envelope.type === 'shipment.tracking_updated' ? data.trackingEvent : null;
  if (tracking?.eta) {
    const eta = new Date(tracking.eta);
    add('AT7', X12_ETA_CODE, 'NS', '', '', ccyymmdd(eta), hhmm(eta), 'UT');
  } else {
    const status = tracking ? 'X6' : (X12_STATUS_CODES[data.status ?? ''] ?? 'X6');
    const moment =
      tracking?.occurredAt ??
      (data.status === 'picked_up' ? data.actualPickupAt : data.status === 'delivered' ? data.actualDeliveryAt : null);
    const at = new Date(moment ?? envelope.createdAt);
    const reason = data.status === 'exception' && !tracking ? 'BG' : 'NS';
    add('AT7', status, reason, '', '', ccyymmdd(at), hhmm(at), 'UT');
  }
  const location = tracking?.location;
  if (location?.city) add('MS1', location.city, location.region ?? '', location.country ?? '');
  const packages = data.packages ?? [];
  const weight = packages.reduce((sum, p) => sum + (p.weightKg ?? 0), 0);
  if (weight > 0) add('AT8', 'G', 'K', Math.round(weight * 10) / 10, packages.length);
  if (data.status === 'exception' && data.statusReason && !tracking) add('K1', String(data.statusReason).slice(0, 30));
  add('SE', String(segments.length + 1), '0001');

  const isa = [
    'ISA',
    '00',
    pad('', 10),
    '00',
    pad('', 10),
    pad(options.senderQualifier, 2),
    pad(options.senderId, 15),
    pad(options.receiverQualifier, 2),
    pad(options.receiverId, 15),
    yymmdd(now),
    hhmm(now),
    'U',
    '00401',
    digits(controlNumber, 9),
    '0',
    options.usageIndicator,
    '>',
  ];
  const gs = [
    'GS',
    'QM',
    options.senderId.trim(),
    options.receiverId.trim(),
    ccyymmdd(now),
    hhmm(now),
    String(controlNumber),
    'X',
    '004010',
  ];
  const all = [isa, gs, ...segments, ['GE', '1', String(controlNumber)], ['IEA', '1', digits(controlNumber, 9)]];
  return all.map((s) => s.join(e)).join(t) + t;
}
