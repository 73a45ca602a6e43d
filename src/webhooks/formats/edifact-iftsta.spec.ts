import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { catalogEntry } from '../../events/event-catalog.js';
import { edifactOptionsProblems, edifactText, renderEdifactIftsta } from './edifact-iftsta.js';
import type { EnvelopeShipment, ShipmentEnvelope } from './shipment-envelope.js';

const { Reader } = createRequire(import.meta.url)('edifact') as {
  Reader: new () => { parse(edi: string): Array<{ name: string; elements: string[][] }> };
};

const OPTIONS = { senderId: 'WAYBILL', receiverId: 'ACME ERP' };
const NOW = new Date('2026-11-25T14:15:00.000Z');
const example = (
  type: 'shipment.status_changed' | 'shipment.tracking_updated',
  data: Partial<EnvelopeShipment> = {},
): ShipmentEnvelope => {
  const envelope = catalogEntry(type).example as ShipmentEnvelope;
  return { ...envelope, data: { ...envelope.data, ...data } };
};
const parse = (edi: string) => new Reader().parse(edi);
const find = (segments: Array<{ name: string; elements: string[][] }>, name: string, qualifier?: string) =>
  segments.find((s) => s.name === name && (qualifier === undefined || s.elements[0][0] === qualifier));

describe('edifactText', () => {
  it('releases the service characters with ?', () => {
    expect(edifactText("A+B:C'D?E", 35)).toBe("A?+B?:C?'D??E");
  });

  it('cuts to the element length before releasing, so a release character never dangles', () => {
    expect(edifactText('ABCD+', 5)).toBe('ABCD?+');
    expect(edifactText('ABCDE+', 5)).toBe('ABCDE');
  });

  it('sends printable ASCII only: accents dropped, line breaks as spaces, the rest as ?', () => {
    expect(edifactText('Müller Straße\nHof 3 €', 35)).toBe('Muller Strasse Hof 3 ??');
  });
});

describe('renderEdifactIftsta', () => {
  it('renders an interchange the edifact parser reads, with UNT counting UNH to UNT and matching references', () => {
    const edi = renderEdifactIftsta(example('shipment.status_changed'), OPTIONS, 42, NOW);
    expect(edi.startsWith("UNA:+.? 'UNB+UNOC:3+WAYBILL+ACME ERP+261125:1415+42'")).toBe(true);
    const segments = parse(edi);
    const unh = segments.findIndex((s) => s.name === 'UNH');
    const unt = segments.findIndex((s) => s.name === 'UNT');
    expect(segments[unh].elements[1]).toEqual(['IFTSTA', 'D', '01B', 'UN']);
    expect(Number(segments[unt].elements[0][0])).toBe(unt - unh + 1);
    expect(segments[unt].elements[1][0]).toBe(segments[unh].elements[0][0]);
    expect(find(segments, 'UNZ')!.elements).toEqual([['1'], ['42']]);
    expect(segments.map((s) => s.name)).toEqual([
      'UNB',
      'UNH',
      'BGM',
      'DTM',
      'NAD',
      'NAD',
      'CNI',
      'STS',
      'RFF',
      'RFF',
      'RFF',
      'DTM',
      'UNT',
      'UNZ',
    ]);
  });

  it('maps the shipment: parties, consignment, status, references and status time', () => {
    const envelope = example('shipment.status_changed', {
      status: 'picked_up',
      actualPickupAt: '2026-11-23T08:42:00.000Z',
    });
    const segments = parse(renderEdifactIftsta(envelope, OPTIONS, 1, NOW));
    expect(find(segments, 'BGM')!.elements).toEqual([['23'], [envelope.id], ['9']]);
    expect(find(segments, 'DTM', '137')!.elements[0]).toEqual(['137', '202611230905', '203']);
    expect(find(segments, 'NAD', 'CZ')!.elements).toEqual([
      ['CZ'],
      [''],
      [''],
      ['Waybill DC Hamburg'],
      ['Am Kaiserkai 1'],
      ['Hamburg'],
      [''],
      ['20457'],
      ['DE'],
    ]);
    expect(find(segments, 'NAD', 'CN')!.elements[3]).toEqual(['Acme Store Munich']);
    expect(find(segments, 'CNI')!.elements).toEqual([['1'], ['SH-20017']]);
    expect(find(segments, 'STS')!.elements).toEqual([['1'], ['13', '', '', 'picked_up']]);
    expect(segments.filter((s) => s.name === 'RFF').map((s) => s.elements[0])).toEqual([
      ['CU', envelope.data.order?.orderNumber],
      ['CR', 'PO-88231'],
      ['CN', 'JJD0099912345'],
    ]);
    expect(find(segments, 'DTM', '334')!.elements[0]).toEqual(['334', '202611230842', '203']);
  });

  it('reports an exception as a mutually defined code with its reason in FTX, escaped', () => {
    const envelope = example('shipment.status_changed', {
      status: 'exception',
      statusReason: "Consignee closed: dock 4's gate +2h?",
    });
    const edi = renderEdifactIftsta(envelope, OPTIONS, 7, NOW);
    expect(edi).toContain("FTX+AAI+++Consignee closed?: dock 4?'s gate ?+2h??'");
    const segments = parse(edi);
    expect(find(segments, 'STS')!.elements[1]).toEqual(['EXC', '', 'ZZZ', 'exception']);
    expect(find(segments, 'FTX')!.elements[3]).toEqual(["Consignee closed: dock 4's gate +2h?"]);
    const names = segments.map((s) => s.name);
    expect(names.indexOf('FTX')).toBeGreaterThan(names.lastIndexOf('DTM'));
  });

  it('reports a tracking event as en route with its place, time and new ETA', () => {
    const segments = parse(renderEdifactIftsta(example('shipment.tracking_updated'), OPTIONS, 3, NOW));
    expect(find(segments, 'STS')!.elements[1]).toEqual(['31', '', '', 'Arrived at hub Nuremberg']);
    expect(find(segments, 'DTM', '334')!.elements[0]).toEqual(['334', '202611242117', '203']);
    expect(find(segments, 'DTM', '17')!.elements[0]).toEqual(['17', '202611251430', '203']);
    expect(find(segments, 'LOC')!.elements).toEqual([['175'], ['', '', '', 'Hub Nuremberg, Nuremberg, 90451, DE']]);
    expect(segments.map((s) => s.name).slice(-3)).toEqual(['LOC', 'UNT', 'UNZ']);
  });

  it('marks a test interchange in UNB 0035 and leaves it out in production', () => {
    const envelope = example('shipment.status_changed');
    const test = parse(renderEdifactIftsta(envelope, { ...OPTIONS, usageIndicator: 'T' }, 5, NOW))[0];
    expect(test.elements[10]).toEqual(['1']);
    expect(test.elements).toHaveLength(11);
    for (const usageIndicator of ['P', undefined] as const) {
      expect(parse(renderEdifactIftsta(envelope, { ...OPTIONS, usageIndicator }, 5, NOW))[0].elements).toHaveLength(5);
    }
  });

  it('leaves out the parties and references the shipment does not have', () => {
    const envelope = example('shipment.status_changed', {
      origin: null,
      destination: null,
      order: null,
      trackingNumber: null,
    });
    const names = parse(renderEdifactIftsta(envelope, OPTIONS, 1, NOW)).map((s) => s.name);
    expect(names).toEqual(['UNB', 'UNH', 'BGM', 'DTM', 'CNI', 'STS', 'DTM', 'UNT', 'UNZ']);
  });
});

describe('edifactOptionsProblems', () => {
  it('accepts { senderId, receiverId } with an optional usageIndicator', () => {
    expect(edifactOptionsProblems(OPTIONS)).toEqual([]);
    expect(edifactOptionsProblems({ ...OPTIONS, usageIndicator: 'T' })).toEqual([]);
    expect(
      edifactOptionsProblems({ senderId: '4012345000009', receiverId: 'A'.repeat(35), usageIndicator: 'P' }),
    ).toEqual([]);
  });

  it('names each bad field by its path', () => {
    const problems = edifactOptionsProblems({
      senderId: 'A'.repeat(36),
      receiverId: "ACME+ERP'",
      usageIndicator: 'X',
      elementSeparator: '*',
    });
    expect(problems.map((p) => p.field)).toEqual([
      'payloadOptions.elementSeparator',
      'payloadOptions.senderId',
      'payloadOptions.receiverId',
      'payloadOptions.usageIndicator',
    ]);
    expect(edifactOptionsProblems({ senderId: ' WAYBILL', receiverId: '' }).map((p) => p.field)).toEqual([
      'payloadOptions.senderId',
      'payloadOptions.receiverId',
    ]);
    expect(edifactOptionsProblems(null)).toEqual([
      { field: 'payloadOptions', message: 'must be { senderId, receiverId, usageIndicator? }' },
    ]);
  });
});
