import { describe, expect, it } from 'vitest';
import { MAX_FILTER_KEYS, MAX_FILTER_VALUES, filterProblems, matchesEventTypes, matchesFilters } from './filters.js';

const shipment = {
  id: 'shp_1',
  weightKg: 42,
  hazardous: false,
  carrier: { scac: 'DHLF', name: 'DHL Freight' },
  order: { customer: { ref: 'C-42' } },
  packages: [
    { reference: 'PKG-1', dims: { lengthCm: 120 } },
    { reference: 'PKG-2', dims: { lengthCm: 80 } },
  ],
  tags: ['fragile', 'express'],
  note: null,
};

describe('matchesFilters', () => {
  it('matches when the value at a dotted path is one of the listed values', () => {
    expect(matchesFilters({ 'carrier.scac': ['UPSN', 'DHLF'] }, shipment)).toBe(true);
    expect(matchesFilters({ 'carrier.scac': ['UPSN'] }, shipment)).toBe(false);
  });

  it('matches an empty filter set against anything', () => {
    expect(matchesFilters({}, shipment)).toBe(true);
    expect(matchesFilters({}, null)).toBe(true);
  });

  it('requires every path to match', () => {
    expect(matchesFilters({ 'carrier.scac': ['DHLF'], 'order.customer.ref': ['C-42'] }, shipment)).toBe(true);
    expect(matchesFilters({ 'carrier.scac': ['DHLF'], 'order.customer.ref': ['C-7'] }, shipment)).toBe(false);
  });

  it('compares as strings: a number in the data matches its string form and vice versa', () => {
    expect(matchesFilters({ weightKg: ['42'] }, shipment)).toBe(true);
    expect(matchesFilters({ weightKg: [42] }, shipment)).toBe(true);
    expect(matchesFilters({ weightKg: ['42.0'] }, shipment)).toBe(false);
    expect(matchesFilters({ id: ['shp_1'] }, { id: 'shp_1' })).toBe(true);
    expect(matchesFilters({ code: [7] }, { code: '7' })).toBe(true);
  });

  it('compares booleans as strings', () => {
    expect(matchesFilters({ hazardous: [false] }, shipment)).toBe(true);
    expect(matchesFilters({ hazardous: ['false'] }, shipment)).toBe(true);
    expect(matchesFilters({ hazardous: [true] }, shipment)).toBe(false);
  });

  it('is case-sensitive', () => {
    expect(matchesFilters({ 'carrier.scac': ['dhlf'] }, shipment)).toBe(false);
  });

  it('does not match a missing path', () => {
    expect(matchesFilters({ 'carrier.code': ['DHLF'] }, shipment)).toBe(false);
    expect(matchesFilters({ 'customs.broker.id': ['1'] }, shipment)).toBe(false);
    expect(matchesFilters({ 'id.length': ['5'] }, shipment)).toBe(false);
  });

  it('does not match null or undefined, even against the strings "null" and "undefined"', () => {
    expect(matchesFilters({ note: ['null'] }, shipment)).toBe(false);
    expect(matchesFilters({ gone: ['undefined'] }, { gone: undefined })).toBe(false);
    expect(matchesFilters({ 'note.text': ['x'] }, shipment)).toBe(false);
  });

  it('does not match an object at the path, even against its string form', () => {
    expect(matchesFilters({ carrier: ['[object Object]'] }, shipment)).toBe(false);
  });

  it('matches an array along the path when any element matches (packages.reference)', () => {
    expect(matchesFilters({ 'packages.reference': ['PKG-2'] }, shipment)).toBe(true);
    expect(matchesFilters({ 'packages.reference': ['PKG-3'] }, shipment)).toBe(false);
    expect(matchesFilters({ 'packages.dims.lengthCm': ['80'] }, shipment)).toBe(true);
  });

  it('matches an array at the path when any element matches', () => {
    expect(matchesFilters({ tags: ['express'] }, shipment)).toBe(true);
    expect(matchesFilters({ tags: ['bulky'] }, shipment)).toBe(false);
  });

  it('matches through nested arrays', () => {
    const data = { legs: [{ stops: [{ code: 'HAM' }, { code: 'BER' }] }, { stops: [{ code: 'MUC' }] }] };
    expect(matchesFilters({ 'legs.stops.code': ['MUC'] }, data)).toBe(true);
    expect(matchesFilters({ 'legs.stops.code': ['FRA'] }, data)).toBe(false);
  });

  it('does not match when the data is not an object', () => {
    expect(matchesFilters({ id: ['1'] }, null)).toBe(false);
    expect(matchesFilters({ id: ['1'] }, '1')).toBe(false);
    expect(matchesFilters({ id: ['1'] }, undefined)).toBe(false);
  });
});

describe('filterProblems', () => {
  it('finds no problem in a well-formed filters object', () => {
    expect(
      filterProblems({ 'carrier.scac': ['DHLF'], 'order.customer.ref': ['C-42', 7, true], weight_kg: [1] }),
    ).toEqual([]);
    expect(filterProblems({})).toEqual([]);
  });

  it.each([[null], [undefined], ['carrier.scac=DHLF'], [42], [[['carrier.scac', ['DHLF']]]]])(
    'refuses the non-object %j',
    (value) => {
      expect(filterProblems(value)).toEqual([
        'must be an object mapping a dotted path in the event data to a list of values',
      ]);
    },
  );

  it.each([['carrier..scac'], ['.carrier'], ['carrier.'], ['carrier scac'], ['carrier-scac'], ['carrier[0]'], ['']])(
    'refuses the path %j',
    (path) => {
      expect(filterProblems({ [path]: ['x'] })).toEqual([`"${path}" is not a dotted path such as carrier.scac`]);
    },
  );

  it('refuses an empty list of values', () => {
    expect(filterProblems({ 'carrier.scac': [] })).toEqual([
      `"carrier.scac" must list 1 to ${MAX_FILTER_VALUES} values`,
    ]);
  });

  it('refuses values that are not a list', () => {
    expect(filterProblems({ 'carrier.scac': 'DHLF' })).toEqual([
      `"carrier.scac" must list 1 to ${MAX_FILTER_VALUES} values`,
    ]);
  });

  it('refuses more than the maximum number of values', () => {
    expect(filterProblems({ id: Array.from({ length: MAX_FILTER_VALUES }, (_, i) => i) })).toEqual([]);
    expect(filterProblems({ id: Array.from({ length: MAX_FILTER_VALUES + 1 }, (_, i) => i) })).toEqual([
      `"id" must list 1 to ${MAX_FILTER_VALUES} values`,
    ]);
  });

  it.each([[null], [{ scac: 'DHLF' }], [['DHLF']], [undefined]])('refuses the non-scalar value %j', (value) => {
    expect(filterProblems({ 'carrier.scac': ['DHLF', value] })).toEqual([
      '"carrier.scac" values must be strings, numbers or booleans',
    ]);
  });

  it('refuses more than the maximum number of paths', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_FILTER_KEYS + 1 }, (_, i) => [`p${i}`, ['x']]));
    expect(filterProblems(many)).toEqual([`may have at most ${MAX_FILTER_KEYS} paths`]);
    const enough = Object.fromEntries(Array.from({ length: MAX_FILTER_KEYS }, (_, i) => [`p${i}`, ['x']]));
    expect(filterProblems(enough)).toEqual([]);
  });

  it('reports every problem at once', () => {
    expect(filterProblems({ 'bad path': [], ok: [{}] })).toEqual([
      '"bad path" is not a dotted path such as carrier.scac',
      `"bad path" must list 1 to ${MAX_FILTER_VALUES} values`,
      '"ok" values must be strings, numbers or booleans',
    ]);
  });
});

describe('matchesEventTypes', () => {
  it('matches a listed event type only', () => {
    expect(matchesEventTypes(['order.created', 'shipment.delivered'], 'order.created')).toBe(true);
    expect(matchesEventTypes(['order.created', 'shipment.delivered'], 'order.cancelled')).toBe(false);
  });

  it('matches every domain event type with *', () => {
    expect(matchesEventTypes(['*'], 'order.created')).toBe(true);
    expect(matchesEventTypes(['order.created', '*'], 'shipment.delivered')).toBe(true);
  });

  it('matches operational events only by name: * does not include them', () => {
    for (const type of ['webhook.failing', 'webhook.disabled', 'webhook.recovered', 'delivery.failed']) {
      expect(matchesEventTypes(['*'], type)).toBe(false);
      expect(matchesEventTypes(['*', type], type)).toBe(true);
    }
    expect(matchesEventTypes(['webhook.disabled'], 'webhook.failing')).toBe(false);
  });

  it('matches nothing with an empty list', () => {
    expect(matchesEventTypes([], 'order.created')).toBe(false);
  });

  it('does not treat a prefix as a wildcard', () => {
    expect(matchesEventTypes(['order'], 'order.created')).toBe(false);
    expect(matchesEventTypes(['order.*'], 'order.created')).toBe(false);
  });
});
