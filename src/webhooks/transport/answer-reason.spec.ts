import { describe, expect, it } from 'vitest';
import { oneLine, REASON_MAX_LENGTH, reasonOf } from './answer-reason.js';

const answer = (status: number, body: string, contentType?: string) =>
  reasonOf({
    responseStatus: status,
    responseHeaders: contentType ? { 'content-type': contentType } : {},
    responseBody: body,
  });

describe('reasonOf', () => {
  it('reads an RFC 9457 problem: detail, else title', () => {
    const body = JSON.stringify({
      type: 'https://erp.example.com/problems/unknown-customer',
      title: 'Unknown customer',
      status: 422,
      detail: 'Customer C-9 does not exist in company code 1000',
    });
    expect(answer(422, body, 'application/problem+json')).toBe('Customer C-9 does not exist in company code 1000');
    expect(answer(400, JSON.stringify({ type: 'about:blank', title: 'Bad Request', status: 400 }))).toBe('Bad Request');
  });

  it('reads OData v4 and v2 errors, JSON and XML', () => {
    expect(
      answer(
        400,
        JSON.stringify({ error: { code: '0x80040217', message: 'account With Id = 42 Does Not Exist', details: [] } }),
        'application/json; odata.metadata=minimal',
      ),
    ).toBe('account With Id = 42 Does Not Exist');
    expect(
      answer(
        400,
        JSON.stringify({
          error: { code: 'SY/530', message: { lang: 'en', value: 'Material MAT-1 is not maintained' }, innererror: {} },
        }),
      ),
    ).toBe('Material MAT-1 is not maintained');
    expect(
      answer(400, JSON.stringify({ 'odata.error': { code: '', message: { lang: 'en-US', value: 'Bad key' } } })),
    ).toBe('Bad key');
    const sapXml = `<?xml version="1.0" encoding="utf-8"?><error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><code>ZSD/001</code><message xml:lang="en">Sales order 4711 is locked by user &quot;BATCH&quot;</message><innererror/></error>`;
    expect(answer(500, sapXml, 'application/xml')).toBe('Sales order 4711 is locked by user "BATCH"');
  });

  it('reads SOAP 1.1 and 1.2 faults', () => {
    const soap11 = `<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>
      <faultcode>soap:Client</faultcode><faultstring xml:lang="en">Invalid shipment number SH-1 &amp; carrier</faultstring>
      </soap:Fault></soap:Body></soap:Envelope>`;
    expect(answer(500, soap11, 'text/xml; charset=utf-8')).toBe('Invalid shipment number SH-1 & carrier');
    const soap12 = `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body><env:Fault>
      <env:Code><env:Value>env:Sender</env:Value></env:Code>
      <env:Reason><env:Text xml:lang="en"><![CDATA[Plant 1000 closed]]></env:Text></env:Reason>
      </env:Fault></env:Body></env:Envelope>`;
    expect(answer(500, soap12, 'application/soap+xml')).toBe('Plant 1000 closed');
  });

  it('reads plain JSON message, error_description, error and errors[]', () => {
    expect(answer(400, JSON.stringify({ message: 'customer C-9 unknown', code: 17 }))).toBe('customer C-9 unknown');
    expect(answer(401, JSON.stringify({ error: 'invalid_token', error_description: 'The token expired' }))).toBe(
      'The token expired',
    );
    expect(answer(403, JSON.stringify({ error: 'forbidden' }))).toBe('forbidden');
    expect(answer(500, JSON.stringify({ Message: 'An error has occurred.' }))).toBe('An error has occurred.');
    expect(answer(400, JSON.stringify({ errors: [{ message: 'orderNumber is required' }, { message: 'x' }] }))).toBe(
      'orderNumber is required',
    );
    expect(answer(400, JSON.stringify([{ message: 'first of a list' }]))).toBe('first of a list');
  });

  it('falls back to the status line when JSON names no reason, and for an empty body', () => {
    expect(answer(200, JSON.stringify({ received: true }))).toBe('200 OK');
    expect(answer(503, '')).toBe('503 Service Unavailable');
    expect(answer(204, '')).toBe('204 No Content');
    expect(answer(599, '')).toBe('599 Unknown Status');
  });

  it("takes an HTML page's title, else its first line of text", () => {
    expect(
      answer(
        502,
        '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>',
        'text/html',
      ),
    ).toBe('502 Bad Gateway');
    expect(answer(500, '<html><body><p>Database   down</p><p>retry later</p></body></html>', 'text/html')).toBe(
      'Database down',
    );
  });

  it('takes the first non-empty line of text', () => {
    expect(
      answer(500, '\n\n  Internal error: NullPointerException\n\tat com.erp.Inbound.handle(Inbound.java:42)\n'),
    ).toBe('Internal error: NullPointerException');
    expect(answer(400, '{not json at all', 'application/json')).toBe('{not json at all');
  });

  it('uses the error message when nothing answered', () => {
    expect(reasonOf({ responseStatus: null, errorMessage: 'connect ECONNREFUSED 127.0.0.1:9' })).toBe(
      'connect ECONNREFUSED 127.0.0.1:9',
    );
    expect(reasonOf({ responseStatus: null, errorMessage: null })).toBe('no answer');
  });

  it('is always one bounded line, cut on a code-point boundary', () => {
    const long = `${'é'.repeat(10)}${'😀'.repeat(REASON_MAX_LENGTH)}`;
    const reason = answer(400, JSON.stringify({ message: `line one\nline two\r\n${long}` }));
    expect(reason).not.toMatch(/[\r\n\t]/);
    expect(Array.from(reason)).toHaveLength(REASON_MAX_LENGTH);
    expect(reason.endsWith('…')).toBe(true);
    expect(() => encodeURIComponent(reason)).not.toThrow(); // throws on a lone surrogate
    expect(oneLine('a\u0000b\u2028c\u0085d')).toBe('a b c d');
  });

  it('never holds a lone surrogate (PostgreSQL refuses it in json and would fail the whole batch of outcomes)', () => {
    const wellFormed = (reason: string) => expect(() => encodeURIComponent(reason)).not.toThrow();
    // A JSON escape and an XML character reference are the two ways a body can spell half a pair.
    wellFormed(answer(400, '{"message":"customer \\ud800 unknown"}'));
    wellFormed(answer(400, '{"detail":"\\udc00\\ud83d"}', 'application/problem+json'));
    wellFormed(answer(500, '<faultstring>bad &#xD800; value &#55296;</faultstring>', 'text/xml'));
    expect(answer(400, '{"message":"a \\ud800 b"}')).toBe('a b');
    expect(answer(400, '{"message":"pair \\ud83d\\ude00 kept"}')).toBe('pair 😀 kept');
    wellFormed(oneLine('x\ud800'));
  });

  it('reads a body of unclosed tags as text (the parser stays linear: no tag is searched for twice)', () => {
    const body = `<a:Fault>${'<a:faultstring '.repeat(1100)}`;
    const reason = answer(500, body, 'text/xml');
    expect(reason.startsWith('<a:faultstring <a:faultstring')).toBe(true);
    expect(Array.from(reason)).toHaveLength(REASON_MAX_LENGTH);
  });
});
