import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Sources the built service, scripts and settings screen come from. */
const SOURCES = ['src', 'web/src', 'scripts', 'client', 'migrations', 'bench'];
const BUILT = ['dist/src/main.js', 'dist/scripts/demo.js', 'dist/settings/index.html'];

function newest(dir: string): number {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
  }
  return latest;
}

/**
 * Some suites run the built service, demo and screen (dist/). CI builds once before its passes;
 * a newcomer's `npm test`, or one after an edit, builds here when dist/ is missing or older than
 * its sources. A direct `npx vitest run <file>` does not build (build first when it needs dist/).
 */
export function ensureBuilt(): void {
  if (process.env.npm_lifecycle_event !== 'test') return;
  const builtAt = Math.min(...BUILT.map((file) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : 0)));
  const changedAt = Math.max(...SOURCES.filter((dir) => fs.existsSync(dir)).map(newest));
  if (builtAt > changedAt) return;
  console.log(builtAt === 0 ? 'dist/ is missing: npm run build' : 'sources changed since the build: npm run build');
  execSync('npm run build --silent', { stdio: 'inherit' });
}
