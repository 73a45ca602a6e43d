import { describe, expect, it } from 'vitest';
import { MAX_CUSTOM_HEADERS, customHeaderProblems } from './custom-headers.js';

const singleLine = (name: string) => `"${name}" must have a single-line string value of at most 4096 characters`;
const reserved = (name: string) => `"${name}" is set by Waybill and cannot be overridden`;

describe('customHeaderProblems', () => {
  it('accepts ordinary custom headers such as X-ERP-Client', () => {
    expect(customHeaderProblems({ 'X-ERP-Client': 'sap-prod', 'X-Api-Key': 'abc.def.ghi' })).toEqual([]);
  });

  it('refuses Authorization in any case: receiver credentials belong in auth', () => {
    for (const name of ['Authorization', 'AUTHORIZATION'])
      expect(customHeaderProblems({ [name]: 'Bearer abc' })).toEqual([
        `"${name}" is reserved: receiver credentials belong in auth (basic, bearer or OAuth2)`,
      ]);
  });

  it('accepts no headers at all', () => {
    expect(customHeaderProblems({})).toEqual([]);
  });

  it.each([
    ['host'],
    ['Host'],
    ['content-length'],
    ['Content-Length'],
    ['connection'],
    ['transfer-encoding'],
    ['Transfer-Encoding'],
    ['keep-alive'],
    ['upgrade'],
    ['te'],
    ['user-agent'],
    ['User-Agent'],
    ['content-type'],
    ['Content-Type'],
    ['proxy-authorization'],
  ])('refuses the transport or Waybill-owned header %s', (name) => {
    expect(customHeaderProblems({ [name]: 'x' })).toEqual([reserved(name)]);
  });

  it.each([['webhook-id'], ['Webhook-Signature'], ['webhook-timestamp'], ['WEBHOOK-ANYTHING']])(
    'refuses %s, since every webhook-* header belongs to the signature scheme',
    (name) => {
      expect(customHeaderProblems({ [name]: 'x' })).toEqual([reserved(name)]);
    },
  );

  it('accepts a name that merely contains "webhook" without the webhook- prefix', () => {
    expect(customHeaderProblems({ 'X-Webhook-Source': 'erp' })).toEqual([]);
  });

  it.each([['X ERP'], ['X-ERP:'], [''], ['Ünïcode'], ['X-ERP\r\nInjected'], ['(comment)']])(
    'refuses the invalid header name %j',
    (name) => {
      expect(customHeaderProblems({ [name]: 'x' })).toEqual([`"${name}" is not a valid header name`]);
    },
  );

  it.each([['line\r\nX-Injected: 1'], ['line\nbreak'], ['carriage\rreturn'], ['nul\0byte']])(
    'refuses the multi-line or NUL value %j',
    (value) => {
      expect(customHeaderProblems({ 'X-ERP-Client': value })).toEqual([singleLine('X-ERP-Client')]);
    },
  );

  it('refuses a value that is not a string', () => {
    expect(customHeaderProblems({ 'X-Count': 3 })).toEqual([singleLine('X-Count')]);
    expect(customHeaderProblems({ 'X-List': ['a', 'b'] })).toEqual([singleLine('X-List')]);
    expect(customHeaderProblems({ 'X-Null': null })).toEqual([singleLine('X-Null')]);
  });

  it('accepts a value of 4096 characters and refuses one of 4097', () => {
    expect(customHeaderProblems({ 'X-Long': 'a'.repeat(4096) })).toEqual([]);
    expect(customHeaderProblems({ 'X-Long': 'a'.repeat(4097) })).toEqual([singleLine('X-Long')]);
  });

  it(`refuses more than ${MAX_CUSTOM_HEADERS} headers`, () => {
    const headers = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v']));
    expect(customHeaderProblems(headers(MAX_CUSTOM_HEADERS))).toEqual([]);
    expect(customHeaderProblems(headers(MAX_CUSTOM_HEADERS + 1))).toEqual([
      `may have at most ${MAX_CUSTOM_HEADERS} headers`,
    ]);
  });

  it.each([[null], [undefined], ['Authorization: x'], [[['Authorization', 'x']]]])(
    'refuses the non-object %j',
    (value) => {
      expect(customHeaderProblems(value)).toEqual(['must be an object of header names to string values']);
    },
  );

  it('reports a reserved name and a bad value for the same header together, and every header', () => {
    expect(customHeaderProblems({ Host: 'evil\r\n', 'X-Ok': 'fine', 'X-Bad': 1 })).toEqual([
      reserved('Host'),
      singleLine('Host'),
      singleLine('X-Bad'),
    ]);
  });
});
