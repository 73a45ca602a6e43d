import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

const MAX_BODY_BYTES = 1024 * 1024;
const OUTAGE_ANSWER = JSON.stringify({
  error: 'maintenance',
  message: 'ERP down for planned maintenance, try again later',
});

export interface ErpTally {
  verified: number;
  refused: number;
  rejected: number;
}

/** What the ERP shows of a push: read from the body as sent (trusted only once verified). */
function describePush(body: string): { type: string; key: string; status: string; sequence: string; note: string } {
  let envelope: any;
  try {
    envelope = JSON.parse(body);
  } catch {
    return { type: '(not JSON)', key: '-', status: '-', sequence: '-', note: '' };
  }
  const data = envelope?.data ?? {};
  const note =
    envelope?.type === 'shipment.tracking_updated'
      ? [data.trackingEvent?.code, data.trackingEvent?.location?.city].filter(Boolean).join(' ')
      : envelope?.type === 'shipment.exception'
        ? (data.statusReason ?? '')
        : envelope?.type === 'shipment.delivered'
          ? `signed by ${data.proofOfDelivery?.signedBy ?? 'nobody'}`
          : data.previousStatus
            ? `from ${data.previousStatus}`
            : '';
  const key = data.orderNumber ?? data.shipmentNumber;
  return {
    type: String(envelope?.type ?? '?'),
    key: key === undefined ? '-' : String(key),
    status: String(data.status ?? '-'),
    // Per order or shipment: what an ERP compares to drop a stale update.
    sequence: key === undefined || envelope?.sequence === undefined ? '-' : `#${envelope.sequence}`,
    note,
  };
}

/**
 * The ERP side of the demo: a loopback endpoint that verifies every push with the
 * `standardwebhooks` library, as an ERP integration would, and prints one line per push. During
 * an outage it answers 503 without looking, like an ERP down for maintenance.
 */
export class DemoErp {
  readonly tally: ErpTally = { verified: 0, refused: 0, rejected: 0 };
  /** While true, every push is answered 503. */
  outage = false;
  url = '';
  private verifier: Webhook | undefined;
  private readonly refusedIds = new Set<string>();
  private readonly server: http.Server;

  constructor(private readonly print: (line: string) => void) {
    this.server = http.createServer((req, res) => this.receive(req, res));
  }

  async start(port: number): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/erp/waybill`;
    return this.url;
  }

  /** The subscription's signing secret (`whsec_…`), from the POST /v1/webhooks answer. */
  useSecret(secret: string): void {
    this.verifier = new Webhook(secret);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private receive(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers['webhook-id'] ?? '');
      const push = describePush(body);
      if (this.outage) {
        this.tally.refused++;
        this.refusedIds.add(id);
        this.report(push, '503 refused (outage)');
        res.writeHead(503, { 'content-type': 'application/json' }).end(OUTAGE_ANSWER);
        return;
      }
      try {
        if (!this.verifier) throw new Error('no signing secret yet');
        this.verifier.verify(body, req.headers as Record<string, string>);
      } catch (error) {
        this.tally.rejected++;
        this.report(push, `REJECTED (${error instanceof Error ? error.message : String(error)})`);
        res.writeHead(401).end();
        return;
      }
      this.tally.verified++;
      this.report(push, this.refusedIds.has(id) ? 'verified (retry)' : 'verified');
      res.writeHead(204).end();
    });
  }

  private report(push: ReturnType<typeof describePush>, verdict: string): void {
    const time = new Date().toTimeString().slice(0, 8);
    const note = push.note ? `  ${push.note}` : '';
    this.print(
      `      ERP ${time}  ${push.type.padEnd(26)} ${push.key.padEnd(8)} ${push.status.padEnd(17)} ${push.sequence.padEnd(4)} ${verdict}${note}`,
    );
  }
}
