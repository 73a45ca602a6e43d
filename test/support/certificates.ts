import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export interface TestPki {
  /** The private CA an ERP's server and its trusted clients are signed by. */
  ca: KeyPair;
  /** The ERP's server certificate (localhost and 127.0.0.1), signed by the CA. */
  server: KeyPair;
  /** A client certificate the ERP trusts (signed by its CA). */
  client: KeyPair;
  /** A client certificate from a CA the ERP does not know. */
  strangerClient: KeyPair;
  /** A self-signed server certificate nobody trusts. */
  selfSigned: KeyPair;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Certificates made with the openssl CLI in a temporary folder, for loopback TLS servers in tests. */
export function makeTestPki(): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waybill-pki-'));
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const read = (name: string): KeyPair => ({
    certPem: fs.readFileSync(path.join(dir, `${name}.pem`), 'utf8'),
    keyPem: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8'),
  });
  const authority = (name: string, cn: string) =>
    ssl('req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${cn}`);
  const signed = (name: string, ca: string, cn: string, ext: string) => {
    ssl('req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
  };
  try {
    authority('ca', 'Test ERP CA');
    authority('other-ca', 'Unknown CA');
    authority('self', 'localhost');
    signed('server', 'ca', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
    signed('client', 'ca', 'waybill-client', 'extendedKeyUsage=clientAuth\n');
    signed('stranger', 'other-ca', 'stranger-client', 'extendedKeyUsage=clientAuth\n');
    return {
      ca: read('ca'),
      server: read('server'),
      client: read('client'),
      strangerClient: read('stranger'),
      selfSigned: read('self'),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
