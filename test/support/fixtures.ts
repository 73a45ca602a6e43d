let counter = 0;
const unique = () => `${Date.now().toString(36)}-${(counter++).toString(36)}`;

export function orderBody(overrides: Record<string, unknown> = {}) {
  return {
    orderNumber: `SO-${unique()}`,
    externalRef: 'PO-88231',
    customer: { name: 'Acme Retail GmbH', ref: 'C-42' },
    shipFrom: { name: 'DC Hamburg', street: 'Am Kaiserkai 1', city: 'Hamburg', postalCode: '20457', country: 'DE' },
    shipTo: { name: 'Store Munich', street: 'Marienplatz 8', city: 'Munich', postalCode: '80331', country: 'DE' },
    requestedPickupAt: '2026-11-23T08:00:00.000Z',
    requestedDeliveryAt: '2026-11-25T16:00:00.000Z',
    lines: [{ sku: 'PAL-EUR-01', description: 'Euro pallet', quantity: 4, unit: 'PLT', weightKg: 1480 }],
    notes: 'Dock 4',
    ...overrides,
  };
}

export function shipmentBody(overrides: Record<string, unknown> = {}) {
  return {
    shipmentNumber: `SH-${unique()}`,
    carrier: { name: 'DHL Freight', scac: 'DHLF' },
    mode: 'ltl',
    serviceLevel: 'standard',
    trackingNumber: `JJD${unique()}`,
    packages: [{ reference: 'PLT-1', weightKg: 370, lengthCm: 120, widthCm: 80, heightCm: 150 }],
    ...overrides,
  };
}
