import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * Checks each answer of the e2e suites against the OpenAPI document the app serves: the status
 * must be listed for that operation, the content type must be one it names, and a JSON body must
 * match its schema. A drift between the API and its document fails the test that saw it.
 */
type Document = {
  paths: Record<string, Record<string, { responses: Record<string, Response> }>>;
  components: unknown;
};
type Response = { content?: Record<string, { schema: unknown }> };

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

export class ContractChecker {
  private readonly ajv = new Ajv2020({ allErrors: true, strict: false });
  private readonly routes: Array<{ pattern: RegExp; template: string }>;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(private readonly document: Document) {
    (addFormats as unknown as (a: Ajv2020) => void)(this.ajv);
    // The document's refs are local (#/components/…); under an $id they resolve from any schema.
    const rooted = JSON.parse(
      JSON.stringify({ $id: 'openapi', components: document.components }).replaceAll(
        '"#/components/',
        '"openapi#/components/',
      ),
    );
    this.ajv.addSchema(rooted);
    this.routes = Object.keys(document.paths).map((template) => ({
      template,
      // Routing ignores a trailing slash and letter case (src/app.ts).
      pattern: new RegExp(`^${template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}/?$`, 'i'),
    }));
  }

  /** Problems with one answer (empty when the document describes it). */
  problems(method: string, url: string, status: number, contentType: string | null, body: unknown): string[] {
    const verb = method.toLowerCase();
    if (!METHODS.has(verb)) return [];
    const path = new URL(url, 'http://x').pathname;
    const route = this.routes.find((r) => r.pattern.test(path));
    const where = `${method} ${path} → ${status}`;
    if (!route) {
      // Unknown routes answer 404; anything else is a route the document does not describe.
      return status === 404 || !path.startsWith('/v1') ? [] : [`${where}: the route is not in the OpenAPI document`];
    }
    const operation = this.document.paths[route.template][verb];
    if (!operation) return status === 404 ? [] : [`${where}: ${verb} ${route.template} is not in the OpenAPI document`];
    const response = operation.responses[String(status)] ?? operation.responses[`${String(status)[0]}XX`];
    if (!response) {
      const listed = Object.keys(operation.responses).join(', ');
      return [`${where}: status ${status} is not documented for ${verb} ${route.template} (listed: ${listed})`];
    }
    if (!response.content) {
      return body === undefined || body === '' ? [] : [`${where}: the document says no body, the API sent one`];
    }
    const type = (contentType ?? '').split(';')[0].trim();
    const media = response.content[type];
    if (!media)
      return [`${where}: content type ${type || '(none)'} is not one of ${Object.keys(response.content).join(', ')}`];
    if (!/json/.test(type)) return typeof body === 'string' ? [] : [`${where}: expected text`];
    const key = `${verb} ${route.template} ${status} ${type}`;
    let validate = this.validators.get(key);
    if (!validate) {
      const schema = JSON.parse(JSON.stringify(media.schema).replaceAll('"#/components/', '"openapi#/components/'));
      validate = this.ajv.compile(schema);
      this.validators.set(key, validate);
    }
    if (validate(body)) return [];
    return (validate.errors ?? [])
      .slice(0, 10)
      .map((e) => `${where}: body${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  }
}
