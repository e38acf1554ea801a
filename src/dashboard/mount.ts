/**
 * The live dashboard, `GET /` (CONTRACT §6). The page script is page.ts with
 * the client SDK, bundled for the browser by esbuild on the first request and
 * kept for the life of the server: no build step between a clone and the page.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Hono } from 'hono';
import { DASHBOARD_CSP, DASHBOARD_HTML, DASHBOARD_SCRIPT_PATH } from './page-html.js';

const PAGE_SCRIPT = fileURLToPath(new URL('./page.ts', import.meta.url));

async function bundlePageScript(): Promise<string> {
  const result = await build({
    entryPoints: [PAGE_SCRIPT],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error('esbuild produced no dashboard bundle');
  return output.text;
}

export function mountDashboard(app: Hono): void {
  // One bundle per server, built once; a failed build is retried on the next request.
  let bundle: Promise<string> | null = null;
  app.get('/', (c) => {
    c.header('content-security-policy', DASHBOARD_CSP);
    c.header('cache-control', 'no-cache');
    return c.html(DASHBOARD_HTML);
  });
  app.get(DASHBOARD_SCRIPT_PATH, async (c) => {
    bundle ??= bundlePageScript().catch((error: unknown) => {
      bundle = null;
      throw error;
    });
    return c.body(await bundle, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' });
  });
}
