/**
 * Module boundaries (npm run lint). The domain publishes events; webhooks know only events, so the
 * webhook module can be lifted into another NestJS app. See ARCHITECTURE.md, "Boundaries".
 */
const MODULES = '^src/(tenancy|orders|shipments|events|webhooks|settings|health|metrics)/';
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No import cycles.', from: {}, to: { circular: true } },
    {
      name: 'domain-not-webhooks',
      severity: 'error',
      comment: 'orders/ and shipments/ never import webhooks/: they publish events.',
      from: { path: '^src/(orders|shipments)/' },
      to: { path: '^src/webhooks/' },
    },
    {
      name: 'webhooks-not-domain',
      severity: 'error',
      comment: 'webhooks/ never imports orders/ or shipments/: it knows events only.',
      from: { path: '^src/webhooks/' },
      to: { path: '^src/(orders|shipments)/' },
    },
    {
      name: 'events-not-domain',
      severity: 'error',
      comment: 'events/ imports neither the domain nor webhooks; shared vocabularies live in events/.',
      from: { path: '^src/events/' },
      to: { path: '^src/(orders|shipments|webhooks)/' },
    },
    {
      name: 'tenancy-not-webhooks',
      severity: 'error',
      comment: 'tenancy/ never imports webhooks/: other credential kinds register with BearerCredentials.',
      from: { path: '^src/tenancy/' },
      to: { path: '^src/webhooks/' },
    },
    {
      name: 'database-is-a-leaf',
      severity: 'error',
      comment: 'database/ imports no capability module: each module registers its own entities.',
      from: { path: '^src/database/' },
      to: { path: MODULES },
    },
    {
      name: 'web-not-src',
      severity: 'error',
      comment: 'The settings screen talks to the API through the generated client, never to src/.',
      from: { path: '^web/' },
      to: { path: '^src/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js', '.mjs', '.d.ts'] },
  },
};
