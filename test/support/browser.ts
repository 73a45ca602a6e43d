import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import axe from 'axe-core';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Debian's package; CHROMIUM_PATH points elsewhere. */
export const DEFAULT_CHROMIUM_PATH = '/usr/bin/chromium';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SCREENSHOT_DIR = path.join(projectRoot, 'test-artifacts', 'screenshots');

/** Where Chromium is, or why the browser suite cannot run. */
export function findChromium(): { path: string } | { missing: string } {
  const candidate = process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM_PATH;
  if (existsSync(candidate)) return { path: candidate };
  return { missing: `browser suite skipped: Chromium not found at ${candidate} (apt-get install chromium)` };
}

export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export interface AxeViolation {
  id: string;
  impact: string;
  help: string;
  helpUrl: string;
  nodes: Array<{ target: string; html: string; summary: string }>;
}

/**
 * Runs axe-core in the page and answers the serious and critical violations. The library is
 * evaluated through the DevTools protocol, which the page's CSP (script-src 'self', no eval)
 * does not govern; `addScriptTag` with inline content would be refused by it.
 */
export async function seriousA11yViolations(page: Page): Promise<AxeViolation[]> {
  const loaded = await page.evaluate('typeof window.axe === "object"');
  if (!loaded) await page.evaluate(axe.source);
  if (!(await page.evaluate('typeof window.axe?.run === "function"')))
    throw new Error('axe-core did not load in the page');
  const violations = (await page.evaluate(`
    window.axe.run(document, { resultTypes: ['violations'] }).then((results) =>
      results.violations
        .filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          helpUrl: v.helpUrl,
          nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 300), summary: n.failureSummary || '' })),
        })),
    )
  `)) as AxeViolation[];
  return violations;
}

/** One readable line per violated rule and node, for an assertion message. */
export function formatViolations(violations: AxeViolation[]): string {
  return violations
    .map(
      (v) =>
        `${v.impact} ${v.id}: ${v.help} (${v.helpUrl})\n${v.nodes.map((n) => `    ${n.target}  ${n.html}\n      ${n.summary.replace(/\n/g, '\n      ')}`).join('\n')}`,
    )
    .join('\n');
}

/** Saves a full-page PNG to test-artifacts/screenshots/<name>.png and answers its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

/** Whether the page scrolls sideways (wider than its viewport). */
export async function horizontalOverflow(page: Page): Promise<{ scrollWidth: number; innerWidth: number } | undefined> {
  const size = (await page.evaluate(
    '({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth })',
  )) as {
    scrollWidth: number;
    innerWidth: number;
  };
  return size.scrollWidth > size.innerWidth ? size : undefined;
}

/**
 * Records every request the pages of the attached contexts make, and what the browser refused
 * or threw, so a suite can assert that nothing left the service origin and no CSP report fired.
 */
export class RequestRecorder {
  readonly urls: string[] = [];
  readonly pageErrors: string[] = [];
  readonly cspViolations: string[] = [];

  attach(context: BrowserContext): BrowserContext {
    context.on('request', (request) => this.urls.push(request.url()));
    const watch = (page: Page) => {
      page.on('pageerror', (error) => this.pageErrors.push(`${page.url()}: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error' && /Content Security Policy/i.test(message.text()))
          this.cspViolations.push(`${page.url()}: ${message.text()}`);
      });
      page.on('websocket', (socket) => this.urls.push(socket.url()));
    };
    for (const page of context.pages()) watch(page);
    context.on('page', watch);
    return context;
  }

  /** Requests to anywhere but `origin` (data:, blob: and about: stay in the page). */
  outside(origin: string): string[] {
    return this.urls.filter((url) => {
      if (/^(data|blob|about):/.test(url)) return false;
      try {
        return new URL(url).origin !== origin;
      } catch {
        return true;
      }
    });
  }
}
