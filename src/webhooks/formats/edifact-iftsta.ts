/**
 * UN/EDIFACT IFTSTA (International multimodal status report), directory D.01B, syntax UNOC
 * version 3, one interchange per event: UNA, UNB, UNH, BGM, DTM, NAD consignor and consignee,
 * CNI with one status group (STS, RFF references, DTM status time and ETA, FTX for an
 * exception's reason, LOC where the event happened), UNT, UNZ.
 */
import type { ShipmentEnvelope } from './shipment-envelope.js';

export interface EdifactOptions {
  senderId: string;
  receiverId: string;
  usageIndicator?: 'T' | 'P';
}

/**
 * Shipment status → STS status code (C555 4405, from UN/ECE Recommendation 24). 13, 21 and 31
 * are the codes GS1's D.01B IFTSTA subset lists; 6 and 7 are Rec 24's "booked" and "booking
 * cancelled" as first published. For returned and exception we found no Rec 24 entry we could
 * vouch for, so they go out as mutually defined codes (agency ZZZ) rather than a guessed number.
 * The status name rides beside every code in C555 4404. See the README.
 */
export const EDIFACT_STATUS_CODES: Record<string, string> = {
  booked: '6',
  picked_up: '13',
  in_transit: '31',
  out_for_delivery: '31',
  delivered: '21',
  cancelled: '7',
  returned: 'RET',
  exception: 'EXC',
};
const MUTUALLY_DEFINED = new Set(['RET', 'EXC']);
/** A tracking event is reported as en route; a new ETA rides along as DTM 17 (delivery date/time, estimated). */
export const EDIFACT_TRACKING_CODE = '31';
export const EDIFACT_EVENT_TYPES = ['shipment.status_changed', 'shipment.tracking_updated'];

/** UNB sender and recipient identification (0004/0010, an..35) in characters every receiver reads alike. */
const ID = /^[A-Za-z0-9./-]([A-Za-z0-9 ./-]{0,33}[A-Za-z0-9./-])?$/;

export function edifactOptionsProblems(options: unknown): Array<{ field: string; message: string }> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    return [{ field: 'payloadOptions', message: 'must be { senderId, receiverId, usageIndicator? }' }];
  }
  const o = options as Record<string, unknown>;
  const problems: Array<{ field: string; message: string }> = [];
  for (const key of Object.keys(o)) {
    if (!['senderId', 'receiverId', 'usageIndicator'].includes(key))
      problems.push({ field: `payloadOptions.${key}`, message: 'is not a known field' });
  }
  for (const key of ['senderId', 'receiverId']) {
    if (typeof o[key] !== 'string' || !ID.test(o[key] as string)) {
      problems.push({
        field: `payloadOptions.${key}`,
        message:
          'must be 1 to 35 letters, digits, spaces, dots, dashes or slashes, not starting or ending with a space',
      });
    }
  }
  if (o.usageIndicator !== undefined && o.usageIndicator !== 'T' && o.usageIndicator !== 'P') {
    problems.push({ field: 'payloadOptions.usageIndicator', message: 'must be T (test) or P (production)' });
  }
  return problems;
}

/**
 * Text as UNOC reads it whatever the receiver decodes the bytes as: printable ASCII (accents
 * dropped, other characters as ?), cut to the element's length, then the service characters
 * released with `?`.
 */
export function edifactText(value: unknown, maxLength: number): string {
  const ascii = String(value ?? '')
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replaceAll('ß', 'ss')
    // eslint-disable-next-line no-control-regex -- control characters are what this strips
    .replace(/[\u0000-\u001f\u007f]+/g, ' ')
    .replace(/[^\u0020-\u007e]/g, '?')
    .trim();
  return ascii.slice(0, maxLength).replace(/[?+:']/g, (c) => `?${c}`);
}

const yymmdd = (d: Date) => d.toISOString().slice(2, 10).replaceAll('-', '');
const hhmm = (d: Date) => d.toISOString().slice(11, 16).replace(':', '');
/** DTM C507 in format 203: CCYYMMDDHHMM, in UTC. */
const dtm = (qualifier: string, d: Date) => [qualifier, d.toISOString().slice(0, 16).replace(/[-T:]/g, ''), '203'];

/** Service string advice: the default separators, stated so no receiver has to assume them. */
const UNA = "UNA:+.? '";

/** One segment from already escaped components, trailing empty components and elements left out. */
function segment(tag: string, elements: string[][]): string {
  const trimmed = elements.map((components) => {
    const kept = [...components];
    while (kept.length > 0 && kept.at(-1) === '') kept.pop();
    return kept.join(':');
  });
  while (trimmed.length > 0 && trimmed.at(-1) === '') trimmed.pop();
  return `${[tag, ...trimmed].join('+')}'`;
}

/**
 * The IFTSTA interchange for one shipment envelope. `controlNumber` is the subscription's next
 * interchange number (UNB/UNZ 0020); `now` dates the interchange. Everything else comes from the
 * envelope, so a preview differs from the push only in those.
 */
export function renderEdifactIftsta(
  envelope: ShipmentEnvelope,
  options: EdifactOptions,
  controlNumber: number,
  now: Date,
): string {
  const data = envelope.data;
  const text = (value: unknown, maxLength = 35) => edifactText(value, maxLength);
  const segments: string[] = [];
  const add = (tag: string, ...elements: string[][]) => segments.push(segment(tag, elements));

  add('UNH', ['1'], ['IFTSTA', 'D', '01B', 'UN']);
  add('BGM', ['23'], [text(envelope.id)], ['9']);
  add('DTM', dtm('137', new Date(envelope.createdAt)));
  for (const [party, address] of [
    ['CZ', data.origin],
    ['CN', data.destination],
  ] as const) {
    if (!address) continue;
    add(
      'NAD',
      [party],
      [],
      [],
      [text(address.name)],
      [text(address.street)],
      [text(address.city)],
      [],
      [text(address.postalCode, 17)],
      [text(address.country, 3)],
    );
  }
  add('CNI', ['1'], [text(data.shipmentNumber)]);

  const tracking = envelope.type === 'shipment.tracking_updated' ? data.trackingEvent : null;
  const code = tracking ? EDIFACT_TRACKING_CODE : (EDIFACT_STATUS_CODES[data.status ?? ''] ?? EDIFACT_TRACKING_CODE);
  add(
    'STS',
    ['1'],
    [
      code,
      '',
      MUTUALLY_DEFINED.has(code) ? 'ZZZ' : '',
      text(tracking ? (tracking.description ?? tracking.code) : data.status),
    ],
  );
  if (data.order?.orderNumber) add('RFF', ['CU', text(data.order.orderNumber, 70)]);
  if (data.order?.externalRef) add('RFF', ['CR', text(data.order.externalRef, 70)]);
  if (data.trackingNumber) add('RFF', ['CN', text(data.trackingNumber, 70)]);
  const moment =
    tracking?.occurredAt ??
    (data.status === 'picked_up' ? data.actualPickupAt : data.status === 'delivered' ? data.actualDeliveryAt : null);
  add('DTM', dtm('334', new Date(moment ?? envelope.createdAt)));
  if (tracking?.eta) add('DTM', dtm('17', new Date(tracking.eta)));
  if (!tracking && data.status === 'exception' && data.statusReason)
    add('FTX', ['AAI'], [], [], [text(data.statusReason, 512)]);
  // In the status group LOC comes after FTX (D.01B: STS, RFF, DTM, DOC, FTX, NAD, LOC, PCI).
  const location = tracking?.location;
  const place = [location?.name, location?.city, location?.postalCode, location?.country].filter(Boolean).join(', ');
  if (place) add('LOC', ['175'], ['', '', '', text(place, 256)]);
  add('UNT', [String(segments.length + 1)], ['1']);

  const reference = String(controlNumber);
  const unb = [
    ['UNOC', '3'],
    [text(options.senderId)],
    [text(options.receiverId)],
    [yymmdd(now), hhmm(now)],
    [reference],
  ];
  if (options.usageIndicator === 'T') unb.push([], [], [], [], [], ['1']);
  return [UNA, segment('UNB', unb), ...segments, segment('UNZ', [['1'], [reference]])].join('');
}
