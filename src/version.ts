/** The service's version, as sent in the User-Agent of every push and shown in the OpenAPI document. */
export const SERVICE_VERSION = '0.1.0';
